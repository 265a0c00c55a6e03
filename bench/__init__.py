"""Benchmarks; each module is runnable (`python -m bench.<name> --help`) and writes its section of BENCHMARKS.md."""
