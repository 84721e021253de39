"""Throughput and latency benchmark of the pipeline (see docs/benchmarks.md)."""
