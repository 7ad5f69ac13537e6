"""The Ray engine: the same jobs through the same stages, on Ray, from one machine to a
cluster. Photos run as a Ray Data pipeline; each film is one task.

    photos still to do (claimed here, on the driver)
      -> decode + grey-to-L + thumbnail          CPU tasks        (running/stages.prepare)
      -> the colorizer, fixed-size batches        an actor pool    (model/colorizer)
      -> decode again, guided upsampling, RGB,    CPU tasks        (running/stages)
         atomic write
      -> one row per job back to the driver: its Result

    films (a frame folder or a video file; frames still to do claimed on the driver)
      -> one generator task per film: the local pipeline on one worker, its frames in
         order through one temporal state, each frame's Result streamed back as written

Only the small thumbnails travel to the model actors and only the small a/b maps come
back: full-resolution pixels never enter Ray's object store (the write task decodes the
photo again from the shared storage, a few milliseconds against shipping megabytes).
Ray Data streams the rows with back-pressure, so memory holds a few batches whatever the
archive's size; a task on a dying worker is retried by Ray, and the output stays atomic
because every write goes to a temporary file first. Paths must be on storage that every
node sees under the same name.

A film's frames must pass through one temporal state in order, so a film is never split:
many films run at once across the cluster, each whole on one worker. A two-hour reel is
one task too. Splitting it at its cuts would need a pass over every frame to find them
first, and a part's state must still be warmed up from the frames before it; an archive
of films has parallelism enough in its number of films. A film whose worker dies is
started again (:data:`FILM_ATTEMPTS` in all) on its frames not yet reported: frames
written are complete (atomic writes), a video's partial temporary file is never renamed,
and the frames just before the first one to do warm its state up, as a resumed local run
does, so the outputs are those of an uninterrupted run.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Options, install_extra
from ..files import claims
from ..files.discover import Job
from ..files.formats import is_video_name
from ..files.write import Writer, host_id
from ..results import DONE, FAILED, SKIPPED, Result
from .claim import Run, begin, ends_the_run
from .ray_cluster import EngineError, Node, Watch, connect, leave

__all__ = ["EngineError", "RayEngine", "films_of"]

# A film task's share of a CPU node: its decode, model and write threads. A GPU node gives
# each film task one GPU instead.
FILM_CPUS = 2
FILM_ATTEMPTS = 3  # a film whose worker dies is started again, at most this often in all
CANCEL_WAIT_S = 10.0  # how long a stopped run waits for its cancelled films' workers to die


HEAD_RESOURCE = "node:__internal_head__"  # Ray's mark of the head node
ROWS_WAIT_S = 0.5  # how often the driver looks up from the rows to a stop or a lost node


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


class _Ledger:
    """Actor on the head node: the nodes each photo's stages ran on, so that when a node
    is lost the driver knows which photos it had sent there (Ray Data retries them on
    its own and says nothing)."""

    def __init__(self) -> None:
        self._nodes: dict[str, set[str]] = {}

    def at(self, node: str, dests: list[str]) -> None:
        for dest in dests:
            self._nodes.setdefault(dest, set()).add(node)

    def on(self, node: str) -> list[str]:
        return [dest for dest, nodes in self._nodes.items() if node in nodes]


def _job(row: dict[str, Any]) -> Job:
    return Job(
        Path(row["source"]),
        Path(row["dest"]),
        Path(row["reference"]) if row["reference"] else None,
        Path(row["hints"]) if row["hints"] else None,
    )


def _decode(row: dict[str, Any], input_size: int, ledger: Any) -> dict[str, Any]:
    """CPU task: the model's small input for one photo, or why it cannot be read."""
    from .stages import prepare, read_failure

    ledger.at.remote(_node_id(), [row["dest"]])
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

    def __init__(self, options: Options, ledger: Any) -> None:
        from ..model.colorizer import Colorizer
        from .stages import ReferenceShifts

        self.colorizer = Colorizer(options.weights, options.device, options.temperature)
        self._shifts = ReferenceShifts(self.colorizer, options.reference_strength)
        self._ledger, self._node = ledger, _node_id()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from ..model.batch import stack_l, stack_shifts

        self._ledger.at.remote(self._node, [str(d) for d in batch["dest"]])
        thumbs = [np.asarray(t, np.float32) for t in batch["thumb"]]
        refs = [self._shifts(Path(str(r))) if r else None for r in batch["reference"]]
        shift = stack_shifts(refs, len(self.colorizer.centres))
        L = stack_l(thumbs)
        logits, features = self.colorizer.logits_and_features(L, shift)
        out = {k: v for k, v in batch.items() if k != "thumb"}
        ab = self.colorizer.decode(logits)
        out["ab"] = ab.numpy()
        confidence = self.colorizer.confidence(logits, ab, L)
        out["confidence"] = np.array([np.nan if c is None else c for c in confidence])
        # only a hinted photo carries its features on (16x its a/b); the others an empty
        # array, so the column is ragged, one array per row
        out["features"] = np.empty(len(thumbs), dtype=object)
        for i, hints in enumerate(batch["hints"]):
            out["features"][i] = features[i].cpu().numpy() if hints else np.zeros(0, np.float32)
        return out


