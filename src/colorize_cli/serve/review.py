"""``colorize serve --review IN OUT [--hints DIR]``: go through a finished run, correct the
photos that went wrong, and keep the corrections for the next batch.

    GET  /pairs?offset=0&limit=50          the run's photos, a page at a time:
                                           {"pairs": [{"path": "a/b.png", ...}], "total"}
         &order=confidence                 least sure first (with ``--manifest``: each
                                           pair's ``confidence`` comes from the run's
                                           manifest; those without one come last)
    GET  /pairs/{path}/input[?max=N]       the grey input, upright, as a PNG to look at
    GET  /pairs/{path}/output[?max=N]      its coloured output, as a PNG to look at
    GET  /pairs/{path}/source              the input file's own bytes (for /colorize and
                                           /candidates while a correction is made)
    GET  /pairs/{path}/hints               its saved hints ({"points": []} if none)
    POST /pairs/{path}/hints               a hints JSON body: colour the input again with
                                           them, write OUT/{output} through the command's
                                           own atomic write, save DIR/{path}.hints.json

``path`` is relative to IN, exactly as the listing gives it. Nothing from the browser is
a path: it is a key into the listing made when the server started, and anything else
(``../``, absolute paths, encoded dots, names never listed) is refused with a 404 JSON
reason. Inputs whose real location leaves IN (a symlink out of the tree) are left out of
the listing, and every use checks again that the input is under IN, the output under OUT
and the hints file under DIR once symlinks are resolved (403 otherwise), so the server
reads and writes under those three folders only. The same hints then give the same
file from ``colorize IN OUT --hints DIR --overwrite``: both run the same stages.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..config import DEFAULT_CHECK_BELOW
from ..files.controls import (
    check_inside,
    hints_json,
    hints_path,
    parse_hints,
    with_controls,
    write_hints,
)
from ..files.discover import Job, discover
from ..files.formats import is_video_name
from ..files.manifest import read_manifest
from ..files.read import ReadError, read_image
from ..files.video import frame_count
from ..model.colorizer import Colorizer
from ..running.stages import Hinted, colour_and_write, prepare
from .batcher import Batcher
from .errors import BadRequest, number, refusing
from .films import (
    Film,
    colour_shot,
    find_films,
    save_video_hints,
    video_frame,
    video_hints,
)

PAGE_LIMIT = 200  # pairs in one answer at most
MAX_HINTS_BYTES = 1_000_000


@dataclass(frozen=True)
class Pair:
    """One photo of the run: its input and output, and where its hints are kept."""

    path: str  # relative to IN, with / separators: the key the browser sends back
    job: Job
    hints: Path


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every symlink resolved, lies under ``root``."""
    return path.resolve().is_relative_to(root.resolve())


