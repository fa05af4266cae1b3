"""bench: an open benchmark harness for audio encoders.

`import bench` is light (no torch, no transformers); the Python API is `bench.run(...)`, which is what the
`bench run` command calls.
"""

__version__ = "0.1.0"

__all__ = ["run", "__version__"]


def __getattr__(name: str):
    if name == "run":
        from bench.runner import run

        return run
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
