"""The Ray engine on real multi-node clusters that misbehave: a worker node lost mid-run
(photos, a frame folder and a video), a film's node lost and replaced, an address where
nothing listens, a head that stops mid-run, a Ctrl-C while joining, and the README's
cluster recipe (``ray start`` with a token). Every cluster runs in a process group of its
own and is killed whole at the end (``ray_nodes``)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from ray_nodes import RayNodes, group_gone
from test_film import _grainy_shot, make_video
from test_ray import RAY_ENV, _video_frames, outputs

from conftest import REPO, run_cli, save_gray

pytest.importorskip("ray.data", reason='the Ray extra is not installed: pip install ".[ray]"')

LOSSLESS = ("--video-crf", "0")  # so that videos are held to the photos' bound
LOST = re.compile(r"^node (\S+) lost: (\d+) photos? and (\d+) films? redone", re.M)


@pytest.fixture
def clusters() -> Iterator[list[RayNodes]]:
    """Clusters a test starts; each is killed whole when the test ends, however it ends."""
    started: list[RayNodes] = []
    yield started
    for nodes in started:
        nodes.close()


def _start(clusters: list[RayNodes], head_cpus: int, *workers: int) -> RayNodes:
    nodes = RayNodes(head_cpus, RAY_ENV)
    clusters.append(nodes)
    for cpus in workers:
        nodes.add(cpus)
    return nodes


def _colorize(src: Path, out: Path, *args: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "colorize_cli", src, out, "--engine", "ray", *map(str, args)],
        env={**RAY_ENV, "PYTHONUNBUFFERED": "1"},
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until(ready: Callable[[], bool], proc: subprocess.Popen, what: str) -> None:
    """Until ``ready()`` (the run has got that far), while the run goes on."""
    deadline = time.time() + 300
    while not ready():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() < deadline, f"not after 300 s: {what}"
        time.sleep(0.05)


def _wait_for_files(folder: Path, pattern: str, n: int, proc: subprocess.Popen) -> None:
    _wait_until(lambda: len(list(folder.glob(pattern))) >= n, proc, f"{n} {pattern} in {folder}")


def _coloured_locally(src: Path, dest: Path) -> None:
    """The reference: the same tree through the local engine."""
    local = run_cli(src, dest, *LOSSLESS, env=RAY_ENV)
    assert local.returncode == 0, local.stderr


def _leftovers(root: Path) -> list[str]:
    return [p.name for p in root.rglob(".*")]


def _no_ray_output(stderr: str) -> None:
    """Nothing of Ray's own reached the terminal: no colour codes, no raylet lines, no
    log records."""
    assert "\x1b[" not in stderr
    assert "raylet" not in stderr.lower() and "(pid=" not in stderr
    assert not re.search(r"^\[?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", stderr, re.M), stderr


def _same_pixels(ours: Path, theirs: Path, bound: int = 1) -> int:
    a, b = outputs(ours), outputs(theirs)
    assert sorted(a) == sorted(b)
    for name, pixels in a.items():
        assert np.abs(pixels - b[name]).max() <= bound, name
    return len(a)


def test_a_lost_worker_node_loses_nothing_and_leaves_nothing(
    tmp_path: Path, clusters: list[RayNodes]
) -> None:
    """Photos, a frame folder and a video on a head and a worker; the worker killed once
    a few photos are written. Everything is done anyway, as the local engine does it; one
    line of ours says what the node had; the manifest marks those photos redone; nothing
    of Ray's reaches the terminal and nothing temporary stays in OUT."""
    src = tmp_path / "in"
    for i in range(36):
        save_gray(src / "photos" / f"img_{i:03d}.png", 64, 80, seed=i)
    _grainy_shot(src / "reel", 16)
    make_video(src / "clip.mp4", frames=16, size=(96, 64))
    _coloured_locally(src, tmp_path / "local")
    nodes = _start(clusters, 2, 2)
    out, manifest = tmp_path / "out", tmp_path / "run.jsonl"
    proc = _colorize(src, out, "--ray-address", nodes.address, "--batch-size", "2", "--manifest",
                     manifest, *LOSSLESS)  # fmt: skip
    _wait_for_files(out / "photos", "img_*.png", 4, proc)
    nodes.remove(1)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    _no_ray_output(stderr)
    said = LOST.findall(stderr)
    assert len(said) == 1, stderr
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert [r["status"] for r in records] == ["done"] * len(records) and len(records) == 36 + 17
    # the photos the node had, and any whose finished results it held (Ray runs those
    # again, and finds their outputs written)
    redone = sum(r["redone"] for r in records if r["film"] is None and r["frames"] is None)
    assert redone >= int(said[0][1])
    done = sum(r["redone"] for r in records)
    assert f"53 done ({done} redone)" in stderr if done else "53 done, 0 skipped" in stderr
    assert _leftovers(out) == []
    assert _same_pixels(out, tmp_path / "local") == 36 + 16
    ours, theirs = _video_frames(out / "clip.mp4"), _video_frames(tmp_path / "local" / "clip.mp4")
    assert len(ours) == len(theirs) == 16
    assert max(int(np.abs(a - b).max()) for a, b in zip(ours, theirs, strict=True)) <= 2


