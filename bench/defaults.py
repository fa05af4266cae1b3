"""Defaults shared by the Python API, the CLI and the scripts: one place for each (a light module, no imports)."""

DEFAULT_SEEDS = (0, 1, 2)  # probe seeds of a run
DEFAULT_BATCH_SECONDS = 320.0  # padded audio per extraction batch (rows x longest row), in seconds