class Review:
    """The pairs of one finished run and the routes that show and correct them."""

    def __init__(
        self,
        src: Path,
        dst: Path,
        hints_dir: Path,
        colorizer: Colorizer,
        fmt: str | None,
        manifests: tuple[Path, ...] = (),
    ) -> None:
        """``manifests``: the run's ``--manifest`` files, in the order the runs were made
        (a re-run skips finished photos, so their confidence is in an earlier one).
        Raises ReadError for a manifest that cannot be read."""
        if not src.is_dir():
            raise ValueError(f"{src}: --review takes the run's input folder")
        self.src, self.dst, self.hints_dir = src, dst, hints_dir
        self.colorizer, self.fmt = colorizer, fmt
        self.pairs: dict[str, Pair] = {}
        jobs = [j for j in discover(src, dst, fmt).jobs if inside(j.source, src)]
        self.films = find_films(jobs, src, hints_dir)  # symlinks out were left out above
        # each frame of a frame folder's film -> its film
        self._framed = {key: film for film in self.films.values() for key in film.frames}
        self.order = []  # what the page lists: photos, and each film once
        for job in jobs:
            rel = job.source.relative_to(src).as_posix()
            if not is_video_name(job.source.name):  # a film's frames are pairs too
                hints = hints_path(hints_dir, Path(rel))
                self.pairs[rel] = Pair(rel, job, hints)
            film = self._framed.get(rel)
            if film is None or film.frames[0] == rel:
                self.order.append(rel if film is None else film.path)
        self.confidence = self._confidences(manifests)
        for film in self.films.values():  # a frame folder's: its frames' mean
            known = [self.confidence[f] for f in film.frames if f in self.confidence]
            if known:
                self.confidence[film.path] = round(sum(known) / len(known), 3)
        # least sure first, then those without a confidence, each in name order
        self.by_confidence = sorted(
            self.order, key=lambda p: (p not in self.confidence, self.confidence.get(p, 0.0))
        )

    def _confidences(self, manifests: tuple[Path, ...]) -> dict[str, float]:
        """Each listed pair's confidence from the manifests (the last run that coloured
        it). A record names its input as that run was given it, so it is matched by the
        resolved path, or else by its longest trailing part that is a listed pair (a run
        made from another folder)."""
        by_source = {pair.job.source.resolve(): key for key, pair in self.pairs.items()}
        by_source |= {f.jobs[0].source.resolve(): k for k, f in self.films.items() if not f.frames}
        found: dict[str, float] = {}
        for manifest in manifests:
            try:
                records = list(read_manifest(manifest))
            except OSError as exc:
                raise ReadError(f"{manifest}: {exc.strerror or exc}") from None
            for record in records:
                confidence = record.get("confidence")
                if not isinstance(confidence, int | float) or isinstance(confidence, bool):
                    continue
                key = by_source.get(Path(record["input"]).resolve())
                if key is None:
                    parts = Path(record["input"]).parts
                    tails = ("/".join(parts[i:]) for i in range(len(parts)))
                    key = next((t for t in tails if t in self.pairs or t in self.films), None)
                if key is not None:
                    found[key] = float(confidence)
        return found

    def _video_frame(self, request: Request) -> tuple[Film, int]:
        """The video and frame index a request names; refused unless the video is a listed
        film still inside the review's folders and the index is one of its frames."""
        path, index = request.path_params["path"], int(request.path_params["index"])
        film = self.films.get(path)
        if film is None or film.frames:
            raise BadRequest(404, f"{path!r} is not a video of this review")
        job = film.jobs[0]
        assert film.hints is not None
        if not (
            inside(job.source, self.src)
            and inside(job.dest.parent, self.dst)
            and inside(film.hints.parent, self.hints_dir)
        ):
            raise BadRequest(403, f"{path!r} now leads outside the review's folders")
        count = frame_count(job.source)
        if count and index >= count:
            raise BadRequest(404, f"{path} has {count} frames, numbered from 0")
        return film, index

    async def _colour_shot(self, film: Film, frame: int) -> int:
        """Colour ``film``'s shot with frame ``frame`` (a video: all of it) again, with the
        hints files as they now are; the frames written."""
        jobs = with_controls(list(film.jobs), self.src, None, self.hints_dir)
        try:
            results = await run_in_threadpool(
                colour_shot, self.colorizer, film, frame, jobs, self.fmt
            )
        except ReadError as exc:
            raise BadRequest(400, str(exc)) from None
        return sum(1 if r.frames is None else r.frames for r in results)

    def pair(self, path: str) -> Pair:
        """The listed pair ``path`` names; refused unless it is listed and still inside."""
        found = self.pairs.get(path)
        if found is None:
            raise BadRequest(404, f"{path!r} is not a photo of this review")
        job = found.job
        if not (
            inside(job.source, self.src)
            and inside(job.dest.parent, self.dst)
            and inside(found.hints.parent, self.hints_dir)
        ):
            raise BadRequest(403, f"{path!r} now leads outside the review's folders")
        return found

    def describe(self, key: str) -> dict[str, object]:
        film = self.films.get(key)
        if film is not None:
            return {
                "path": key,
                "film": True,
                "video": not film.frames,
                "frames": list(film.frames),
                "count": len(film.frames) or frame_count(film.jobs[0].source),
                "confidence": self.confidence.get(key),
            }
        pair = self.pairs[key]
        return {
            "path": pair.path,
            "output": pair.job.dest.relative_to(self.dst).as_posix(),
            "coloured": pair.job.dest.is_file(),
            "hints": pair.hints.relative_to(self.hints_dir).as_posix()
            if pair.hints.is_file()
            else None,
            "confidence": self.confidence.get(pair.path),
        }

    def routes(self, batcher: Batcher) -> list[Route]:
        async def listing(request: Request) -> Response:
            offset = int(number(request.query_params.get("offset"), "offset", 0, 1e9) or 0)
            limit = int(number(request.query_params.get("limit"), "limit", 1, PAGE_LIMIT) or 50)
            order = request.query_params.get("order", "name")
            if order not in ("name", "confidence"):
                raise BadRequest(400, "order must be name or confidence")
            keys = self.by_confidence if order == "confidence" else self.order
            page = keys[offset : offset + limit]
            described = await run_in_threadpool(lambda: [self.describe(p) for p in page])
            return JSONResponse(
                {
                    "pairs": described,
                    "total": len(self.order),
                    "offset": offset,
                    "limit": limit,
                    "order": order,
                    "confidences": len(self.confidence),
                    "check_below": DEFAULT_CHECK_BELOW,  # what the page marks as unsure
                }
            )

        async def show(request: Request, which: str) -> Response:
            pair = self.pair(request.path_params["path"])
            side = number(request.query_params.get("max"), "max", 16, 100_000)
            path = pair.job.source if which == "input" else pair.job.dest
            if which == "output" and not path.is_file():
                raise BadRequest(404, f"{pair.path} has not been coloured yet")
            data = await run_in_threadpool(_preview, path, which == "input", side)
            return Response(data, media_type="image/png")

        async def source(request: Request) -> Response:
            pair = self.pair(request.path_params["path"])
            data = await run_in_threadpool(pair.job.source.read_bytes)
            return Response(data, media_type="application/octet-stream")

        async def saved_hints(request: Request) -> Response:
            pair = self.pair(request.path_params["path"])
            if not pair.hints.is_file():
                return JSONResponse({"points": []})
            text = await run_in_threadpool(pair.hints.read_text, "utf-8")
            return Response(text, media_type="application/json")

        async def correct(request: Request) -> Response:
            pair = self.pair(request.path_params["path"])
            body = await request.body()
            if len(body) > MAX_HINTS_BYTES:
                raise BadRequest(413, "hints over 1 MB")
            try:
                hints = parse_hints(body.decode("utf-8", "replace"))
                prepared = await run_in_threadpool(prepare, pair.job, self.colorizer.input_size)
                check_inside(hints, prepared.decoded.size)
            except ReadError as exc:
                raise BadRequest(400, str(exc)) from None
            film = self._framed.get(pair.path)
            if film is not None:  # a keyframe: its shot is coloured again with it
                await run_in_threadpool(write_hints, pair.hints, hints)
                frame = film.frames.index(pair.path)
                done = await self._colour_shot(film, frame)
                return JSONResponse(
                    {**self.describe(pair.path), "points": len(hints), "frames": done}
                )
            logits, features = await batcher.logits_and_features(prepared.thumb, None)
            ab = self.colorizer.decode(logits[None])[0]
            job, decoded, hinted = pair.job, prepared.decoded, Hinted(hints, features)
            await run_in_threadpool(colour_and_write, job, decoded, ab, hinted, self.fmt, True)
            await run_in_threadpool(write_hints, pair.hints, hints)
            return JSONResponse({**self.describe(pair.path), "points": len(hints)})

        async def video_input(request: Request) -> Response:
            film, index = self._video_frame(request)
            side = number(request.query_params.get("max"), "max", 16, 100_000)
            gray = await run_in_threadpool(video_frame, film.jobs[0].source, index)
            return Response(await run_in_threadpool(_grey_png, gray, side), media_type="image/png")

        async def video_hints_saved(request: Request) -> Response:
            film, index = self._video_frame(request)
            try:
                hints = await run_in_threadpool(video_hints, film, index)
            except ReadError as exc:
                raise BadRequest(400, str(exc)) from None
            return JSONResponse({"points": hints_json(hints)})

        async def video_correct(request: Request) -> Response:
            film, index = self._video_frame(request)
            body = await request.body()
            if len(body) > MAX_HINTS_BYTES:
                raise BadRequest(413, "hints over 1 MB")
            try:
                hints = parse_hints(body.decode("utf-8", "replace"))
                gray = await run_in_threadpool(video_frame, film.jobs[0].source, index)
                check_inside(hints, (gray.shape[1], gray.shape[0]))
                await run_in_threadpool(save_video_hints, film, index, hints)
            except ReadError as exc:
                raise BadRequest(400, str(exc)) from None
            done = await self._colour_shot(film, index)
            output = film.jobs[0].dest.relative_to(self.dst).as_posix()
            path = f"{film.path}/frames/{index}"
            return JSONResponse(
                {"path": path, "output": output, "points": len(hints), "frames": done}
            )

        async def show_input(request: Request) -> Response:
            return await show(request, "input")

        async def show_output(request: Request) -> Response:
            return await show(request, "output")

        frame = "/pairs/{path:path}/frames/{index:int}"
        return [
            Route("/pairs", refusing(listing)),
            # a video's frames, before the photos' routes (whose path would swallow them)
            Route(frame + "/input", refusing(video_input)),
            Route(frame + "/source", refusing(video_input)),
            Route(frame + "/hints", refusing(video_hints_saved), methods=["GET"]),
            Route(frame + "/hints", refusing(video_correct), methods=["POST"]),
            Route("/pairs/{path:path}/input", refusing(show_input)),
            Route("/pairs/{path:path}/output", refusing(show_output)),
            Route("/pairs/{path:path}/source", refusing(source)),
            Route("/pairs/{path:path}/hints", refusing(saved_hints), methods=["GET"]),
            Route("/pairs/{path:path}/hints", refusing(correct), methods=["POST"]),
        ]


def _preview(path: Path, grey: bool, side: float | None) -> bytes:
    """A PNG a browser can show: the input's grey (upright, 8-bit) or the output as RGB,
    shrunk to fit ``side`` pixels when asked."""
    try:
        if grey:
            return _grey_png(read_image(path).gray, side)
        with Image.open(path) as src:
            im = src.convert("RGBA" if "A" in src.getbands() else "RGB")
    except (OSError, ReadError) as exc:
        raise BadRequest(415, f"cannot read {path.name}: {exc}") from None
    return _png(im, side)


def _grey_png(gray: np.ndarray, side: float | None) -> bytes:
    return _png(Image.fromarray(np.rint(gray * 255).astype(np.uint8)), side)


def _png(im: Image.Image, side: float | None) -> bytes:
    if side:
        im.thumbnail((int(side), int(side)))
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1)
    return buf.getvalue()
