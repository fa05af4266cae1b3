"""`letters`: the Latin letters A-Z as spoken in 14 languages of `klettres-data` (one native voice per language).
Split by language, so naming a letter must work in a language and voice unheard in train."""

from __future__ import annotations

import string
from pathlib import Path

from bench.real.kde_speech import klettres_clips
from bench.real.sources import counts, installed, write_card, write_manifest

TRAIN = ("de", "en", "en_GB", "hu", "it", "lt", "nb", "pt_BR")
VALIDATION = ("cs", "nds")
TEST = ("da", "es", "fr", "nl")


def convert(out: Path) -> None:
    """Write the manifest and card of the spoken-letters dataset into `out`."""
    source = installed("apt", "klettres-data")
    split_of = {**dict.fromkeys(TRAIN, "train"), **dict.fromkeys(VALIDATION, "validation"),
                **dict.fromkeys(TEST, "test")}
    clips = [c for c in klettres_clips(source) if c.kind == "letter" and c.language in split_of
             and c.name in string.ascii_uppercase]
    rows = [{"id": f"{c.language}/{c.name}", "path": str(c.path), "split": split_of[c.language], "letter": c.name,
             "language": c.language} for c in clips]
    write_manifest(out, rows)
    write_card(out, "Spoken letters across languages (klettres-data)", [source], f"""
Licence: GPL-2+ (every file; Debian `klettres-data` copyright).

Each clip is a letter name (A-Z only; letters with diacritics and digraphs are left out) read by a native speaker
for the KLettres alphabet game. Label `letter`. Splits are by language (and so by voice):

{counts(rows, "split", "language")}

Confounds: one voice per language folder (`en` and `en_GB` are two voices), so language, speaker and recording
setup coincide. Letter names differ between languages (English "double-u" against Spanish "uve doble"), so part of
the test set cannot be named from train languages' sounds; `nl` has 22 of the 26 letters.
""")
