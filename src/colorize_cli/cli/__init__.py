"""The ``colorize`` command and what it shows on the terminal; it parses options and calls
:mod:`colorize_cli.api`, nothing more."""
