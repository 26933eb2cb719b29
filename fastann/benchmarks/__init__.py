"""Benchmark jobs, one module per job, using fastann through its public API."""
