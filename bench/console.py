"""What the `bench` command shows: library modules log to the "bench" logger; the CLI installs `console()`,
which prints INFO messages as they are (e.g. "[bench] ... up to date ...") to stdout and warnings to stderr."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator


class _ConsoleHandler(logging.Handler):
    """Plain lines: INFO to stdout, WARNING and above to stderr (the streams are looked up at each message)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # a logging handler must never raise
            self.handleError(record)


@contextlib.contextmanager
def console(quiet: bool = False) -> Iterator[None]:
    """Show the "bench" logger's messages on the terminal while inside (warnings only when `quiet`)."""
    logger = logging.getLogger("bench")
    handler = _ConsoleHandler()
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False  # not twice when the root logger has a handler too
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def hide_library_progress_bars() -> None:
    """Hide the progress bars of transformers and datasets (`--no-progress`) without importing them: those already
    imported are switched off now, and the environment switches them off in libraries imported later."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # read by huggingface_hub, whose setting transformers adopts
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    if "huggingface_hub" in sys.modules:  # imported already (by datasets): transformers copies its setting
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
