"""``colorize serve``: start the HTTP service (an extra: ``colorize-archive[serve]``).

The command only checks the extra, loads the colorizer once and hands both to uvicorn;
the service itself is :mod:`colorize_cli.serve`.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..config import install_extra
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
def serve(
    host: str,
    port: int,
    device: str,
    weights: Path | None,
    max_upload_mb: float,
    max_megapixels: float,
    batch_size: int,
) -> None:
    """Serve the colorizer over HTTP: POST /colorize, GET /health, and a page at /."""
    try:
        import uvicorn

        from ..serve.app import create_app
    except ImportError as exc:
        raise click.UsageError(
            f"colorize serve needs the server extra ({exc}): {install_extra('serve')}"
        ) from None
    from ..api import Colorizer
    from ..model.device import DeviceError
    from ..model.weights import WeightsError

    try:
        colorizer = Colorizer(weights, device)
    except (WeightsError, DeviceError) as exc:
        raise click.UsageError(str(exc)) from None
    app = create_app(
        colorizer,
        max_upload_mb=max_upload_mb,
        max_megapixels=max_megapixels,
        batch_size=batch_size,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
