"""`words`: spoken object names of `ktuberling-data`, the same vocabulary in many languages, one voice per
language. Split by language (languages unseen in train), so naming the concept needs word content, not voice."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from bench.real.kde_speech import ktuberling_clips
from bench.real.sources import counts, installed, write_card, write_manifest

# Languages with most of the vocabulary; the others have 11-15 clips each and are left out.
# Folds of languages (k-fold by language: each fold is tested once, with the next fold validating and the others
# training); related languages sit in different folds, so a held-out language keeps its relatives in train.
FOLDS = (("ca", "ru"), ("en", "el"), ("fr", "uk"), ("lt", "gl"), ("nn", "sl"), ("wa", "de"), ("da",))


def convert(out: Path) -> None:
    """Write the manifest and card of the cross-lingual words dataset into `out`."""
    source = installed("apt", "ktuberling-data")
    split_of = {lang: str(i) for i, langs in enumerate(FOLDS) for lang in langs}
    clips = [c for c in ktuberling_clips(source) if c.language in split_of]
    languages_of = defaultdict(set)
    for clip in clips:
        languages_of[clip.name].add(clip.language)
    shared = {name for name, langs in languages_of.items() if langs >= set(split_of)}
    if not shared:
        raise ValueError(f"ktuberling-data {source.version}: no object name is spoken in every one of "
                         f"{sorted(split_of)}; the package layout changed")
    rows = [{"id": f"{c.language}/{c.name}", "path": str(c.path), "fold": split_of[c.language],
             "word": c.name, "language": c.language} for c in clips if c.name in shared]
    write_manifest(out, rows)
    write_card(out, "Cross-lingual spoken words (ktuberling-data)", [source], f"""
Licence: GPL-2+ (every file; Debian `ktuberling-data` copyright).

Each clip is one object name of the KTuberling game (e.g. `ball`, `egypt_camel`), spoken by a native speaker of
its language. Label `word`: the game's object name, {len(shared)} names spoken in all {len(split_of)} languages.
Folds are by language ({len(FOLDS)} folds: each is tested once while the next one validates and the others
train), so every test voice is unheard in train and every clip is tested once:

{counts(rows, "fold", "language")}

Confounds: each language folder is (as far as the package says) one voice and one recording setup, so speaker,
language and microphone coincide. Words of related languages (cognates such as `pizzeria_*`, `moon_radar`)
sound alike; unrelated ones do not, so a high score needs cross-lingual word content that few audio encoders
have. Sample rates differ by language (8-48 kHz); formats are WAV, Ogg Vorbis and Ogg Opus.
""")
