"""Benchmark of the sync against Medusa's own floor (issue 5).

``python -m bench`` resets the local store and measures, for each catalog size, the floor
(``bench.floor``: the same Medusa writes with nothing in between), a full sync into an empty
store and an unchanged re-sync (both ``sync-pipeline sync`` subprocesses), then prints a table
and writes JSON (``bench/results/latest.json``). See ``docs/benchmark.md``.
"""
