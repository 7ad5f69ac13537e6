"""A real multi-node Ray cluster on this machine, for the tests, in a process of its own.

Run as a script, it starts a head (``ray.cluster_utils.Cluster``), prints ``ready
ADDRESS``, then obeys one command a line on its standard input, answering each with a
line: ``add CPUS`` (a worker node; answers its number), ``remove N`` (node N killed, not
stopped gracefully: 0 is the head), ``quit``.

It runs in a session of its own, so every process the cluster starts (GCS, raylets,
agents, workers, those of the driver under test too) shares its process group, and
:meth:`RayNodes.close` ends them all with one signal, whatever state a test left them in.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class RayNodes:
    """The test's handle on the cluster process."""

    def __init__(self, head_cpus: int, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__)), str(head_cpus)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        self.address = self._answer().removeprefix("ready ")

    def _answer(self) -> str:
        line = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError("the Ray cluster process ended")
        return line

    def _say(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return self._answer()

    def add(self, cpus: int) -> int:
        return int(self._say(f"add {cpus}"))

    def remove(self, node: int) -> None:
        self._say(f"remove {node}")

    def close(self) -> None:
        """End every process of the cluster's group, then make sure none is left."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        assert group_gone(self.proc.pid), "processes of the test cluster still running"


def group_gone(pgid: int, timeout: float = 20.0) -> bool:
    """Whether every process of group ``pgid`` has ended (killed ones take a moment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, check=False)
        if found.returncode == 1:  # none matched
            return True
        time.sleep(0.2)
    return False


def _serve(head_cpus: int) -> None:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": head_cpus})
    nodes = [cluster.head_node]
    print("ready", cluster.address, flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "add":
            nodes.append(cluster.add_node(num_cpus=int(arg)))
            cluster.wait_for_nodes()
            print(len(nodes) - 1, flush=True)
        elif command == "remove":
            cluster.remove_node(nodes[int(arg)], allow_graceful=False)
            print("removed", flush=True)
        elif command == "quit":
            break


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