def _known(confidence: float) -> float | None:
    """A confidence column's value (NaN where the weights carry no estimate)."""
    return None if np.isnan(confidence) else round(float(confidence), 3)


def _write(row: dict[str, Any], options: Options, input_size: int, ledger: Any) -> dict[str, Any]:
    """CPU task: decode the photo again, colour it with its a/b, write it atomically."""
    import torch

    from .stages import Hinted, colour_and_write, prepare, read_failure

    ledger.at.remote(_node_id(), [row["dest"]])
    t0 = time.perf_counter()
    row["status"], row["reason"], row["fatal"], row["hints_used"] = DONE, "", False, 0
    if row["error"]:
        row["status"], row["reason"] = FAILED, row["error"]
        return row
    job = _job(row)
    try:
        prepared = prepare(job, input_size)
        ab = torch.from_numpy(np.asarray(row["ab"], np.float32))
        hinted = None
        if prepared.hints:
            hinted = Hinted(prepared.hints, torch.from_numpy(np.asarray(row["features"])))
        fmt, overwrite = options.format, options.overwrite
        colour_and_write(job, prepared.decoded, ab, hinted, fmt, overwrite)
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


def _film(jobs: list[Job], todo: list[str], options: Options) -> Iterator[Result | str | Node]:
    """Ray generator task: one film (all its jobs, finished frames included, so that a
    restarted film warms its state up) through the local pipeline on this worker. Yields
    the node it runs on, each frame's Result as it is written, then the reason if the
    run must end (disk full).
    """
    import torch

    from ..model.colorizer import Colorizer
    from .pipeline import Pipeline

    yield Node(_node_id(), "", "")
    if options.device == "cpu" or not torch.cuda.is_available():
        torch.set_num_threads(FILM_CPUS)
    colorizer = Colorizer(options.weights, options.device, options.temperature)
    results: queue.Queue[Result | None] = queue.Queue()
    pipeline = Pipeline(
        colorizer,
        replace(options, workers=FILM_CPUS),
        results.put,
        todo={Path(t) for t in todo},
    )

    def work() -> None:
        try:
            pipeline.run(jobs)
        finally:
            results.put(None)

    thread = threading.Thread(target=work, name="film", daemon=True)
    thread.start()
    while (result := results.get()) is not None:
        yield result
    thread.join()
    if pipeline.fatal:
        yield pipeline.fatal


def films_of(jobs: list[Job]) -> tuple[list[Job], list[list[Job]]]:
    """Split jobs into photos and films: the frames of each sequence in order (they are
    contiguous in a walk), and each video file on its own."""
    photos: list[Job] = []
    films: list[list[Job]] = []
    for job in jobs:
        if is_video_name(job.source.name):
            films.append([job])
        elif job.sequence is None:
            photos.append(job)
        elif films and films[-1][0].sequence == job.sequence:
            films[-1].append(job)
        else:
            films.append([job])
    return photos, films


