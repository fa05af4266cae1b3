"""`fillets_speaker`: which character of the game Fish Fillets NG speaks a voice-acted dialogue line.

The Czech dialogue recordings of Debian `fillets-ng-data-cs` (`sound/<level>/cs/<line id>.ogg`; Debian packages no
English voices) are labelled by the font that the level's `dialogs_cs.lua` (Debian `fillets-ng-data`) gives each
line id in `dialogId(id, font, text)`: the game draws each character's subtitles in its own font. Named fonts
(font_small, font_big, font_parrot, ...) are one character each; colour fonts (font_white, font_cyan, ...) are
reused by different characters of different levels, so there the character is the font within one level.
Characters with at least `MIN_LINES` lines are kept; the two fish are capped at `FISH_CAP` lines each; every
character's lines are dealt to test / validation / train by a hash of the line id, so no line is in two splits.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.real.sources import counts, installed, require_dir, stable_fraction, write_card, write_manifest

GAME_DIR = "usr/share/games/fillets-ng"
LANGUAGE = "cs"
MIN_LINES = 18
FISH = ("font_small", "font_big")
FISH_CAP = 100
NAMED = {"font_small": "small_fish", "font_big": "big_fish"}  # the others keep their font name without 'font_'
COLOUR_FONTS = ("font_white", "font_lightgrey", "font_darkgrey", "font_yellow", "font_cyan", "font_green",
                "font_brown", "font_magenta")
_DIALOG = re.compile(r'dialogId\(\s*"([^"]+)"\s*,\s*"([^"]*)"')


def line_fonts(game: Path, language: str = LANGUAGE) -> dict[tuple[str, str], str]:
    """(level, line id) -> subtitle font, from every `script/<level>/dialogs_<language>.lua` (also `script/share`)."""
    fonts = {}
    for lua in sorted((game / "script").glob(f"*/dialogs_{language}.lua")) + sorted(
            (game / "script" / "share").glob(f"*_dialogs_{language}.lua")):
        for line_id, font in _DIALOG.findall(lua.read_text(encoding="utf-8", errors="replace")):
            fonts.setdefault((lua.parent.name, line_id), font)
    return fonts


def character(level: str, font: str) -> str | None:
    """The character speaking in `font` in `level` (None for no font or `font_both`, two speakers at once)."""
    if not font.startswith("font_") or font == "font_both":
        return None
    name = NAMED.get(font, font[len("font_"):])
    return f"{name}@{level}" if font in COLOUR_FONTS else name


def speaker_lines(game: Path, language: str = LANGUAGE) -> list[dict[str, str]]:
    """One row per distinct line id with a recording and a known character: id, path, level, character, font.
    A line recorded in two levels (identical copies) is kept once, at its first level in path order."""
    fonts = line_fonts(game, language)
    by_id: dict[str, str] = {}
    for (_, line_id), font in fonts.items():
        by_id.setdefault(line_id, font)
    rows, seen = [], set()
    for ogg in sorted((game / "sound").glob(f"**/{language}/*.ogg")):
        level, line_id = ogg.parent.parent.relative_to(game / "sound").as_posix(), ogg.stem
        font = fonts.get((level, line_id), by_id.get(line_id, ""))
        who = character(level.split("/")[-1], font)
        if who is None or line_id in seen:
            continue
        seen.add(line_id)
        rows.append({"id": line_id, "path": str(ogg), "level": level, "character": who, "font": font})
    return rows


def select_and_split(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Keep characters with at least MIN_LINES lines, cap each fish at FISH_CAP (lowest hashes kept), and deal
    each character's lines by hash: the first quarter test, the next 15% validation, the rest train."""
    out = []
    for who in sorted({r["character"] for r in rows}):
        lines = sorted((r for r in rows if r["character"] == who), key=lambda r: stable_fraction(f"fillets/{r['id']}"))
        if len(lines) < MIN_LINES:
            continue
        if lines[0]["font"] in FISH:
            lines = lines[:FISH_CAP]
        n_test, n_val = max(1, round(0.25 * len(lines))), max(1, round(0.15 * len(lines)))
        for i, row in enumerate(lines):
            split = "test" if i < n_test else "validation" if i < n_test + n_val else "train"
            out.append({**row, "split": split})
    return out


def convert(out: Path) -> None:
    """Write the manifest and card of the fillets speaker dataset into `out`."""
    voices = installed("apt", f"fillets-ng-data-{LANGUAGE}")
    scripts = installed("apt", "fillets-ng-data")
    game = require_dir(voices.root / GAME_DIR / "sound", voices).parent
    require_dir(game / "script", scripts)
    rows = select_and_split(speaker_lines(game))
    write_manifest(out, rows)
    kept = sorted({r["character"] for r in rows})
    write_card(out, "Speaker identity in Fish Fillets NG dialogue (fillets-ng-data-cs)", [voices, scripts], f"""
Licence: GPL-2 (both packages; /usr/share/doc/fillets-ng-data-cs/copyright: "version 2 dated June, 1991").

{len(rows)} voice-acted Czech dialogue lines (Ogg Vorbis, 22.05 kHz mono) of {len(kept)} characters:
{", ".join(kept)}. Label `character`: the subtitle font that the level's `dialogs_cs.lua` gives the line id (a
colour font is one character within one level, named `<colour>@<level>`). Characters with at least {MIN_LINES}
lines are kept; the two fish (about 700 lines each) are capped at {FISH_CAP} lines (lowest hashes of the line id)
to limit imbalance. Each character's lines are dealt by a hash of the line id: a quarter to test, 15% to
validation, the rest to train; a line recorded in two levels is one line. `level` is the game level (scene).

{counts(rows, "split", "character")}

Confounds: each character is one actor, so the task identifies actors (one of whom may voice several minor
characters: the credits do not say). The fish speak in every level, the other characters in one to three levels
each, so for them character, level and recording session coincide. Voices of non-human characters (parrot,
statue, gods, linuxers) may be processed (pitch, filters); the recording setup is not documented.
""")
