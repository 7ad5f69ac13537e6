"""The HTTP API and the page: one ASGI app (Starlette) over the same stages as the command.

    POST /colorize    an image (multipart field ``image``, or the raw bytes), optional
                      ``reference`` (a second image), ``strength`` (how far its palette
                      replaces the model's) and ``hints`` (hints JSON) fields; query
                      ``temperature``, ``format``. Returns the coloured image, and
                      how sure the model is of its colours in ``X-Confidence`` (0 to 1;
                      absent for weights without a confidence estimate).
    POST /doubt       multipart ``image`` (and optionally ``reference``, ``strength``):
                      where the model hesitates, as a PNG to lay over the photo: red,
                      more opaque where it expects its colour to be further off.
    POST /candidates  multipart ``image``, ``x``, ``y`` (and optionally ``reference``,
                      ``strength``): the colours the model finds plausible at that
                      point, ``{"candidates": [{"rgb": [r, g, b], "p": 0.41}, ...]}``.
    GET  /health      model loaded, device, version.
    GET  /            the page.
    /pairs...         with ``colorize serve --review``: :mod:`colorize_cli.serve.review`.

Limits are checked before decoding: the upload's size from its Content-Length (and
while reading), the pixel count from the image header. A bad request gets a 4xx JSON
``{"error": reason}`` with the same one-line reason the command prints; nothing is
written to disk except multipart parts too large for memory, which Starlette spools to
temporary files and removes when the request ends. Decoding, colouring and encoding run
in worker threads, the model behind a batching queue, so the event loop only moves
bytes and a slow upload delays no one else.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from importlib import metadata, resources

import numpy as np
import torch
from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..colour.hints import Hint
from ..colour.resample import thumbnail
from ..config import DISTRIBUTION
from ..files.controls import check_inside, parse_hints, reference_ab
from ..files.formats import FORMATS, format_of
from ..files.read import Decoded, ReadError, read_image
from ..files.write import encoder
from ..model.batch import stack_l
from ..model.colorizer import Colorizer
from ..running.stages import Hinted, colour
from .batcher import Batcher
from .errors import BadRequest, number, refusing
from .review import Review

MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "tif": "image/tiff",
    "bmp": "image/bmp",
    "webp": "image/webp",
}


def _decode(data: bytes, max_pixels: int) -> Decoded:
    return read_image(io.BytesIO(data), max_pixels)


def _encoded(decoded: Decoded, rgb: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    encoder(rgb, decoded, fmt)(buf)
    return buf.getvalue()


# the doubt overlay marks the places the model hesitates over most within the photo:
# clear up to this quantile of its expected error, most opaque from the next. Absolute
# levels would not do: a photo it hesitates over everywhere would be red all over.
DOUBT_CLEAR, DOUBT_FULL = 0.6, 0.98


def _heat(doubt: torch.Tensor) -> bytes:
    """The model's expected a/b error ``(h, w)`` as a red RGBA PNG at its own grid (the
    page stretches it over the photo, as the model's square grid covers the photo)."""
    d = doubt.numpy()
    clear, full = np.quantile(d, [DOUBT_CLEAR, DOUBT_FULL])
    alpha = ((d - clear) / max(full - clear, 1e-6)).clip(0, 1)
    rgba = np.zeros((*alpha.shape, 4), np.uint8)
    rgba[..., 0] = 230
    rgba[..., 1] = (120 * (1 - alpha)).astype(np.uint8)  # orange to red as it grows
    rgba[..., 3] = np.rint(200 * alpha).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Parts:
    """What a request sent: the image, and the optional controls and fields."""

    image: bytes
    reference: bytes | None = None
    hints: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # x, y, strength


async def _form_parts(request: Request) -> Parts:
    async with request.form(max_files=3, max_fields=6) as form:
        image = form.get("image")
        if not isinstance(image, UploadFile):
            raise BadRequest(400, "no image: send it as the multipart field 'image'")
        ref = form.get("reference")
        hints = form.get("hints")
        if isinstance(hints, UploadFile):
            hints = (await hints.read()).decode("utf-8", "replace")
        reference = await ref.read() if isinstance(ref, UploadFile) else None
        fields = {k: v for k, v in form.items() if isinstance(v, str) and k in FIELDS}
        return Parts(await image.read(), reference, hints or None, fields)


FIELDS = ("x", "y", "strength")


