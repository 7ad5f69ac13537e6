"""The Ray engine: the same jobs through the same stages, as a Ray Data pipeline that can
span a cluster.

    jobs still to do (claimed here, on the driver)
      -> decode + grey-to-L + thumbnail          CPU tasks        (running/stages.prepare)
      -> the colorizer, fixed-size batches        an actor pool    (model/colorizer)
      -> decode again, guided upsampling, RGB,    CPU tasks        (running/stages)
         atomic write
      -> one row per job back to the driver: its Result

Only the small thumbnails travel to the model actors and only the small a/b maps come
back: full-resolution pixels never enter Ray's object store (the write task decodes the
photo again from the shared storage, a few milliseconds against shipping megabytes).
Ray Data streams the rows with back-pressure, so memory holds a few batches whatever the
archive's size; a task on a dying worker is retried by Ray, and the output stays atomic
because every write goes to a temporary file first. Paths must be on storage that every
node sees under the same name. Films (frame sequences, video files) stay with the local
engine: their frames must be coloured in order through one temporal state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Options, install_extra
from ..files import claims
from ..files.discover import Job
from ..files.formats import is_video_name
from ..results import DONE, FAILED, SKIPPED, Result
from .claim import Run, begin, ends_the_run


class EngineError(Exception):
    """The Ray engine cannot take this run (Ray missing, or films): a usage error."""


def _job(row: dict[str, Any]) -> Job:
    return Job(
        Path(row["source"]),
        Path(row["dest"]),
        Path(row["reference"]) if row["reference"] else None,
        Path(row["hints"]) if row["hints"] else None,
    )


def _decode(row: dict[str, Any], input_size: int) -> dict[str, Any]:
    """CPU task: the model's small input for one photo, or why it cannot be read."""
    from .stages import prepare, read_failure

    t0 = time.perf_counter()
    try:
        thumb = prepare(_job(row), input_size).thumb
        row["error"] = ""
    except Exception as exc:  # reported by the driver, the batch goes on
        thumb = np.zeros((input_size, input_size), np.float32)
        row["error"] = read_failure(exc)
    row["thumb"] = thumb
    row["seconds"] = time.perf_counter() - t0
    return row


class _Model:
    """Actor: the colorizer loaded and checked once, then batch after batch of thumbnails."""

    def __init__(self, options: Options) -> None:
        from ..model.colorizer import Colorizer
        from .stages import ReferenceShifts

        self.colorizer = Colorizer(options.weights, options.device, options.temperature)
        self._shifts = ReferenceShifts(self.colorizer, options.reference_strength)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from ..model.batch import stack_l, stack_shifts

        thumbs = [np.asarray(t, np.float32) for t in batch["thumb"]]
        refs = [self._shifts(Path(str(r))) if r else None for r in batch["reference"]]
        shift = stack_shifts(refs, len(self.colorizer.centres))
        ab = self.colorizer.predict_ab(stack_l(thumbs), shift)
        out = {k: v for k, v in batch.items() if k != "thumb"}
        out["ab"] = ab.numpy()
        return out


def _write(row: dict[str, Any], options: Options, input_size: int) -> dict[str, Any]:
    """CPU task: decode the photo again, colour it with its a/b, write it atomically."""
    import torch

    from .stages import colour_and_write, prepare, read_failure

    t0 = time.perf_counter()
    row["status"], row["reason"], row["fatal"], row["hints_used"] = DONE, "", False, 0
    if row["error"]:
        row["status"], row["reason"] = FAILED, row["error"]
        return row
    job = _job(row)
    try:
        prepared = prepare(job, input_size)
        ab = torch.from_numpy(np.asarray(row["ab"], np.float32))
        fmt, overwrite = options.format, options.overwrite
        colour_and_write(job, prepared.decoded, ab, prepared.hints, fmt, overwrite)
        row["hints_used"] = len(prepared.hints)
    except FileExistsError:
        row["status"], row["reason"] = SKIPPED, "output appeared meanwhile (another run?)"
    except OSError as exc:
        row["status"] = FAILED
        row["reason"] = f"cannot write output: {exc.strerror or exc}"
        row["fatal"] = ends_the_run(exc)
    except Exception as exc:  # one bad file never stops the batch
        row["status"], row["reason"] = FAILED, read_failure(exc)
    row["seconds"] += time.perf_counter() - t0  # decode + colour + write, not the model
    return row


