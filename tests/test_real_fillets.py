"""bench.real.fillets on a fake tree laid out as Debian fillets-ng-data (Lua scripts) and fillets-ng-data-cs (Czech
voice files) install it: characters from subtitle fonts, line-disjoint splits, the task file, a tiny mfcc run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.real import sources
from bench.real.sources import Installed

GAME = "usr/share/games/fillets-ng"
TASK = Path(__file__).resolve().parents[1] / "tasks" / "real" / "fillets_speaker.yaml"
# level -> [(line id, font)], as the levels' dialogs_cs.lua give them; every line has a voice file in sound/<level>/cs/
LEVELS = {
    "airplane": [(f"let-m-{i}", "font_small") for i in range(60)] + [(f"let-v-{i}", "font_big") for i in range(60)],
    "kitchen": [(f"kuch-m-{i}", "font_small") for i in range(60)] + [(f"kuch-v-{i}", "font_big") for i in range(60)],
    "cabin1": [(f"k1-pap-{i}", "font_parrot") for i in range(20)] + [("k1-both", "font_both")],
    "cabin2": [(f"k1-pap-{i}", "font_parrot") for i in range(3)],  # the same lines again (identical copies)
    "gods": [(f"bh-c-{i}", "font_cyan") for i in range(19)] + [(f"bh-x-{i}", "") for i in range(5)],
    "hole": [(f"hole-c-{i}", "font_cyan") for i in range(5)],  # another character in the same colour font
    "snail": [(f"sn-s-{i}", "font_snail") for i in range(4)],  # too few lines: left out
}


def make_fillets(root: Path) -> None:
    """script/<level>/dialogs_cs.lua with dialogId(id, font, text) lines, sound/<level>/cs/<id>.ogg voices."""
    for k, (level, lines) in enumerate(LEVELS.items()):
        script = root / GAME / "script" / level
        script.mkdir(parents=True, exist_ok=True)
        text = "\n".join(f'dialogId("{line}", "{font}", "Text {line}.")' for line, font in lines)
        (script / "dialogs_cs.lua").write_text(f"\n{text}\n", encoding="utf-8")
        (script / "dialogs_en.lua").write_text(text.replace("font_small", "font_big"), encoding="utf-8")
        for j, (line, font) in enumerate(lines):
            path = root / GAME / "sound" / level / "cs" / f"{line}.ogg"
            path.parent.mkdir(parents=True, exist_ok=True)
            freq = {"font_small": 300, "font_big": 120}.get(font, 500 + 40 * k) + 3 * (j % 7)
            t = np.arange(int(0.3 * 22050)) / 22050
            noise = 0.01 * np.random.default_rng(j).standard_normal(len(t))
            sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32), 22050, format="OGG")
    (root / GAME / "sound" / "share").mkdir(parents=True, exist_ok=True)  # effects without a language folder


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fillets")
    make_fillets(root)
    return root


@pytest.fixture
def fake_installed(tree, monkeypatch, tmp_path):
    packages = {("apt", p): Installed("apt", p, "1.0.1-1.1", tree) for p in ("fillets-ng-data", "fillets-ng-data-cs")}
    for manager in ("apt", "pip", "npm"):
        monkeypatch.setitem(sources._FINDERS, manager,
                            lambda package, manager=manager: packages.get((manager, package)))
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    return tree


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_characters_from_fonts_and_line_disjoint_splits(fake_installed):
    from bench.real import ensure_real
    from bench.real.fillets import FISH_CAP

    folder = ensure_real("fillets_speaker", progress=False)
    rows = _rows(folder)
    counts = {c: sum(r["character"] == c for r in rows) for c in {r["character"] for r in rows}}
    # fish capped; the parrot's cabin2 copies are the cabin1 lines; cyan in gods and in hole are two characters,
    # and the hole one (5 lines), the snail (4), font_both and font-less lines are left out
    assert counts == {"small_fish": FISH_CAP, "big_fish": FISH_CAP, "parrot": 20, "cyan@gods": 19}
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(r["level"] == "cabin1" for r in rows if r["character"] == "parrot")
    for who in counts:
        splits = [r["split"] for r in rows if r["character"] == who]
        assert {s: splits.count(s) for s in set(splits)} == {
            "test": round(0.25 * counts[who]), "validation": round(0.15 * counts[who]),
            "train": counts[who] - round(0.25 * counts[who]) - round(0.15 * counts[who])}, who
    card = (folder / "card.md").read_text()
    assert "GPL-2" in card and "fillets-ng-data-cs` 1.0.1-1.1" in card


def test_missing_voice_package_names_the_install_script(fake_installed, monkeypatch):
    from bench.real import MissingSourceError, ensure_real

    monkeypatch.setitem(sources._FINDERS, "apt", lambda package: None)
    with pytest.raises(MissingSourceError, match="fillets-ng-data-cs.*get-real-audio.sh"):
        ensure_real("fillets_speaker", progress=False)


def test_task_validates_and_runs_with_mfcc(fake_installed, tmp_path):
    from bench.data import load_dataset
    from bench.runner import run
    from bench.taskspec import load_task_file
    from bench.validate import validate_task

    task = load_task_file(TASK)
    assert (task.name, task.domain, task.group) == ("real/fillets_speaker", "paralinguistic", "level")
    assert validate_task(task, load_dataset(task, progress=False).items) == []
    records = run("mfcc", tasks=["real/fillets_speaker"], out=tmp_path / "results", seeds=[0], progress=False)
    assert [r["status"] for r in records] == ["ok"] and records[0]["n_samples"] == 239
