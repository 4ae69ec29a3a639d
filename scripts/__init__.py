"""Benchmarks, evaluations and operations, run as modules from the repository root
(``.venv/bin/python -m scripts.bench_serving``). What they share is in ``scripts.lib``; no script imports
another."""
