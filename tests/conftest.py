"""Shared fixtures: an isolated BENCH_HOME, and small datasets of clips made in code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

TONE_CLASSES = {"low": 220.0, "mid": 660.0, "high": 1760.0}


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own BENCH_HOME, so nothing touches the user's cache."""
    home = tmp_path_factory.mktemp("bench_home")
    monkeypatch.setenv("BENCH_HOME", str(home))
    monkeypatch.delenv("BENCH_CACHE", raising=False)
    monkeypatch.delenv("BENCH_TASKS_PATH", raising=False)
    return home


def write_tone_dataset(root: Path, per_class_split: int = 6, seed: int = 0, rate: int = 16000) -> Path:
    """A manifest dataset of noisy tones (3 classes) with train/validation/test splits; returns its folder."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    rows = []
    for split in ("train", "validation", "test"):
        for label, freq in TONE_CLASSES.items():
            for i in range(per_class_split):
                seconds = rng.uniform(0.4, 1.6)
                t = np.arange(int(seconds * rate)) / rate
                wave = 0.3 * np.sin(2 * np.pi * freq * rng.uniform(0.97, 1.03) * t) + 0.05 * rng.standard_normal(len(t))
                name = f"audio/{split}_{label}_{i}.wav"
                sf.write(root / name, wave.astype(np.float32), rate, subtype="PCM_16")
                rows.append({"id": f"{split}_{label}_{i}", "path": name, "split": split, "label": label,
                             "pitch_hz": freq})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def write_task(folder: Path, dataset_path: Path, name: str = "test/tones", protocols=("linear",), **extra) -> Path:
    """A task YAML over a manifest dataset; returns its path."""
    import yaml

    spec = {
        "name": name, "version": 1, "domain": "sound", "description": "noisy tones",
        "dataset": {"source": "manifest", "path": str(dataset_path)},
        "label": {"kind": "multiclass", "column": "label"},
        "split": {"column": "split"},
        "protocols": [{"kind": p} for p in protocols],
        "chance": 1 / 3,
        **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name.replace('/', '_')}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture
def tone_dataset(tmp_path) -> Path:
    return write_tone_dataset(tmp_path / "tones")


def protocol_task(kind: str, main_score: str, label_kind: str, column: str, domain: str = "sound",
                  dataset_dir: str = "/nonexistent", **config):
    """A parsed one-protocol task over a manifest dataset (never loaded by protocol unit tests)."""
    from bench.taskspec import parse_task

    return parse_task({
        "name": f"test/{kind}", "version": 1, "domain": domain,
        "dataset": {"source": "manifest", "path": str(dataset_dir)},
        "label": {"kind": label_kind, "column": column}, "split": {"column": "split"},
        "protocols": [{"kind": kind, "main_score": main_score, **config}],
    }, "test.yaml")
