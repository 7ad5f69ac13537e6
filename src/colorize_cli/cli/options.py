"""Click options that several commands share (``colorize``, ``colorize-eval``): one
definition each, so their names, defaults and help never drift apart."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import Options

device_option = click.option(
    "--device",
    default=Options.device,
    show_default=True,
    help="auto, cpu, cuda or cuda:N (auto takes CUDA when present).",
)
weights_option = click.option(
    "--weights",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Colorizer weights (.safetensors) instead of the shipped ones.",
)
temperature_option = click.option(
    "--temperature",
    type=click.FloatRange(0.01, 10.0),
    help="Annealed-mean temperature: lower is more vivid (default: the weights').",
)
