"""`drums`: one-shot samples of the 14 real drum kits of Debian `hydrogen-drumkits`. The class (kick, snare,
hihat, tom, cymbal, percussion) comes from each instrument's name in the kit's `drumkit.xml`; kits are disjoint
across splits, so a model must recognise the instrument, not the kit's recording."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from bench.real.sources import (
    Installed,
    counts,
    debian_licences,
    installed,
    require_dir,
    stable_fraction,
    write_card,
    write_manifest,
)

KITS_DIR = "usr/share/hydrogen/data/drumkits"
# (class, pattern over the lower-cased instrument name); the first match wins, names matching none are left out
CLASSES = (
    ("hihat", r"\bhh\b|hi-?\s?hat|\bhat\b"),
    ("cymbal", r"crash|ride|splash|cymbal|china|\bbell\b"),
    ("kick", r"kick|bass ?drum|bassdrum"),
    ("snare", r"snare|rimshot|rim click|side stick|\bstick\b"),
    ("tom", r"\btom"),
    ("percussion", r"clap|cowbell|conga|bongo|djembe|clave|woodblock|maraca|tambourine|cajon|snap|shaker|"
                   r"sangban|dununba|kenkeni|waterglass"),
)
PLACEHOLDER = "emptySample"  # Hydrogen's silent file for unused instrument slots
TRAIN = ("BJA_Pacific", "ElectricEmpireKit", "ForzeeStereo", "Gimme A Hand 1.0", "Millo_MultiLayered2",
         "rumpf_kit_z01_h2", "VariBreaks", "circAfrique v4")
VALIDATION = ("Audiophob", "Millo_MultiLayered3", "HardElectro1")
TEST = ("ColomboAcousticDrumkit", "Millo-Drums_v.1", "The Black Pearl 1.0")


@dataclass(frozen=True)
class Sample:
    """One sample file of a kit's instrument."""

    kit: str
    instrument: str
    path: Path
    licence: str


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def kit_licences(source: Installed, kits: set[str]) -> dict[str, str]:
    """Each kit's licence from the Debian copyright file (a `drumkits/<kit>.h2drumkit` stanza whose name begins the
    kit's folder name; '?' matches any character), then the drumkit.xml `<license>` in brackets."""
    stanzas = debian_licences(source)
    xml_licence = {s.kit: s.licence for s in kit_samples(source)}
    out = {}
    for kit in sorted(kits):
        found = [(len(stem), licence) for patterns, licence in stanzas for pattern in patterns
                 if pattern.startswith("drumkits/") and (stem := _normal(pattern[9:].replace(".h2drumkit", "")))
                 and _normal(kit).startswith(stem)]
        debian = max(found)[1] if found else "see the Debian copyright file"
        out[kit] = f"{debian} (drumkit.xml: {xml_licence.get(kit, 'no samples')})"
    return out


def drum_class(instrument: str) -> str | None:
    """The drum class of an instrument name (None when no class pattern matches)."""
    name = instrument.lower()
    return next((label for label, pattern in CLASSES if re.search(pattern, name)), None)


def _text(node: ET.Element, tag: str) -> str:
    found = node.find(tag)
    return (found.text or "").strip() if found is not None and found.text else ""


def kit_samples(source: Installed) -> list[Sample]:
    """Every existing sample file of every instrument of every kit (layers included), from `drumkit.xml`."""
    base = require_dir(source.root / KITS_DIR, source)
    samples = []
    for xml in sorted(base.glob("*/drumkit.xml")):
        root = ET.fromstring(re.sub(r'\sxmlns(:\w+)?="[^"]+"', "", xml.read_text(encoding="utf-8")))
        licence = _text(root, "license") or "none"
        for instrument in root.iter("instrument"):
            name = _text(instrument, "name")
            files = {(_text(node, "filename")) for node in [instrument, *instrument.iter("layer")]}
            for rel in sorted(f for f in files if f and Path(f).stem != PLACEHOLDER):
                path = xml.parent / rel
                if path.is_file():
                    samples.append(Sample(xml.parent.name, name, path, licence))
    return samples


