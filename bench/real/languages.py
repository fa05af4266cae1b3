"""Language identification with the speaker confound broken. In `klettres-data` and `ktuberling-data` each
language is one voice, so within one package a speaker model "identifies" languages. `languages_cross` trains on
klettres voices and tests on ktuberling voices; `languages_same` trains and tests on ktuberling voices (object
names disjoint across splits). Both test on the same ktuberling clips, so the two scores compare directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.real.kde_speech import klettres_clips, ktuberling_clips
from bench.real.sources import Installed, counts, installed, stable_fraction, write_card, write_manifest

# klettres folder -> language, for the languages both packages speak with enough clips
KLETTRES_LANGUAGES = {"da": "da", "de": "de", "en": "en", "en_GB": "en", "fr": "fr", "lt": "lt", "ru": "ru",
                      "uk": "uk"}
UNUSED = "unused"


def _word_split(name: str) -> str:
    """Train/validation/test for a ktuberling object name (words disjoint across the same-source splits)."""
    fraction = stable_fraction(f"languages/{name}")
    return "train" if fraction < 0.5 else "validation" if fraction < 0.7 else "test"


def _rows(letters_src: Installed, words_src: Installed) -> list[dict[str, Any]]:
    """Every clip of the shared languages with its cross-source and same-source split."""
    languages = set(KLETTRES_LANGUAGES.values())
    rows = []
    for c in klettres_clips(letters_src):
        if c.language in KLETTRES_LANGUAGES:
            rows.append({"id": f"klettres/{c.language}/{c.kind}/{c.name}", "path": str(c.path),
                         "language": KLETTRES_LANGUAGES[c.language], "source": "klettres",
                         "voice": f"klettres/{c.language}", "content": f"{c.kind}:{c.name}",
                         "cross": "train" if c.kind == "letter" else "validation", "same": UNUSED})
    for c in ktuberling_clips(words_src):
        if c.language in languages:
            part = _word_split(c.name)
            rows.append({"id": f"ktuberling/{c.language}/{c.name}", "path": str(c.path), "language": c.language,
                         "source": "ktuberling", "voice": f"ktuberling/{c.language}", "content": f"word:{c.name}",
                         "cross": "test" if part == "test" else UNUSED, "same": part})
    return rows


def _convert(out: Path, which: str, title: str, splits: str) -> None:
    letters_src = installed("apt", "klettres-data")
    words_src = installed("apt", "ktuberling-data")
    rows = []
    for row in _rows(letters_src, words_src):
        split = row.pop(which)
        row.pop("same" if which == "cross" else "cross")
        if split != UNUSED:
            rows.append({**row, "split": split})
    languages = sorted({r["language"] for r in rows})
    write_manifest(out, rows)
    write_card(out, title, [letters_src, words_src], f"""
Licence: GPL-2+ (every file; Debian copyright of both packages).

Label `language` ({len(languages)} languages: {', '.join(languages)}). Each language is one voice per package
(klettres `en` and `en_GB` are two English voices), so a score within one package may measure voice identity.
{splits} The test clips are the ktuberling object names whose name hashes into the test third; `languages_cross`
and `languages_same` share them, so their scores compare directly.

{counts(rows, "split", "voice")}

Confounds: across sources the recording setup and the kind of content (isolated letters against object names)
change with the voice, so a low cross-source score mixes language and channel shift; the gap between the two
scores bounds how much of the same-source score is voice or channel. Classes are unbalanced (fr and uk have about
three times as many ktuberling clips as de and en).
""")


def convert_cross(out: Path) -> None:
    """Language ID across sources: train klettres letters, validate on klettres syllables, test ktuberling words."""
    _convert(out, "cross", "Language identification across sources (klettres-data -> ktuberling-data)",
             "Train = klettres letters, validation = klettres syllables (same voices, other content), test = "
             "ktuberling words: every test voice is unheard in train and validation.")


def convert_same(out: Path) -> None:
    """Language ID within ktuberling: object names disjoint across splits, voices shared."""
    _convert(out, "same", "Language identification within one source (ktuberling-data)",
             "Train, validation and test = ktuberling words, object names disjoint across splits, voices shared: "
             "the voice shortcut is open on purpose (a reference score).")
