"""The colorizer network, its weights on disk, the device it runs on, and
:class:`~colorize_cli.model.colorizer.Colorizer`, the one object that runs it."""
