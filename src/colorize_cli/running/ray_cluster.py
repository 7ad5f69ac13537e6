"""Joining a Ray cluster, watching it while a run works, and leaving it, so that a
cluster that misbehaves ends a run promptly and says why in one line.

Ray itself waits: a driver pointed at an address where nothing listens retries for
minutes, and one whose head goes away blocks until a timeout deep in its core worker
ends the process without a word. So the address is tried with a plain TCP connection
before Ray is asked, joining runs in a thread that the run can give up on (at
:data:`CONNECT_TIMEOUT_S`, or at a Ctrl-C), and a watcher thread checks the head every
second: :data:`HEAD_LOST_S` without an answer ends the run, and a node that Ray marks
dead is reported with its address.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

CONNECT_TIMEOUT_S = 20.0  # joining a cluster that does not answer ends the run (exit 2)
HEAD_LOST_S = 10.0  # a head unreachable this long mid-run ends the run (exit 1)
WATCH_EVERY_S = 1.0
PROBE_TIMEOUT_S = 3.0


class EngineError(Exception):
    """The Ray engine cannot take this run (Ray missing, no cluster at the address): a
    usage error, before any work."""


@dataclass(frozen=True)
class Node:
    """A Ray node, as Ray names it and as a person finds it."""

    id: str
    address: str  # its IP address
    host: str  # its host name
    port: int = 0  # its raylet's port: what the watch knocks on


def _probe(host: str, port: int) -> str | None:
    """Why nothing answers at ``host:port`` (None when something does)."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _host_port(address: str) -> tuple[str, int] | None:
    """The head to try for ``--ray-address``: ``host:port`` or ``ray://host:port`` as
    given, ``auto`` where Ray finds it; None when it cannot be told (Ray will say)."""
    if address == "auto":
        from ray._private.services import canonicalize_bootstrap_address

        try:
            found = canonicalize_bootstrap_address(address)
        except Exception:  # no running cluster found: ray.init says so itself
            return None
        address = found or ""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    return (host.strip("[]"), int(port)) if host and port.isdigit() else None


def quiet_ray(debug: bool) -> dict:
    """``ray.init`` arguments (and the environment its core worker reads) that keep
    Ray's own messages out of the user's terminal, unless ``debug``."""
    if debug:
        return {"include_dashboard": False}
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return {"log_to_driver": False, "logging_level": "ERROR", "include_dashboard": False}


def connect(address: str | None, stop: threading.Event, debug: bool) -> bool:
    """Join the cluster at ``address`` (or start a local instance); True when this call
    joined it (and the caller leaves it: :func:`leave`). Raises :class:`EngineError`
    with a one-line reason naming the address when nothing answers there, Ray refuses,
    or joining takes :data:`CONNECT_TIMEOUT_S`; returns False, unjoined, when ``stop``
    is set meanwhile (a Ctrl-C), or when Ray was joined already (by a script)."""
    import ray

    if ray.is_initialized():
        return False
    if address:
        head = _host_port(address)
        reason = head and _probe(*head)
        if reason:
            raise EngineError(f"no Ray cluster at {address}: {reason}")
    kwargs = quiet_ray(debug)
    if not address:
        # on this thread: Ray ties the processes it starts to the thread that starts
        # them (they die with it), and a local start does not hang. "local", or Ray
        # joins whatever cluster this machine last started, dead ones included
        ray.init(address="local", **kwargs)
        return True
    outcome: list[BaseException | None] = []

    def join() -> None:
        try:
            ray.init(address=address, **kwargs)
            outcome.append(None)
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)

    thread = threading.Thread(target=join, name="ray-connect", daemon=True)
    thread.start()
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while not outcome and not stop.is_set() and time.monotonic() < deadline:
        thread.join(0.1)
    if not outcome:
        abandon()
        if stop.is_set():
            return False
        raise EngineError(f"no Ray cluster answered at {address} within {CONNECT_TIMEOUT_S:.0f} s")
    if outcome[0] is not None:
        first = str(outcome[0]).strip().splitlines() or [type(outcome[0]).__name__]
        raise EngineError(f"cannot join the Ray cluster at {address}: {first[0]}")
    return True


def leave(head_lost: bool) -> None:
    """Leave the cluster now, while Ray's output is still set aside; after a lost head,
    :func:`abandon` it instead."""
    import ray

    if head_lost:
        abandon()
    else:
        ray.shutdown()


def abandon() -> None:
    """Leave Ray without its shutdown, which waits on a head that no longer answers (or
    a join still trying): the process ends without Ray's exit handler."""
    import ray

    atexit.unregister(ray.shutdown)


def nodes() -> dict[str, Node]:
    """The cluster's live nodes."""
    import ray

    return {
        n["NodeID"]: Node(
            n["NodeID"], n["NodeManagerAddress"], n["NodeManagerHostname"], n["NodeManagerPort"]
        )
        for n in ray.nodes()
        if n["Alive"]
    }


class Watch(threading.Thread):
    """Checks the cluster every second while a run works: ``on_node_lost`` hears of each
    node whose raylet stops answering twice running, or that Ray marks dead (its own
    health checks take tens of seconds), ``on_head_lost`` once the head has not answered
    for :data:`HEAD_LOST_S` (then the watch ends)."""

    def __init__(
        self,
        on_node_lost: Callable[[Node], None],
        on_head_lost: Callable[[str], None],
    ) -> None:
        import ray

        super().__init__(name="ray-watch", daemon=True)
        host, _, port = ray.get_runtime_context().gcs_address.rpartition(":")
        self.head = (host, int(port))
        self.on_node_lost, self.on_head_lost = on_node_lost, on_head_lost
        self.ended = threading.Event()
        self._alive = nodes()
        self._silent: set[str] = set()  # raylets that did not answer the last knock
        self._lost: set[str] = set()  # said already

    def run(self) -> None:
        silent_since: float | None = None
        while not self.ended.wait(WATCH_EVERY_S):
            if _probe(*self.head) is not None:
                silent_since = silent_since or time.monotonic()
                if time.monotonic() - silent_since >= HEAD_LOST_S:
                    self.on_head_lost(f"{self.head[0]}:{self.head[1]}")
                    return
                continue
            silent_since = None
            try:
                now = nodes()
            except Exception:  # the head between answers: the probe decides
                continue
            silent = {i for i, n in now.items() if _probe(n.address, n.port) is not None}
            for node_id, node in self._alive.items():
                if node_id not in now or (node_id in silent and node_id in self._silent):
                    self.on_node_lost(node)
                    self._lost.add(node_id)
            self._silent = silent
            self._alive = {i: n for i, n in now.items() if i not in self._lost}
