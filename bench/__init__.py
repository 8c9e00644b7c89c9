"""Benchmark suite for engagement: `make bench` (not part of CI). See bench/run.py."""
