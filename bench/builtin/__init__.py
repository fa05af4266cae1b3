"""The built-in suite: datasets generated deterministically from a seed on first use, offline.

Each generator is `generate(out_dir: Path, tier: str, seed: int) -> None` and writes a dataset folder in the
manifest format of `tasks/README.md` (manifest.jsonl, audio files, card.md, optional trials.jsonl / RTTM).
`ensure_builtin` runs it into a temporary folder, writes checksums, and renames the folder into place, so a
killed generation never leaves a half-written dataset behind.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import time
from pathlib import Path

from bench.paths import data_dir

TIERS = ("quick", "full")

# generator name -> "module:function"
GENERATORS: dict[str, str] = {
    "keywords": "bench.builtin.speech:generate_keywords",
    "language": "bench.builtin.speech:generate_language",
    "sentences": "bench.builtin.speech:generate_sentences",
    "speaker_id": "bench.builtin.speech:generate_speaker_id",
    "verification": "bench.builtin.speech:generate_verification",
    "gender": "bench.builtin.speech:generate_gender",
    "prosody": "bench.builtin.speech:generate_prosody",
    "counting": "bench.builtin.speech:generate_counting",
    "diarization": "bench.builtin.speech:generate_diarization",
    "instrument": "bench.builtin.music:generate_instrument",
    "pitch": "bench.builtin.music:generate_pitch",
    "chord": "bench.builtin.music:generate_chord",
    "sound_events": "bench.builtin.sound:generate_sound_events",
    "sound_scenes": "bench.builtin.sound:generate_sound_scenes",
    "captions": "bench.builtin.sound:generate_captions",
    "spatial": "bench.builtin.spatial:generate_spatial",
}

CHECKSUM_FILE = "checksums.sha256"


def dataset_path(name: str, tier: str, seed: int = 0) -> Path:
    """Where the built-in dataset `name` of `tier` generated with `seed` lives."""
    return data_dir() / "builtin" / f"seed{seed}" / tier / name


def file_checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` (relative posix path -> hex digest), checksum file excluded."""
    sums = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUM_FILE):
        sums[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def write_checksums(folder: Path) -> None:
    """Write `checksums.sha256` in `sha256sum` format."""
    lines = [f"{digest}  {rel}\n" for rel, digest in file_checksums(folder).items()]
    (folder / CHECKSUM_FILE).write_text("".join(lines))


def ensure_builtin(name: str, tier: str, seed: int = 0, progress: bool = True) -> Path:
    """Return the folder of a built-in dataset, generating it first if it is not there yet."""
    if name not in GENERATORS:
        import difflib

        close = difflib.get_close_matches(name, GENERATORS, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown built-in dataset '{name}'.{hint} Known: {', '.join(sorted(GENERATORS))}")
    if tier not in TIERS:
        raise ValueError(f"unknown tier '{tier}' for built-in dataset '{name}'; expected one of {TIERS}")
    final = dataset_path(name, tier, seed)
    if (final / CHECKSUM_FILE).exists():
        return final
    module, attr = GENERATORS[name].split(":")
    generate = getattr(importlib.import_module(module), attr)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    start = time.perf_counter()
    if progress:
        print(f"[bench] generating built-in dataset '{name}' ({tier}, seed {seed}) into {final} ...", flush=True)
    generate(tmp, tier, seed)
    write_checksums(tmp)
    if final.exists():  # another process won the race; keep its copy
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, final)
    if progress:
        print(f"[bench] generated '{name}' in {time.perf_counter() - start:.1f} s", flush=True)
    return final
