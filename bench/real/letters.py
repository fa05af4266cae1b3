"""`letters`: the Latin letters A-Z as spoken in 14 languages of `klettres-data` (one native voice per language).
Split by language, so naming a letter must work in a language and voice unheard in train."""

from __future__ import annotations

import string
from pathlib import Path

from bench.real.kde_speech import klettres_clips
from bench.real.sources import counts, installed, write_card, write_manifest

# Folds of language folders (k-fold by language; en and en_GB, two English voices, share a fold so English is
# never both trained on and tested); related languages sit in different folds, and every fold has all 26 letters.
FOLDS = (("da", "es"), ("de", "fr"), ("en", "en_GB"), ("nb", "it"), ("nds", "cs"), ("pt_BR", "lt"), ("nl", "hu"))


def convert(out: Path) -> None:
    """Write the manifest and card of the spoken-letters dataset into `out`."""
    source = installed("apt", "klettres-data")
    split_of = {lang: str(i) for i, langs in enumerate(FOLDS) for lang in langs}
    clips = [c for c in klettres_clips(source) if c.kind == "letter" and c.language in split_of
             and len(c.name) == 1 and c.name in string.ascii_uppercase]
    rows = [{"id": f"{c.language}/{c.name}", "path": str(c.path), "fold": split_of[c.language], "letter": c.name,
             "language": c.language} for c in clips]
    write_manifest(out, rows)
    write_card(out, "Spoken letters across languages (klettres-data)", [source], f"""
Licence: GPL-2+ (every file; Debian `klettres-data` copyright).

Each clip is a letter name (A-Z only; letters with diacritics and digraphs are left out) read by a native speaker
for the KLettres alphabet game. Label `letter`. Folds are by language ({len(FOLDS)} folds: each is tested once while
the next one validates and the others train), so every test voice is unheard in train:

{counts(rows, "fold", "language")}

Confounds: one voice per language folder (`en` and `en_GB` are two voices), so language, speaker and recording
setup coincide. Letter names differ between languages (English "double-u" against Spanish "uve doble"), so part of
the test set cannot be named from train languages' sounds; `nl` has 22 of the 26 letters.
""")