def _connect(address: str | None) -> None:
    import logging
    import os

    import ray

    if ray.is_initialized():
        return
    # Ray's own notices (deprecations, actor restarts) are not the user's business here:
    # failures come back as rows and are reported like the local engine's.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    quiet = {"log_to_driver": False, "logging_level": "ERROR", "include_dashboard": False}
    if address:
        ray.init(address=address, **quiet)
    else:  # a local instance: one machine is the smallest cluster
        ray.init(**quiet)


def _pool(options: Options) -> dict[str, Any]:
    """One model actor per GPU where the cluster has GPUs; otherwise one, on the CPU (it
    uses every core of its node through torch)."""
    import ray

    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus and options.device != "cpu":
        return {"compute": ray.data.ActorPoolStrategy(min_size=1, max_size=gpus), "num_gpus": 1}
    return {"compute": ray.data.ActorPoolStrategy(size=1), "num_cpus": 1}


class RayEngine(Run):
    """Runs jobs on Ray and reports one Result each, like the local pipeline."""

    def __init__(
        self,
        options: Options,
        input_size: int,
        on_result: Callable[[Result], None],
        stop: threading.Event,
    ) -> None:
        self.options, self.input_size = options, input_size
        self.on_result = on_result
        super().__init__(stop)

    def run(self, jobs: list[Job]) -> None:
        try:
            import ray.data
        except ImportError:
            raise EngineError(f"--engine ray needs Ray: {install_extra('ray')}") from None
        films = [j for j in jobs if j.sequence is not None or is_video_name(j.source.name)]
        if films:
            raise EngineError(
                f"--engine ray colours photos only, and {films[0].source} is part of a film "
                "(a frame sequence or a video, coloured in order with one temporal state): "
                "use the local engine, or --no-sequence to colour frames one by one"
            )
        mine = [
            j for j in jobs if begin(j, self.options.overwrite, self.on_result, self.write_error)
        ]
        if not mine or self.stop.is_set():
            for job in mine:
                claims.release(job.dest)
            return
        try:
            _connect(self.options.ray_address)
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False  # ours counts finished files
            ctx.print_on_execution_start = False
            rows = [
                {
                    "source": str(j.source),
                    "dest": str(j.dest),
                    "reference": str(j.reference) if j.reference else "",
                    "hints": str(j.hints) if j.hints else "",
                }
                for j in mine
            ]
            ds = ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // 8))
            # half a CPU per decode: two per core (they wait on storage), and not fused
            # into the model actors, which would then decode in series
            ds = ds.map(_decode, fn_kwargs={"input_size": self.input_size}, num_cpus=0.5)
            ds = ds.map_batches(
                _Model,
                fn_constructor_args=(self.options,),
                batch_size=self.options.batch_size,
                batch_format="numpy",
                **_pool(self.options),
            )
            ds = ds.map(_write, fn_kwargs={"options": self.options, "input_size": self.input_size})
            pending = {str(j.dest): j for j in mine}
            for row in ds.iter_rows():
                job = pending.pop(row["dest"])
                claims.release(job.dest)
                reason = row["reason"] or None
                self.on_result(
                    Result(
                        job.source,
                        job.dest,
                        row["status"],
                        reason,
                        float(row["seconds"]),
                        reference=job.reference if row["status"] == DONE else None,
                        hints=int(row["hints_used"]),
                    )
                )
                if row["fatal"]:
                    self.fatal = reason
                    self.stop.set()
                if self.stop.is_set():
                    break
        finally:
            for job in mine:
                claims.release(job.dest)