def test_a_film_whose_node_is_lost_is_finished_on_the_node_that_replaces_it(
    tmp_path: Path, clusters: list[RayNodes]
) -> None:
    """The head has too few CPUs for a film, so the films (a frame folder and a video)
    run one at a time on the worker; the worker dies while one of them is being written
    and a new node joins (a spot instance replaced). That film is started again there
    from its unfinished frames, the other runs there too: the same frames as the local
    engine's, the restarted film's frames marked redone, and the node's loss said."""
    src = tmp_path / "in"
    _grainy_shot(src / "reel", 40)
    make_video(src / "clip.mp4", frames=48, size=(96, 64))
    _coloured_locally(src, tmp_path / "whole")
    nodes = _start(clusters, 1, 2)
    out, manifest = tmp_path / "out", tmp_path / "run.jsonl"
    proc = _colorize(src, out, "--ray-address", nodes.address, "--manifest", manifest, *LOSSLESS)
    _wait_until(
        lambda: (
            len(list(out.glob("reel/frame_*.png"))) >= 6
            or bool(list(out.glob(".clip.mp4.*.colorize-tmp")))
        ),
        proc,
        "a film being written",
    )
    nodes.remove(1)
    nodes.add(2)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    _no_ray_output(stderr)
    assert [(n, f) for _, n, f in LOST.findall(stderr)] == [("0", "1")], stderr
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(records) == 41 and all(r["status"] == "done" for r in records)
    assert sum(r["redone"] for r in records) > 0
    assert _leftovers(out) == []
    assert _same_pixels(out, tmp_path / "whole") == 40
    ours, theirs = _video_frames(out / "clip.mp4"), _video_frames(tmp_path / "whole" / "clip.mp4")
    assert len(ours) == len(theirs) == 48
    assert max(int(np.abs(a - b).max()) for a, b in zip(ours, theirs, strict=True)) <= 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_where_nothing_listens_ends_the_run_at_once(tmp_path: Path) -> None:
    save_gray(tmp_path / "in" / "a.png", 48, 48)
    address = f"127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    r = run_cli(tmp_path / "in", tmp_path / "out", "--engine", "ray", "--ray-address", address,
                env=RAY_ENV, timeout=60)  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert time.monotonic() - t0 < 30
    assert f"Error: no Ray cluster at {address}: Connection refused" in r.stderr
    _no_ray_output(r.stderr)
    assert list((tmp_path / "out").rglob("*")) == []


def test_a_ctrl_c_while_joining_a_silent_address_exits_130_at_once(tmp_path: Path) -> None:
    """Something listens but never answers (a firewall, a hung head): joining waits, and
    a Ctrl-C meanwhile still ends the run within seconds, leaving nothing."""
    save_gray(tmp_path / "in" / "a.png", 48, 48)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        proc = _colorize(tmp_path / "in", tmp_path / "out", "--ray-address", address)
        time.sleep(8)  # past the knock, into Ray's own joining
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - t0 < 10
    assert "interrupted" in stderr
    _no_ray_output(stderr)
    assert list((tmp_path / "out").rglob("*")) == []


