"""``colorize serve``: start the HTTP service (an extra: ``colorize-archive[serve]``).

The command only checks the extra, loads the colorizer once and hands both to uvicorn;
the service itself is :mod:`colorize_cli.serve`.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..config import install_extra
from ..files.formats import FORMATS
from .options import device_option, weights_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@device_option
@weights_option
@click.option(
    "--max-upload-mb",
    type=click.FloatRange(0.1, 10_000),
    default=50.0,
    show_default=True,
    help="Largest request accepted, checked before it is read.",
)
@click.option(
    "--max-megapixels",
    type=click.FloatRange(0.01, 400),
    default=100.0,
    show_default=True,
    help="Largest image accepted, checked from its header before decoding.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 1024),
    default=8,
    show_default=True,
    help="Requests coloured together in one forward pass.",
)
@click.option(
    "--review",
    nargs=2,
    type=click.Path(path_type=Path),
    metavar="IN OUT",
    help="Serve the page over a finished run (IN coloured into OUT) to correct its photos "
    "with hints, written to OUT and saved under --hints.",
)
@click.option(
    "--hints",
    "hints_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --review: where the hints files go, mirroring IN [default: OUT-hints beside OUT].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    help="With --review: the output format the run used, if it was not each input's own.",
)
@click.option(
    "--manifest",
    "manifests",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --review: the run's --manifest file (repeat it for re-runs, oldest first), "
    "so the page lists the photos the model was least sure of first.",
)
def serve(
    host: str,
    port: int,
    device: str,
    weights: Path | None,
    max_upload_mb: float,
    max_megapixels: float,
    batch_size: int,
    review: tuple[Path, Path] | None,
    hints_dir: Path | None,
    fmt: str | None,
    manifests: tuple[Path, ...],
) -> None:
    """Serve the colorizer over HTTP: POST /colorize, POST /candidates, GET /health, and
    a page at /; with --review, the photos of a finished run to correct (GET /pairs)."""
    try:
        import uvicorn

        from ..serve.app import create_app
    except ImportError as exc:
        raise click.UsageError(
            f"colorize serve needs the server extra ({exc}): {install_extra('serve')}"
        ) from None
    from ..api import Colorizer
    from ..files.read import ReadError
    from ..model.device import DeviceError
    from ..model.weights import WeightsError

    try:
        colorizer = Colorizer(weights, device)
    except (WeightsError, DeviceError) as exc:
        raise click.UsageError(str(exc)) from None
    pairs = None
    if review:
        from ..serve.review import Review

        src, dst = review
        if not src.is_dir():
            raise click.UsageError(f"--review: {src} is not a folder (the run's IN)")
        hints_dir = hints_dir or dst.with_name(dst.name + "-hints")
        try:
            pairs = Review(src, dst, hints_dir, colorizer, fmt, manifests)
        except ReadError as exc:
            raise click.UsageError(f"--manifest: {exc}") from None
        known = f", {len(pairs.confidence)} with a confidence" if manifests else ""
        click.echo(
            f"review: {len(pairs.order)} photos of {src} coloured into {dst}{known}; "
            f"corrections are saved under {hints_dir} (colorize {src} {dst} --hints "
            f"{hints_dir} --overwrite gives the same files)",
            err=True,
        )
    elif hints_dir or fmt or manifests:
        raise click.UsageError("--hints, --format and --manifest go with --review")
    app = create_app(
        colorizer,
        max_upload_mb=max_upload_mb,
        max_megapixels=max_megapixels,
        batch_size=batch_size,
        review=pairs,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