def _pool(options: Options) -> dict[str, Any]:
    """One model actor per GPU where the cluster has GPUs; otherwise one, on the CPU (it
    uses every core of its node through torch)."""
    import ray

    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus and options.device != "cpu":
        return {"compute": ray.data.ActorPoolStrategy(min_size=1, max_size=gpus), "num_gpus": 1}
    return {"compute": ray.data.ActorPoolStrategy(size=1), "num_cpus": 1}


def _film_resources(options: Options) -> dict[str, Any]:
    import ray

    if int(ray.cluster_resources().get("GPU", 0)) and options.device != "cpu":
        return {"num_gpus": 1, "num_cpus": 1}
    return {"num_cpus": FILM_CPUS}


class RayEngine(Run):
    """Runs jobs on Ray and reports one Result each, like the local pipeline."""

    def __init__(
        self,
        options: Options,
        input_size: int,
        on_result: Callable[[Result], None],
        stop: threading.Event,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.options, self.input_size = options, input_size
        self.on_result = on_result
        self.on_notice = on_notice or (lambda _: None)
        self._existed: set[Path] = set()
        self._unreported: set[Path] = set()  # claimed here, not yet reported
        self._redone: set[Path] = set()  # begun on a node that was lost
        self._lost: queue.Queue[Node] = queue.Queue()  # from the watch, handled here
        self._dead_hosts: set[str] = set()  # their writers' temporary files are garbage
        self._head_lost = False
        self._ledger: Any = None
        self._film_nodes: dict[Any, str] = {}  # a running film's task -> its node
        self._films_restarted: dict[str, int] = {}  # node -> films restarted from it
        super().__init__(stop)

    def run(self, jobs: list[Job]) -> None:
        try:
            import ray.data
        except ImportError:
            raise EngineError(f"--engine ray needs Ray: {install_extra('ray')}") from None
        photos, films = films_of(jobs)
        claimed = [self._claim(film) for film in films]
        mine = [j for j in photos if self._begin(j)]
        held = mine + [j for todo in claimed for j in todo]  # released when the run ends
        self._unreported = {j.dest for j in held}
        # outputs there before this run (--overwrite): the others at the end were written
        # by this run, whether or not their report came back
        self._existed = {j.dest for j in held if j.dest.exists()}
        watch, joined = None, False
        try:
            if not held or self.stop.is_set():
                return
            joined = connect(self.options.ray_address, self.stop, self.options.debug)
            if self.stop.is_set():
                return
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False  # ours counts finished files
            ctx.print_on_execution_start = False
            watch = Watch(self._lost.put, self._on_head_lost)
            watch.start()
            if mine:
                self._photos(mine)
            if not self.stop.is_set():
                self._films(films, claimed)
        finally:
            if watch is not None:
                watch.ended.set()
            for job in held:  # finished as the run stopped, their reports lost with it
                self._report_if_written(job)
            self._sweep()
            for job in held:
                claims.release(job.dest)
            if joined:
                leave(self._head_lost)

    def _report_if_written(self, job: Job) -> bool:
        """Report ``job`` done if this run wrote its output (complete: writes are atomic)
        but the report was lost with a worker, a node or the head; True if so."""
        written = job.dest in self._unreported and job.dest not in self._existed
        if written and job.dest.exists():
            self._report(Result(job.source, job.dest, DONE, film=job.sequence))
            return True
        return False

    def _on_head_lost(self, address: str) -> None:
        """From the watch: the head is gone; end the run (exit 1, with the summary)."""
        self._head_lost = True
        self.fatal = f"lost the Ray cluster at {address}: its head stopped answering"
        self.stop.set()

    def _sweep(self) -> None:
        """What writers that died left of this run's outputs: temporary files of a dead
        process here or of a lost node; after a lost head, of every output not reported
        (its workers die with it)."""
        dead = self._dead_hosts

        def gone(writer: Writer) -> bool:
            return self._head_lost or writer.host in dead or claims.writer_gone(writer, 0.0)

        claims.remove_temps(self._unreported, gone)

    def _begin(self, job: Job) -> bool:
        return begin(job, self.options.overwrite, self.on_result, self.write_error)

    def _claim(self, film: list[Job]) -> list[Job]:
        """Claim a film's frames still to do (skips reported now); [] when none is left."""
        return [job for job in film if self._begin(job)]

    def _report(self, result: Result) -> None:
        if result.dest is not None:
            claims.release(result.dest)
            self._unreported.discard(result.dest)
            if result.status == DONE and result.dest in self._redone:
                result = replace(result, redone=True)
        self.on_result(result)

    def _handle_lost_nodes(self) -> None:
        """Say, in one line per lost node, what it had that is now redone elsewhere (Ray
        Data retries its photos, :meth:`_next_of_film` restarts its films), and remove
        the temporary files its workers left. Runs on the driver's thread, between rows.
        """
        import ray

        while not self._lost.empty():
            node = self._lost.get()
            host = host_id(node.host)
            self._dead_hosts.add(host)
            photos: set[Path] = set()
            if self._ledger is not None:
                try:
                    sent = ray.get(self._ledger.on.remote(node.id), timeout=10)
                    photos = {Path(d) for d in sent} & self._unreported
                except ray.exceptions.RayError:  # the ledger's node went too: unknown
                    pass
            self._redone |= photos
            claims.remove_temps(
                photos, lambda w, host=host: w.host == host and claims.writer_gone(w, 0.0)
            )
            films = sum(n == node.id for n in self._film_nodes.values())
            films += self._films_restarted.pop(node.id, 0)
            self.on_notice(
                f"node {node.address} lost: {_count(len(photos), 'photo')} and "
                f"{_count(films, 'film')} redone on the other nodes"
            )

    def _photos(self, mine: list[Job]) -> None:
        import ray.data

        # on the head, whose loss ends the run anyway
        self._ledger = (
            ray.remote(_Ledger).options(num_cpus=0, resources={HEAD_RESOURCE: 0.001}).remote()
        )
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
        ledger = {"ledger": self._ledger}
        ds = ds.map(_decode, fn_kwargs={"input_size": self.input_size, **ledger}, num_cpus=0.5)
        ds = ds.map_batches(
            _Model,
            fn_constructor_args=(self.options, self._ledger),
            batch_size=self.options.batch_size,
            batch_format="numpy",
            **_pool(self.options),
        )
        ds = ds.map(
            _write,
            fn_kwargs={"options": self.options, "input_size": self.input_size, **ledger},
        )
        pending = {str(j.dest): j for j in mine}
        for row in self._rows(ds):
            job = pending.pop(row["dest"])
            status, reason = row["status"], row["reason"] or None
            if status == SKIPPED and job.dest not in self._existed:
                # Ray ran the photo's tasks again (a lost node took their results with it)
                # and found the output its first attempt wrote: this run holds the claim,
                # so no other run can have written it
                status, reason = DONE, None
                self._redone.add(job.dest)
            self._report(
                Result(
                    job.source,
                    job.dest,
                    status,
                    reason,
                    float(row["seconds"]),
                    reference=job.reference if status == DONE else None,
                    hints=int(row["hints_used"]),
                    confidence=_known(row["confidence"]) if status == DONE else None,
                )
            )
            if row["fatal"]:
                self.fatal = reason
                self.stop.set()

    def _rows(self, ds: Any) -> Iterator[dict[str, Any]]:
        """The pipeline's rows as they finish, read on a thread of their own so that the
        driver still answers a stop, a lost node or a lost head while Ray Data waits."""
        rows: queue.Queue[dict[str, Any] | BaseException | None] = queue.Queue()

        def feed() -> None:
            try:
                for row in ds.iter_rows():
                    rows.put(row)
                    if self.stop.is_set():
                        break
            except BaseException as exc:  # raised again on the driver's thread
                rows.put(exc)
            rows.put(None)

        threading.Thread(target=feed, name="ray-rows", daemon=True).start()
        while not self.stop.is_set():
            self._handle_lost_nodes()
            try:
                row = rows.get(timeout=ROWS_WAIT_S)
            except queue.Empty:
                continue
            if row is None:
                return
            if isinstance(row, BaseException):
                raise row
            yield row

    def _films(self, films: list[list[Job]], claimed: list[list[Job]]) -> None:
        """Every film with frames to do as one generator task, all at once (Ray queues
        them by resources); results reported as they stream in, from whichever film."""
        import ray

        task = ray.remote(_film).options(max_retries=0, **_film_resources(self.options))
        running: dict[Any, tuple[list[Job], dict[Path, Job], int]] = {}

        def launch(film: list[Job], todo: dict[Path, Job], attempt: int) -> None:
            gen = task.remote(film, [str(p) for p in todo], self.options)
            running[gen] = (film, todo, attempt)

        for film, todo in zip(films, claimed, strict=True):
            if todo:
                launch(film, {j.dest: j for j in todo}, 1)
        try:
            while running and not self.stop.is_set():
                self._handle_lost_nodes()
                ready, _ = ray.wait(list(running), num_returns=1, timeout=ROWS_WAIT_S)
                for gen in ready:
                    self._next_of_film(gen, running, launch)
        finally:  # the films' claims are released with the run's
            if not self._head_lost:  # else Ray can no longer be asked; the sweep cleans
                for gen in running:
                    ray.cancel(gen, force=True)  # finished frames are complete
                self._wind_down(running)

    def _wind_down(self, running: dict[Any, tuple[list[Job], dict[Path, Job], int]]) -> None:
        """After a stop, wait for each cancelled film's worker to die, report the frames
        it finished meanwhile, and remove the temporary file it was writing: a killed
        worker cannot, and one on another node is out of reach of the next run's clean.
        """
        import ray

        deadline = time.monotonic() + CANCEL_WAIT_S
        for gen, (_, todo, _) in running.items():
            while (left := deadline - time.monotonic()) > 0:
                if not ray.wait([gen], timeout=left)[0]:
                    break
                try:
                    item = ray.get(next(gen))
                except (StopIteration, ray.exceptions.RayError):  # its end, or its death
                    break
                if isinstance(item, Result):
                    todo.pop(item.dest, None)  # type: ignore[arg-type]
                    self._report(item)
            claims.remove_temps(todo)

    def _next_of_film(
        self,
        gen: Any,
        running: dict[Any, tuple[list[Job], dict[Path, Job], int]],
        launch: Callable[[list[Job], dict[Path, Job], int], None],
    ) -> None:
        import ray

        film, todo, attempt = running[gen]
        try:
            item = ray.get(next(gen))
        except StopIteration:  # the pipeline reports every job it is given
            del running[gen]
            self._film_nodes.pop(gen, None)
            self._fail(todo, "not coloured")
            return
        except ray.exceptions.RayTaskError as exc:  # the film's own error: reported
            del running[gen]
            self._film_nodes.pop(gen, None)
            self._fail(todo, f"{type(exc.cause).__name__}: {exc.cause}")
            return
        except ray.exceptions.RayError as exc:  # its worker or node died: start it again
            del running[gen]
            node = self._film_nodes.pop(gen, "")  # said with its node, if it was lost
            self._films_restarted[node] = self._films_restarted.get(node, 0) + 1
            for dest, job in list(todo.items()):
                if self._report_if_written(job):
                    del todo[dest]
            claims.remove_temps(todo)  # what it was writing when it died
            if not todo:
                return
            if attempt < FILM_ATTEMPTS:
                self._redone.update(todo)
                launch(film, todo, attempt + 1)
                return
            self._fail(todo, f"its worker died {attempt} times ({type(exc).__name__})")
            return
        if isinstance(item, Node):  # where it runs, before its first frame
            self._film_nodes[gen] = item.id
            return
        if isinstance(item, str):  # a write error no later write can escape
            self.fatal = item
            self.stop.set()
            return
        todo.pop(item.dest, None)  # type: ignore[arg-type]
        self._report(item)

    def _fail(self, todo: dict[Path, Job], reason: str) -> None:
        """Report a film's frames not yet reported as failed, with one reason."""
        for job in todo.values():
            self._report(Result(job.source, job.dest, FAILED, reason, film=job.sequence))


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"
