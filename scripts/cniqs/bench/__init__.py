"""Benchmarks that print figures (no pass/fail thresholds: goals are read off the output)."""
