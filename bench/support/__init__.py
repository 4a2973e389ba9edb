"""Helpers shared by the benchmarks under bench/ (not benchmarks themselves: `make bench` runs
bench/*.py only)."""
