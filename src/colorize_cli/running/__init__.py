"""Ways to run a list of jobs through the stages (read -> model -> compose -> write):
the local engine now, others later, all taking the same jobs and options and returning
the same :class:`~colorize_cli.results.Summary`."""
