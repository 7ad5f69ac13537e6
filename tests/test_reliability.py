"""Hostile inputs, crashes, interruptions, concurrent runs and full disks lose nothing."""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from colorize_cli.files.claims import CLAIM_MARK, remove_temps, try_claim
from colorize_cli.files.formats import is_image_name
from colorize_cli.files.read import ReadError, read_image
from colorize_cli.files.write import HOST, TEMP_MARK, temp_path

from conftest import photo_like, run_cli, save_gray, tree_snapshot

IS_ROOT = os.geteuid() == 0


def _png_bytes(h=64, w=80, seed=0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.rint(photo_like(h, w, seed) * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _bomb_png(side: int = 60_000) -> bytes:
    """A tiny PNG whose header claims side x side pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith((TEMP_MARK, CLAIM_MARK))]


def _assert_all_outputs_complete(root: Path) -> int:
    """Every image-named file under ``root`` decodes to the end; returns how many."""
    n = 0
    for p in root.rglob("*"):
        if p.is_file() and is_image_name(p.name):
            with Image.open(p) as im:
                im.load()
            n += 1
    return n


def make_hostile_corpus(root: Path) -> tuple[list[str], list[str]]:
    """Write a corpus of valid-but-unusual and broken files; return (good, bad) names."""
    root.mkdir(parents=True)
    g = np.rint(photo_like(60, 90) * 255).astype(np.uint8)
    good = {
        "with space.png": lambda p: Image.fromarray(g).save(p),
        "fôto ü.jpg": lambda p: Image.fromarray(g).save(p),
        "UPPER.JPG": lambda p: Image.fromarray(g).save(p, "JPEG"),
        "Upper.TIFF": lambda p: Image.fromarray(g).save(p, "TIFF"),
        "palette.png": lambda p: Image.fromarray(g).convert("P").save(p),
        "alpha.png": lambda p: Image.fromarray(np.stack([g, g], -1), "LA").save(p),
        "cmyk.jpg": lambda p: Image.fromarray(g).convert("CMYK").save(p),
        "rgb_really_grey.png": lambda p: Image.fromarray(np.stack([g] * 3, -1)).save(p),
        "sixteen.tif": lambda p: Image.fromarray(g.astype(np.uint16) * 257).save(p),
        "dir.png/inside.png": lambda p: Image.fromarray(g).save(p),
    }
    for name, make in good.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        make(root / name)
    rot = Image.fromarray(g)
    exif = rot.getexif()
    exif[0x0112] = 8
    rot.save(root / "rotated.jpg", exif=exif.tobytes())
    good["rotated.jpg"] = None

    png = _png_bytes()
    jpg = io.BytesIO()
    Image.fromarray(g).save(jpg, "JPEG")
    tif = io.BytesIO()
    Image.fromarray(g).save(tif, "TIFF")
    bad = {
        "empty.jpg": b"",
        "truncated.jpg": jpg.getvalue()[: len(jpg.getvalue()) // 2],
        "truncated.png": png[: len(png) // 2],
        "truncated.tif": tif.getvalue()[: len(tif.getvalue()) // 2],
        "text.png": b"hello, I am a text file\n" * 20,
        "random.tif": np.random.default_rng(0).bytes(5000),
        "bomb.png": _bomb_png(),
    }
    for name, data in bad.items():
        (root / name).write_bytes(data)
    tifffile.imwrite(root / "complex.tif", np.zeros((8, 8), np.complex64))
    (root / "self loop.jpg").symlink_to(root / "self loop.jpg")
    os.mkfifo(root / "fifo.png")
    (root / "loopdir").symlink_to(root, target_is_directory=True)
    (root / "notes.txt").write_text("not an image")
    return sorted(good), sorted([*bad, "complex.tif", "self loop.jpg", "fifo.png", "loopdir"])


def test_hostile_corpus_reports_every_bad_file_and_colours_every_good_one(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    good, bad = make_hostile_corpus(src)
    before = tree_snapshot(src)
    manifest = tmp_path / "m.jsonl"
    r = run_cli(src, out, "--manifest", manifest)
    assert r.returncode == 1, r.stderr
    failed_lines = [ln for ln in r.stderr.splitlines() if ln.startswith("failed ")]
    for name in bad:
        hits = [ln for ln in failed_lines if f"{name}:" in ln]
        assert len(hits) == 1, (name, r.stderr)
        assert len(hits[0].split(": ", 1)[1]) > 5, "a reason is given"
    assert len(failed_lines) == len(bad)
    for name in good:
        assert (out / name).is_file(), (name, r.stderr)
    assert _assert_all_outputs_complete(out) == len(good)
    assert not _leftovers(out)
    assert tree_snapshot(src) == before
    recs = [json.loads(x) for x in manifest.read_text().splitlines()]
    counts = {s: sum(x["status"] == s for x in recs) for s in ("done", "failed", "ignored")}
    assert counts == {"done": len(good), "failed": len(bad), "ignored": 1}
    assert f"{len(good)} done, 0 skipped, {len(bad)} failed, 1 ignored" in r.stderr
    assert "bomb.png" in r.stderr and "megapixel" in r.stderr


def _without_root_file_powers() -> None:
    """In the child, before exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the
    bounding set, so that even root is held to file permissions (tests run as root here)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _run_held_to_permissions(*args) -> subprocess.CompletedProcess:
    return run_cli(*args, preexec_fn=_without_root_file_powers if IS_ROOT else None)


def test_unreadable_file_is_reported_and_the_rest_done(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    save_gray(src / "ok.png")
    save_gray(src / "secret.png", seed=2)
    (src / "secret.png").chmod(0o000)
    r = _run_held_to_permissions(src, out)
    assert r.returncode == 1, r.stderr
    assert "secret.png: permission denied" in r.stderr.lower()
    assert (out / "ok.png").is_file() and not (out / "secret.png").exists()


def test_unwritable_output_is_a_clear_early_error(tmp_path):
    save_gray(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    r = _run_held_to_permissions(tmp_path / "in", out)
    assert r.returncode == 2
    assert "cannot write to" in r.stderr and "ermission denied" in r.stderr
    assert list(out.iterdir()) == []


@pytest.fixture
def tiny_disk(tmp_path):
    """A 300 KiB filesystem, so that writes really fail with ENOSPC."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_full_disk_stops_early_with_nothing_partial(tmp_path, tiny_disk):
    src = tmp_path / "in"
    for i in range(40):  # ~60 KB of PNG each: the disk holds a few
        save_gray(src / f"img_{i:02d}.png", 200, 260, seed=i)
    r = run_cli(src, tiny_disk / "out", "--format", "tif")
    assert r.returncode == 1, r.stderr
    assert "stopped early" in r.stderr and "no space left" in r.stderr.lower()
    done = _assert_all_outputs_complete(tiny_disk / "out")
    assert 0 < done < 40
    assert "not attempted" in r.stderr
    assert r.stderr.count("failed ") < 10, "stops rather than failing file after file"
    assert not _leftovers(tiny_disk / "out")


def test_a_claim_that_cannot_be_written_is_not_left_behind(tiny_disk):
    """The claim's file is made (an inode) before its few bytes are written (a block): on a
    full disk the second fails, and the empty claim must go with the error (found in CI,
    where a full disk once stopped the run at that moment)."""
    fd = os.open(tiny_disk / "filler", os.O_CREAT | os.O_WRONLY)
    with pytest.raises(OSError, match="No space left"):
        while True:
            os.write(fd, b"\0" * 4096)
    os.close(fd)
    with pytest.raises(OSError, match="No space left"):
        try_claim(tiny_disk / "out" / "a.png")
    assert not _leftovers(tiny_disk)


def _start(src: Path, out: Path, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "colorize_cli",
            str(src),
            str(out),
            "--batch-size",
            "2",
            *map(str, extra),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_outputs(out: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if out.exists() and sum(1 for p in out.rglob("*.png")) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"run ended before {n} outputs: {proc.stderr.read()}")
        time.sleep(0.02)
    pytest.fail("no outputs appeared")


@pytest.fixture
def forty_images(tmp_path):
    src = tmp_path / "in"
    for i in range(40):
        save_gray(src / f"f_{i}.png", 240, 320, seed=i)
    return src


def test_sigkill_leaves_only_complete_files_and_a_rerun_finishes(tmp_path, forty_images):
    out = tmp_path / "out"
    proc = _start(forty_images, out)
    _wait_for_outputs(out, 3, proc)
    proc.kill()
    proc.wait()
    finished = _assert_all_outputs_complete(out)
    assert finished < 40, "the kill came too late to test anything"
    r = run_cli(forty_images, out)
    assert r.returncode == 0, r.stderr
    assert f"{40 - finished} done, {finished} skipped, 0 failed" in r.stderr
    assert _assert_all_outputs_complete(out) == 40
    assert not _leftovers(out), "temporary files and claims of the killed run are cleaned"


def test_ctrl_c_stops_promptly_with_summary_and_exit_130(tmp_path, forty_images):
    out = tmp_path / "out"
    manifest = tmp_path / "m.jsonl"
    proc = _start(forty_images, out, "--manifest", manifest)
    _wait_for_outputs(out, 2, proc)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.time() - t0 < 10
    assert proc.returncode == 130, err
    assert "interrupted" in err and "summary:" in err
    assert not _leftovers(out)
    n = _assert_all_outputs_complete(out)
    done = [json.loads(x) for x in manifest.read_text().splitlines()]
    assert sum(x["status"] == "done" for x in done) == n < 40


def test_a_dead_writers_temporary_files_go_and_nothing_else(tmp_path):
    """When a Ray film worker dies (on any node: its pid means nothing here), the driver,
    which holds the frames' claims, removes what the worker was writing: the temporary
    files of those frames, whatever pid wrote them, and nothing else."""
    out = tmp_path / "out" / "reel"
    out.mkdir(parents=True)
    frames = [out / f"frame_{i:04d}.png" for i in range(3)]
    frames[0].write_bytes(b"complete")
    dead = [
        out / f".frame_0001.png.{os.getpid()}{TEMP_MARK}",
        out / f".frame_0002.png.999999{TEMP_MARK}",
        temp_path(frames[2]),
    ]
    others = [
        out / f".frame_0003.png.123{TEMP_MARK}",  # another frame: not this film's to clean
        out / ".frame_0001.png.notes",  # not one of ours
        tmp_path / "out" / f".frame_0001.png.{os.getpid()}{TEMP_MARK}",  # another folder
    ]
    for p in dead + others:
        p.write_bytes(b"partial")
    remove_temps(frames[1:])
    assert [p for p in dead if p.exists()] == []
    assert all(p.exists() for p in others) and frames[0].read_bytes() == b"complete"


def test_two_runs_at_once_write_each_output_once(tmp_path, forty_images):
    out = tmp_path / "out"
    m1, m2 = tmp_path / "m1.jsonl", tmp_path / "m2.jsonl"
    p1 = _start(forty_images, out, "--manifest", m1)
    p2 = _start(forty_images, out, "--manifest", m2)
    e1, e2 = p1.communicate(timeout=300)[1], p2.communicate(timeout=300)[1]
    assert p1.returncode == 0 and p2.returncode == 0, (e1, e2)
    assert _assert_all_outputs_complete(out) == 40
    done = [
        json.loads(x)["output"]
        for m in (m1, m2)
        for x in m.read_text().splitlines()
        if json.loads(x)["status"] == "done"
    ]
    assert len(done) == len(set(done)) == 40, "every output written exactly once"
    assert not _leftovers(out)


_SEEDS = [_png_bytes(16, 16), _bomb_png(40_000)]
_buf = io.BytesIO()
Image.fromarray(np.rint(photo_like(16, 16) * 255).astype(np.uint8)).save(_buf, "JPEG")
_SEEDS.append(_buf.getvalue())


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    seed=st.sampled_from(_SEEDS),
    cuts=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
    truncate=st.integers(8, 2000),
)
def test_reader_never_fails_except_with_read_error(tmp_path_factory, seed, cuts, truncate):
    data = bytearray(seed[:truncate])
    for pos, val in cuts:
        if pos < len(data):
            data[pos] = val
    path = tmp_path_factory.mktemp("fuzz") / "x.png"
    path.write_bytes(bytes(data))
    try:
        d = read_image(path)
    except ReadError as exc:
        assert str(exc)
    else:
        assert d.gray.dtype == np.float32 and d.gray.ndim == 2


def test_another_machines_claims_and_temporary_files_are_left_alone(tmp_path):
    """Runs on two machines sharing OUT (a cluster's storage): a claim or temporary file
    of the other machine names a pid that means nothing here, so it is trusted (the
    output skipped, the file kept) until an hour old; this machine's dead writers' are
    cleaned as before."""
    src, out = tmp_path / "in", tmp_path / "out"
    save_gray(src / "a.png", 48, 48)
    save_gray(src / "b.png", 48, 48, seed=1)
    out.mkdir()
    elsewhere = "4242-0a1b2c3d"  # a pid on a machine whose id is not ours
    (out / f".a.png{CLAIM_MARK}").write_text(elsewhere)
    theirs = out / f".b.png.{elsewhere}{TEMP_MARK}"
    theirs.write_bytes(b"being written over there")
    mine_dead = out / f".c.png.999999-{HOST}{TEMP_MARK}"
    mine_dead.write_bytes(b"left by a killed run here")
    old = out / f".d.png.{elsewhere}{TEMP_MARK}"
    old.write_bytes(b"left over there long ago")
    os.utime(old, (time.time() - 2 * 3600,) * 2)
    r = run_cli(src, out)
    assert r.returncode == 0, r.stderr
    assert "1 done, 1 skipped" in r.stderr
    assert not (out / "a.png").exists() and (out / "b.png").exists()
    assert theirs.exists() and not mine_dead.exists() and not old.exists()
    assert (out / f".a.png{CLAIM_MARK}").read_text() == elsewhere
