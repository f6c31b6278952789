"""Evaluation runs: the SQLite results store, run comparison, and engines (local, Ray)."""
