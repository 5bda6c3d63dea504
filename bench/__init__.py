"""Benchmarks of the workflowapp host (see bench/README.md); never part of the test suite."""
