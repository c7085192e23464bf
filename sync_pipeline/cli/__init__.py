"""The ``sync-pipeline`` command line: the parser (``main``), the pipeline's commands (``sync``,
``demo``, ``errors``, ``ui``), the in-process runner they share, its progress and summary, and
the preflight that turns a bad setting into one sentence."""

from sync_pipeline.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
