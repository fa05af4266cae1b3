"""`languages`: language identification with the speaker confound broken. In `klettres-data` and
`ktuberling-data` each language is one voice, so within one package a speaker model "identifies" languages. Column
`split_cross` trains on klettres voices and tests on ktuberling voices; `split_same` trains and tests on ktuberling
voices (words disjoint); both test on the same ktuberling clips, so the two scores compare directly."""

from __future__ import annotations

from pathlib import Path

from bench.real.kde_speech import klettres_clips, ktuberling_clips
from bench.real.sources import counts, installed, stable_fraction, write_card, write_manifest

# klettres folder -> language, for the languages both packages speak with enough clips
KLETTRES_LANGUAGES = {"da": "da", "de": "de", "en": "en", "en_GB": "en", "fr": "fr", "lt": "lt", "ru": "ru",
                      "uk": "uk"}
UNUSED = "unused"


def _word_split(name: str) -> str:
    """Train/validation/test for a ktuberling object name (words disjoint across the same-source splits)."""
    fraction = stable_fraction(f"languages/{name}")
    return "train" if fraction < 0.5 else "validation" if fraction < 0.7 else "test"


def convert(out: Path) -> None:
    """Write the manifest and card of the cross-source language-identification dataset into `out`."""
    letters_src = installed("apt", "klettres-data")
    words_src = installed("apt", "ktuberling-data")
    languages = set(KLETTRES_LANGUAGES.values())
    rows = []
    for c in klettres_clips(letters_src):
        if c.language in KLETTRES_LANGUAGES:
            rows.append({"id": f"klettres/{c.language}/{c.kind}/{c.name}", "path": str(c.path),
                         "language": KLETTRES_LANGUAGES[c.language], "source": "klettres",
                         "voice": f"klettres/{c.language}", "content": f"{c.kind}:{c.name}",
                         "split_cross": "train" if c.kind == "letter" else "validation", "split_same": UNUSED})
    for c in ktuberling_clips(words_src):
        if c.language in languages:
            part = _word_split(c.name)
            rows.append({"id": f"ktuberling/{c.language}/{c.name}", "path": str(c.path), "language": c.language,
                         "source": "ktuberling", "voice": f"ktuberling/{c.language}", "content": f"word:{c.name}",
                         "split_cross": "test" if part == "test" else UNUSED, "split_same": part})
    write_manifest(out, rows)
    write_card(out, "Language identification across sources (klettres-data, ktuberling-data)",
               [letters_src, words_src], f"""
Licence: GPL-2+ (every file; Debian copyright of both packages).

Label `language` ({len(languages)} languages: {', '.join(sorted(languages))}). Each language is one voice per
package (klettres `en` and `en_GB` are two English voices), so a score within one package may measure voice
identity. Two split columns, the same test clips (ktuberling object names whose name hashes into the test third):

- `split_cross`: train = klettres letters, validation = klettres syllables (same voices, other content), test =
  ktuberling words: every test voice is unheard in train and validation.
- `split_same`: train / validation / test = ktuberling words, object names disjoint across splits, voices shared.

{counts(rows, "split_cross", "voice")}

{counts(rows, "split_same", "voice")}

Confounds: in `split_cross` the recording setup and the kind of content (isolated letters against object names)
change with the source too, so a low cross-source score mixes language and channel shift; the gap between the
two scores bounds how much of the same-source score is voice or channel. Classes are unbalanced (fr and uk have
about three times as many ktuberling clips as de and en).
""")
