"""``python -m colorize_cli IN OUT``: the same as the ``colorize`` command."""

from .cli.colorize import entry

entry()
