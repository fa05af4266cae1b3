"""`bench data prepare`: convert a published dataset, as its publisher ships it, into a bench dataset folder.

The folder holds `manifest.jsonl` (absolute paths to the audio, which stays where it is; X-ARES shards are the
exception and are extracted), optional `trials.jsonl`, `card.md` and `checksums.sha256` (the prepared files by
relative path, the audio by absolute path, so loading does not hash the audio again). It is written into a
temporary folder and renamed into place; a registry under `$BENCH_HOME/data/prepared/` remembers where each dataset
was prepared, so tasks with `dataset: {source: prepared, name: NAME}` find it.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from pathlib import Path

from bench.data import DatasetError
from bench.paths import data_dir
from bench.prepare.layout import PrepareError
from bench.prepare.registry import DATASETS, dataset_info

logger = logging.getLogger(__name__)

__all__ = ["PrepareError", "default_destination", "known_datasets", "prepare", "prepared_locations", "prepared_root"]

REGISTRY_FILE = "locations.json"


def _registry_path() -> Path:
    return data_dir() / "prepared" / REGISTRY_FILE


def prepared_locations() -> dict[str, str]:
    """Dataset name -> folder it was prepared into (as remembered on this machine)."""
    path = _registry_path()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DatasetError(f"{path}: unreadable registry of prepared datasets ({err}); delete it and run "
                           f"`bench data prepare` again") from err
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _remember(name: str, folder: Path) -> None:
    path = _registry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    locations = prepared_locations()
    locations[name] = str(folder)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(locations, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def default_destination(name: str) -> Path:
    """Where `prepare` writes when no destination is given."""
    return data_dir() / "prepared" / name


def prepared_root(name: str) -> Path:
    """The folder of prepared dataset `name` (holding manifest.jsonl and checksums.sha256); DatasetError naming
    where it looked and how to prepare it when it is not there."""
    from bench.prepare.writer import CHECKSUM_FILE

    remembered = prepared_locations().get(name)
    candidates = [Path(remembered)] if remembered else []
    candidates.append(default_destination(name))
    for folder in candidates:
        if (folder / CHECKSUM_FILE).is_file() and (folder / "manifest.jsonl").is_file():
            return folder
    try:
        published = f"; it is published at {dataset_info(name).published_at}"
    except KeyError:
        published = " (no preparer knows this name: see `bench data list`)"
    looked = ", ".join(f"'{c}'" for c in candidates)
    raise DatasetError(f"prepared dataset '{name}' not found (looked in {looked}); download it yourself, then run "
                       f"`bench data prepare {name} --from DIR` with DIR the extracted archive{published}")


def prepare(name: str, src: Path, dst: Path | None = None) -> Path:
    """Run the preparer of dataset `name` on the publisher's folder `src`; write the prepared folder `dst`
    (default `$BENCH_HOME/data/prepared/NAME`) atomically and remember it. Returns the folder."""
    from bench.prepare.writer import write_prepared

    info = dataset_info(name)
    src = Path(src).expanduser().resolve()
    if not src.is_dir():
        raise PrepareError(f"{name}: --from '{src}' is not a folder; pass the folder of the extracted archive "
                           f"(published at {info.published_at})")
    module, attr = info.target.split(":")
    preparer = getattr(importlib.import_module(module), attr)
    prepared = preparer(src, name) if name.startswith(("hear-", "xares-")) else preparer(src)
    if not prepared.rows:
        raise PrepareError(f"{name}: no clips found under '{src}'; is it the extracted archive "
                           f"(published at {info.published_at})?")
    final = Path(dst).expanduser().resolve() if dst else default_destination(name)
    write_prepared(name, info, src, prepared, final)
    _remember(name, final)
    logger.info(f"[bench] prepared '{name}': {len(prepared.rows)} clips into {final}")
    return final


def known_datasets() -> list[str]:
    """Names of the datasets with their own preparer (besides hear-<task> and xares-<task>)."""
    return sorted(DATASETS)