def create_app(
    colorizer: Colorizer,
    *,
    max_upload_mb: float = 50.0,
    max_megapixels: float = 100.0,
    batch_size: int = 8,
    review: Review | None = None,
) -> Starlette:
    """The service around a loaded colorizer; with ``review``, also the pairs of a
    finished run to correct."""
    max_bytes = int(max_upload_mb * 1024 * 1024)
    max_pixels = int(max_megapixels * 1_000_000)
    batcher = Batcher(colorizer, batch_size)
    version = metadata.version(DISTRIBUTION)
    page = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")

    async def body_parts(request: Request) -> Parts:
        """The image and its controls from either request form."""
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            raise BadRequest(
                413, f"upload of {int(length)} bytes is over the {max_upload_mb:g} MB limit"
            )
        kind = request.headers.get("content-type", "")
        if kind.startswith("multipart/form-data"):
            try:
                return await _form_parts(request)
            except BadRequest:
                raise
            except Exception as exc:  # a malformed form: Starlette's own complaint
                reason = getattr(exc, "detail", None) or str(exc)
                raise BadRequest(400, f"cannot read the form: {reason}") from None
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > max_bytes:
                raise BadRequest(413, f"upload is over the {max_upload_mb:g} MB limit")
        if not data:
            raise BadRequest(400, "empty request: send an image")
        return Parts(bytes(data))

    async def decode(image: bytes) -> Decoded:
        try:
            return await run_in_threadpool(_decode, image, max_pixels)
        except ReadError as exc:
            status = 413 if str(exc).startswith("refused") else 415
            raise BadRequest(status, str(exc)) from None

    async def reference_shift(parts: Parts, request: Request) -> torch.Tensor | None:
        strength = number(
            parts.fields.get("strength", request.query_params.get("strength")), "strength", 0, 5
        )
        if parts.reference is None:
            return None
        ref = parts.reference
        try:
            ref_ab = await run_in_threadpool(lambda: reference_ab(Image.open(io.BytesIO(ref))))
        except Exception as exc:
            raise BadRequest(415, f"reference: cannot read it as an image ({exc})") from None
        if strength is None:
            return colorizer.reference_shift(ref_ab)
        return colorizer.reference_shift(ref_ab, strength)

    async def colorize(request: Request) -> Response:
        parts = await body_parts(request)
        query = request.query_params
        fmt = query.get("format")
        if fmt is not None and fmt not in FORMATS:
            raise BadRequest(400, f"format must be one of {', '.join(sorted(FORMATS))}")
        temperature = None
        if "temperature" in query:
            temperature = number(query["temperature"], "temperature", 1e-3, 10.0)
        decoded = await decode(parts.image)
        hints: list[Hint] = []
        if parts.hints:
            try:
                hints = parse_hints(parts.hints)
                check_inside(hints, decoded.size)
            except ReadError as exc:
                raise BadRequest(400, str(exc)) from None
        shift = await reference_shift(parts, request)
        thumb = await run_in_threadpool(thumbnail, decoded.gray, colorizer.input_size)
        logits, features = await batcher.logits_and_features(thumb, shift)
        ab = colorizer.decode(logits[None], temperature)[0]
        out_fmt = fmt or format_of(decoded.format)
        rgb = await run_in_threadpool(colour, decoded, ab, Hinted(hints, features))
        data = await run_in_threadpool(_encoded, decoded, rgb, out_fmt)
        sure = colorizer.confidence(logits[None], ab[None], stack_l([thumb]))[0]
        headers = {} if sure is None else {"X-Confidence": f"{sure:.3f}"}
        return Response(data, media_type=MEDIA_TYPES[out_fmt], headers=headers)

    async def doubt(request: Request) -> Response:
        parts = await body_parts(request)
        decoded = await decode(parts.image)
        shift = await reference_shift(parts, request)
        where = await run_in_threadpool(colorizer.doubt, decoded.gray, shift)
        return Response(await run_in_threadpool(_heat, where), media_type="image/png")

    async def candidates(request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise BadRequest(400, "send a multipart form with image, x and y")
        parts = await body_parts(request)
        decoded = await decode(parts.image)
        w, h = decoded.size
        x = number(parts.fields.get("x"), "x", 0, w - 1)
        y = number(parts.fields.get("y"), "y", 0, h - 1)
        if x is None or y is None:
            raise BadRequest(400, "x and y are required: a point of the upright photo")
        shift = await reference_shift(parts, request)
        found = await run_in_threadpool(colorizer.candidates, decoded.gray, x, y, shift)
        return JSONResponse({"candidates": [{"rgb": list(c.rgb), "p": c.p} for c in found]})

    async def health(_request: Request) -> Response:
        return JSONResponse(
            {"model_loaded": True, "device": str(colorizer.device), "version": version}
        )

    async def index(_request: Request) -> Response:
        return HTMLResponse(page)

    routes = [
        Route("/", index),
        Route("/health", health),
        Route("/colorize", refusing(colorize), methods=["POST"]),
        Route("/candidates", refusing(candidates), methods=["POST"]),
        Route("/doubt", refusing(doubt), methods=["POST"]),
    ]
    if review is not None:
        routes += review.routes(batcher)
    return Starlette(routes=routes)
