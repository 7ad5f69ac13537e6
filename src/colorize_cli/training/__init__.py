"""``colorize-train`` and ``colorize-eval``: train the colorizer from scratch, choose its
inference settings on held-out photos, and score it on colour photos it never saw."""