def convert(out: Path) -> None:
    """Write the manifest and card of the drum-instrument dataset into `out`."""
    source = installed("apt", "hydrogen-drumkits")
    split_of = {**dict.fromkeys(TRAIN, "train"), **dict.fromkeys(VALIDATION, "validation"),
                **dict.fromkeys(TEST, "test")}
    rows, seen = [], set()
    for s in kit_samples(source):
        label = drum_class(s.instrument)
        if label is None or s.kit not in split_of or s.path in seen:  # a file two instruments share: first one
            continue
        seen.add(s.path)
        rows.append({"id": f"{s.kit}/{s.path.name}", "path": str(s.path), "split": split_of[s.kit],
                     "drum": label, "instrument": s.instrument, "kit": s.kit})
    write_manifest(out, rows)
    licences = kit_licences(source, {r["kit"] for r in rows})
    listed = "\n".join(f"- {kit}: {licence}" for kit, licence in licences.items())
    write_card(out, "Drum instrument class (hydrogen-drumkits)", [source], f"""
Licence per kit (from /usr/share/doc/hydrogen-drumkits/copyright; the drumkit.xml's own `<license>` in
brackets):

{listed}

Label `drum`: kick, snare, hihat, tom, cymbal or percussion, from the instrument's name in drumkit.xml by the
patterns in bench/real/drums.py (the first match wins; unnamed slots, effects and zaps are left out). Every
velocity layer of an instrument is one clip. Kits are disjoint across splits:

{counts(rows, "split", "kit")}

Confounds: kits differ in genre (acoustic, electronic, hand percussion, African drums), so class frequencies
differ by split; `percussion` mixes hand drums, claps and bells. Layers of one instrument are near duplicates, so
the kit is the resampling unit. Electronic kits name synthetic sounds after the acoustic instrument they imitate.
""")


def _kit_split(instruments: list[str]) -> dict[str, str]:
    """Instruments of one kit ordered by a hash of their names: the first fifth (at least one) test, the next
    fifth (at least one) validation, the rest train."""
    order = sorted(instruments, key=lambda name: stable_fraction(f"drum_kits/{name}"))
    n_held = max(1, round(len(order) / 5))
    return {name: "test" if i < n_held else "validation" if i < 2 * n_held else "train"
            for i, name in enumerate(order)}


def convert_kits(out: Path) -> None:
    """Write the manifest and card of the drum-kit identity dataset (instruments disjoint across splits)."""
    source = installed("apt", "hydrogen-drumkits")
    samples, seen = [], set()
    for s in kit_samples(source):
        if s.path not in seen:  # a file two instruments share: first one
            seen.add(s.path)
            samples.append(s)
    rows = []
    for kit in sorted({s.kit for s in samples}):
        members = [s for s in samples if s.kit == kit]
        split_of = _kit_split(sorted({s.instrument for s in members}))
        rows += [{"id": f"{kit}/{s.path.name}", "path": str(s.path), "split": split_of[s.instrument], "kit": kit,
                  "instrument": f"{kit}/{s.instrument}", "drum": drum_class(s.instrument) or "other"}
                 for s in members]
    write_manifest(out, rows)
    licences = "\n".join(f"- {kit}: {lic}" for kit, lic in kit_licences(source, {s.kit for s in samples}).items())
    write_card(out, "Drum kit identity (hydrogen-drumkits)", [source], f"""
Licence per kit (from /usr/share/doc/hydrogen-drumkits/copyright; the drumkit.xml's own `<license>` in
brackets):

{licences}

Label `kit`: which of the {len({s.kit for s in samples})} kits a sample comes from. Within each kit the instruments
(every velocity layer of one instrument together) are dealt by a hash of their names: a fifth to test, a fifth to
validation, the rest to train, so a test sample is an instrument of its kit never heard in train.

{counts(rows, "split", "kit")}

Confounds: kits differ in which instruments they have (hand percussion, djembes, electronic kicks), so the
instrument type predicts some kits; what remains is each kit's recording and processing (room, microphones,
sample rate, bit depth).
""")
