"""Read the spoken clips of the KDE games `ktuberling-data` (object names) and `klettres-data` (letters and
syllables) as installed by Debian: each language's sound list (XML) maps a name to a file in that language's folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench.real.sources import Installed, require_dir

KTUBERLING_DIR = "usr/share/ktuberling/sounds"
KLETTRES_DIR = "usr/share/klettres"
_SOUND = re.compile(r'<sound\s+name="([^"]+)"\s+file="([^"]+)"\s*/>')


@dataclass(frozen=True)
class Clip:
    """One spoken clip: its language folder, what it says (`name`), its kind (word, letter, syllable), its file."""

    language: str
    name: str
    kind: str
    path: Path


def _own_files(lang: str, pairs: list[tuple[str, str]], base: Path) -> list[tuple[str, Path]]:
    """(name, file) pairs whose file lies in the language's own folder and exists (a list may point elsewhere)."""
    out, seen = [], set()
    for name, rel in pairs:
        path = base / rel
        if rel.startswith(f"{lang}/") and path.is_file() and rel not in seen:
            seen.add(rel)
            out.append((name, path))
    return out


def ktuberling_clips(source: Installed) -> list[Clip]:
    """Every object name of every language of `ktuberling-data` (from `sounds/<lang>.soundtheme`)."""
    base = require_dir(source.root / KTUBERLING_DIR, source)
    clips = []
    for theme in sorted(base.glob("*.soundtheme")):
        lang = theme.name[: -len(".soundtheme")]
        pairs = _SOUND.findall(theme.read_text(encoding="utf-8"))
        clips += [Clip(lang, name, "word", path) for name, path in _own_files(lang, pairs, base)]
    return clips


def klettres_clips(source: Installed) -> list[Clip]:
    """Every letter (`<alphabet>`) and syllable (`<syllables>`) of every language of `klettres-data`."""
    base = require_dir(source.root / KLETTRES_DIR, source)
    clips = []
    for listing in sorted(base.glob("*/sounds.xml")):
        lang = listing.parent.name
        text = listing.read_text(encoding="utf-8")
        for kind, tag in (("letter", "alphabet"), ("syllable", "syllables")):
            block = re.search(rf"<{tag}>(.*?)</{tag}>", text, flags=re.S)
            pairs = _SOUND.findall(block.group(1)) if block else []
            clips += [Clip(lang, name, kind, path) for name, path in _own_files(lang, pairs, base)]
    return clips
