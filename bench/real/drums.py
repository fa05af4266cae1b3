"""`drums`: one-shot samples of the 14 real drum kits of Debian `hydrogen-drumkits`. The class (kick, snare,
hihat, tom, cymbal, percussion) comes from each instrument's name in the kit's `drumkit.xml`; kits are disjoint
across splits, so a model must recognise the instrument, not the kit's recording."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from bench.real.sources import Installed, counts, installed, require_dir, write_card, write_manifest

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
        licence = _text(root, "license") or "not stated in drumkit.xml (Debian copyright: see card)"
        for instrument in root.iter("instrument"):
            name = _text(instrument, "name")
            files = {(_text(node, "filename")) for node in [instrument, *instrument.iter("layer")]}
            for rel in sorted(f for f in files if f):
                path = xml.parent / rel
                if path.is_file():
                    samples.append(Sample(xml.parent.name, name, path, licence))
    return samples


def convert(out: Path) -> None:
    """Write the manifest and card of the drum-instrument dataset into `out`."""
    source = installed("apt", "hydrogen-drumkits")
    split_of = {**dict.fromkeys(TRAIN, "train"), **dict.fromkeys(VALIDATION, "validation"),
                **dict.fromkeys(TEST, "test")}
    rows, licences, seen = [], {}, set()
    for s in kit_samples(source):
        label = drum_class(s.instrument)
        if label is None or s.kit not in split_of or s.path in seen:  # a file two instruments share: first one
            continue
        seen.add(s.path)
        licences[s.kit] = s.licence
        rows.append({"id": f"{s.kit}/{s.path.name}", "path": str(s.path), "split": split_of[s.kit],
                     "drum": label, "instrument": s.instrument, "kit": s.kit})
    write_manifest(out, rows)
    listed = "\n".join(f"- {kit}: {licence}" for kit, licence in sorted(licences.items()))
    write_card(out, "Drum instrument class (hydrogen-drumkits)", [source], f"""
Licence per kit (the `<license>` of its drumkit.xml; kits without one are covered by the package's Debian
copyright file, /usr/share/doc/hydrogen-drumkits/copyright):

{listed}

Label `drum`: kick, snare, hihat, tom, cymbal or percussion, from the instrument's name in drumkit.xml by the
patterns in bench/real/drums.py (the first match wins; unnamed slots, effects and zaps are left out). Every
velocity layer of an instrument is one clip. Kits are disjoint across splits:

{counts(rows, "split", "kit")}

Confounds: kits differ in genre (acoustic, electronic, hand percussion, African drums), so class frequencies
differ by split; `percussion` mixes hand drums, claps and bells. Layers of one instrument are near duplicates, so
the kit is the resampling unit. Electronic kits name synthetic sounds after the acoustic instrument they imitate.
""")
