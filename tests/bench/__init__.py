"""Benchmarks: the numbers behind speed and memory targets, run with ``make bench``.

Not tests: pytest does not collect this package (no ``test_*.py`` files). Each benchmark lives
in a ``bench_<name>.py`` module whose ``run(options)`` returns a ``report.Section`` of named
metrics; ``python -m tests.bench`` runs the ones asked for, prints a table, writes
``.local/bench/<suite>-<timestamp>.json`` and compares it with the previous run with the same
settings.
"""