def test_a_head_that_stops_mid_run_ends_the_run_with_its_summary(
    tmp_path: Path, clusters: list[RayNodes]
) -> None:
    src = tmp_path / "in"
    for i in range(60):
        save_gray(src / f"img_{i:03d}.png", 64, 80, seed=i)
    nodes = _start(clusters, 2, 2)
    out = tmp_path / "out"
    proc = _colorize(src, out, "--ray-address", nodes.address, "--batch-size", "2")
    _wait_for_files(out, "img_*.png", 4, proc)
    nodes.remove(0)
    t0 = time.monotonic()
    _, stderr = proc.communicate(timeout=120)
    assert time.monotonic() - t0 < 30, stderr
    assert proc.returncode == 1, stderr
    head = nodes.address.split(":")[0]
    assert re.search(rf"stopped early: lost the Ray cluster at {head}:\d+: its head", stderr)
    summary = re.search(r"summary: (\d+) done, .*?(\d+) not attempted", stderr)
    assert summary is not None, stderr
    _no_ray_output(stderr.split("Ray's own messages:")[0])
    assert _leftovers(out) == []
    done, not_attempted = int(summary[1]), int(summary[2])
    assert done >= 4 and done + not_attempted == 60
    written = sorted(out.glob("img_*.png"))
    assert done <= len(written) <= done + 2  # a write in flight on the worker may land
    for path in written:  # each complete
        Image.open(path).load()


def test_the_readme_cluster_recipe_runs_as_written(tmp_path: Path) -> None:
    """The README's steps, with token authentication as current Ray wants it between
    nodes: a token generated on the head, the head and a second node started with
    ``ray start``, the second given the token, and the command run with ``auto``. Both
    nodes on this machine (as far as one machine allows); each ``ray start --block`` in
    a session of its own, killed whole at the end."""
    ray = str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    env = {**RAY_ENV, "HOME": str(tmp_path / "home"), "RAY_AUTH_MODE": "token"}
    token = subprocess.run([ray, "get-auth-token", "--generate"], env=env, capture_output=True,
                           text=True, check=True).stdout.strip().splitlines()[-1]  # fmt: skip
    assert (tmp_path / "home" / ".ray" / "auth_token").read_text().strip() == token
    head_ip = socket.gethostbyname(socket.gethostname())
    starts = [
        [ray, "start", "--head", f"--port={port}", "--num-cpus=2", "--block"],
        [ray, "start", f"--address={head_ip}:{port}", "--num-cpus=2", "--block"],
    ]
    started = []
    try:
        for i, cmd in enumerate(starts):
            node_env = env if i == 0 else {**env, "HOME": str(tmp_path), "RAY_AUTH_TOKEN": token}
            started.append(
                subprocess.Popen(
                    cmd,
                    env=node_env,
                    start_new_session=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
            deadline = time.time() + 120
            while _nodes_alive(ray, head_ip, port, env) < i + 1:
                assert started[-1].poll() is None, started[-1].communicate()[1][-2000:]
                assert time.time() < deadline, "the node did not join"
                time.sleep(1)
        for i in range(6):
            save_gray(tmp_path / "in" / f"p{i}.png", 48, 64, seed=i)
        r = run_cli(tmp_path / "in", tmp_path / "out", "--engine", "ray", "--ray-address",
                    "auto", env=env, timeout=300)  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert "6 done" in r.stderr
        _no_ray_output(r.stderr)
    finally:
        for proc in started:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            assert group_gone(proc.pid)


def _nodes_alive(ray: str, head_ip: str, port: int, env: dict[str, str]) -> int:
    status = subprocess.run([ray, "status", f"--address={head_ip}:{port}"], env=env,
                            capture_output=True, text=True, check=False)  # fmt: skip
    active = status.stdout.split("Active:")[-1].split("Pending:")[0]
    return active.count("node_") if status.returncode == 0 else 0
