"""Colour black-and-white photographs and film frames in batches.

The public API; the ``colorize`` command is a thin layer over it::

    from colorize_cli import Colorizer, Options, colorize_dir

Names are imported on first use, so that ``colorize --version`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Colorizer": "model.colorizer",
    "Hint": "colour.hints",
    "Job": "files.discover",
    "Options": "config",
    "Result": "results",
    "Summary": "results",
    "colorize_dir": "api",
    "colorize_paths": "api",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
