"""Which recorded samples each General MIDI program of a SoundFont plays, read from the .sf2 file itself.

A SoundFont preset (program) points at instruments, and instruments at samples (recordings). Presets of a small
SoundFont such as TimGM6mb share samples (a dulcimer and a steel guitar may play the same recording), so holding out
programs does not hold out recordings. `sample_components` groups programs into connected components of the
program-sample graph: programs of different components share no recorded sample, so a split that keeps every
component on one side holds out recordings, not just program numbers.

Only the `pdta` chunk of the RIFF file is parsed (SoundFont 2.01 spec, section 7): phdr/pbag/pgen give the
instruments of a preset (generator 41), inst/ibag/igen the samples of an instrument (generator 53), shdr the
sample headers. A sample is identified by its data range in the file (start, end), so two headers over the same
audio are one recording, and stereo partners (sampleLink) are merged into one recording as well.

For drum kits (bank 128), where each key plays its own zones, `drum_zones` lists the zones sounding at each key
(recording, attenuation, keyRange record) and `silence_zones` patches a copy of the file so chosen zones stay
silent, which lets the percussion dataset play one recording of a layered drum sound alone.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path

INSTRUMENT_GEN = 41
SAMPLE_ID_GEN = 53
RECORD_SIZES = {"phdr": 38, "pbag": 4, "pgen": 4, "inst": 22, "ibag": 4, "igen": 4, "shdr": 46}


def _pdta_chunks(data: bytes, where: Path) -> dict[str, bytes]:
    """The sub-chunks of the LIST 'pdta' chunk of an sf2 file (id -> payload)."""
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise ValueError(f"{where}: not a SoundFont 2 file (no RIFF 'sfbk' header)")
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if cid == b"LIST" and data[pos + 8:pos + 12] == b"pdta":
            chunks, sub, end = {}, pos + 12, pos + 8 + size
            while sub + 8 <= end:
                sid, ssize = data[sub:sub + 4].decode("ascii"), struct.unpack_from("<I", data, sub + 4)[0]
                chunks[sid] = data[sub + 8:sub + 8 + ssize]
                sub += 8 + ssize + (ssize & 1)
            missing = [k for k in RECORD_SIZES if k not in chunks]
            if missing:
                raise ValueError(f"{where}: pdta chunk lacks {missing}")
            return chunks
        pos += 8 + size + (size & 1)
    raise ValueError(f"{where}: no LIST 'pdta' chunk (preset data) found")


def _records(chunk: bytes, size: int) -> list[bytes]:
    return [chunk[i:i + size] for i in range(0, len(chunk) - size + 1, size)]


def _zone_generators(bags: list[bytes], gens: list[bytes], first_bag: int, last_bag: int, oper: int) -> set[int]:
    """Amounts of generator `oper` over the zones first_bag..last_bag-1."""
    found = set()
    for b in range(first_bag, last_bag):
        g0, g1 = struct.unpack_from("<H", bags[b])[0], struct.unpack_from("<H", bags[b + 1])[0]
        for g in range(g0, g1):
            op, amount = struct.unpack_from("<HH", gens[g])
            if op == oper:
                found.add(amount)
    return found


@cache
def program_samples(path: Path, bank: int = 0) -> dict[int, frozenset[int]]:
    """Program number -> ids of the recordings it can play (melodic bank `bank`); ids are canonical sample
    indices (the lowest header index over the same audio, stereo partners merged)."""
    chunks = _pdta_chunks(Path(path).read_bytes(), Path(path))
    phdr, pbag, pgen = (_records(chunks[k], RECORD_SIZES[k]) for k in ("phdr", "pbag", "pgen"))
    inst, ibag, igen = (_records(chunks[k], RECORD_SIZES[k]) for k in ("inst", "ibag", "igen"))
    shdr = _records(chunks["shdr"], RECORD_SIZES["shdr"])
    canonical = _canonical_samples(shdr[:-1])  # the last header of each list is the terminal record (EOS, ...)
    inst_bags = [struct.unpack_from("<H", r, 20)[0] for r in inst]
    result: dict[int, set[int]] = {}
    for i in range(len(phdr) - 1):
        program, preset_bank, bag = struct.unpack_from("<HHH", phdr[i], 20)
        if preset_bank != bank:
            continue
        next_bag = struct.unpack_from("<H", phdr[i + 1], 24)[0]
        samples = result.setdefault(program, set())
        for k in _zone_generators(pbag, pgen, bag, next_bag, INSTRUMENT_GEN):
            ids = _zone_generators(ibag, igen, inst_bags[k], inst_bags[k + 1], SAMPLE_ID_GEN)
            samples.update(canonical[s] for s in ids)
    return {p: frozenset(s) for p, s in sorted(result.items())}


def _canonical_samples(shdr: list[bytes]) -> list[int]:
    """Per sample header, the id of its recording: headers over the same data range, and stereo partners, share one
    id (the lowest header index of the group)."""
    parent = list(range(len(shdr)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(a: int, b: int) -> None:
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)

    by_range: dict[tuple[int, int], int] = {}
    for i, rec in enumerate(shdr):
        start, end = struct.unpack_from("<II", rec, 20)
        link, kind = struct.unpack_from("<HH", rec, 42)
        join(i, by_range.setdefault((start, end), i))
        if kind & 6 and link < len(shdr):  # right (2) or left (4) half of a stereo pair
            join(i, link)
    return [root(i) for i in range(len(shdr))]


def sample_components(programs: list[int], path: Path) -> list[list[int]]:
    """Connected components of `programs` linked by shared recordings, each sorted, ordered by lowest program."""
    samples = program_samples(Path(path))
    unknown = [p for p in programs if p not in samples]
    if unknown:
        raise KeyError(f"{path}: programs {unknown} have no preset in bank 0")
    owner: dict[int, int] = {}
    parent = {p: p for p in programs}

    def root(p: int) -> int:
        while parent[p] != p:
            p = parent[p]
        return p

    for p in programs:
        for s in samples[p]:
            if s in owner:
                a, b = root(owner[s]), root(p)
                parent[max(a, b)] = min(a, b)
            else:
                owner[s] = p
    groups: dict[int, list[int]] = {}
    for p in programs:
        groups.setdefault(root(p), []).append(p)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def component_splits(components: list[list[int]], classes: dict[int, str], seed: int, stream: str,
                     fractions: tuple[float, float, float] = (0.6, 0.15, 0.25),
                     restarts: int = 128) -> dict[str, list[int]]:
    """Assign whole components to train / validation / test, so no recording is shared across splits.

    `classes` maps each program to the class it must represent (one class for all when the label does not depend
    on the program). From `restarts` seeded random starts, single components are moved between splits while that
    lowers the objective (squared distance of each class's program shares from `fractions`, plus 1 per class
    missing from a split); the best valid result (every class in every split) is kept. Raises ValueError when
    none is valid.
    """
    import numpy as np

    from bench.builtin.audio_utils import item_rng

    names = sorted(set(classes.values()))
    counts = np.array([[sum(classes[p] == n for p in comp) for n in names] for comp in components], dtype=np.float64)
    totals, goal = counts.sum(0), np.array(fractions)

    def objective(choice: np.ndarray) -> tuple[float, bool]:
        per_split = np.stack([counts[choice == s].sum(0) for s in range(3)], axis=1)  # class, split
        missing = int((per_split == 0).sum())
        return float(((per_split / totals[:, None] - goal) ** 2).sum()) + missing, missing == 0

    best, best_score = None, np.inf
    for restart in range(restarts):
        choice = item_rng(seed, stream, restart).choice(3, size=len(components), p=goal)
        score, _ = objective(choice)
        improved = True
        while improved:
            improved = False
            for k in range(len(components)):
                for s in range(3):
                    trial = choice.copy()
                    trial[k] = s
                    trial_score, _ = objective(trial)
                    if trial_score < score - 1e-12:
                        choice, score, improved = trial, trial_score, True
        if objective(choice)[1] and score < best_score:
            best, best_score = choice, score
    if best is None:
        raise ValueError(f"no split of the {len(components)} shared-sample components of {stream} gives every class "
                         f"a program in every split from {restarts} starts")
    splits = ("train", "validation", "test")
    return {s: sorted(p for comp, c in zip(components, best) if c == i for p in comp) for i, s in enumerate(splits)}


KEY_RANGE_GEN = 43
ATTENUATION_GEN = 48


@dataclass(frozen=True)
class DrumZone:
    """One instrument zone sounding at a key of a drum-kit preset: its recording (canonical sample id), its
    attenuation (centibels, preset and instrument zones added) and the index of its keyRange generator record in
    the igen chunk (what `silence_zones` rewrites)."""

    sample: int
    attenuation: int
    key_range_gen: int


def _zones(bags: list[bytes], gens: list[bytes], first_bag: int, last_bag: int) -> list[dict[int, tuple[int, int]]]:
    """Generators of each zone first_bag..last_bag-1: operator -> (amount, index of the generator record)."""
    out = []
    for b in range(first_bag, last_bag):
        g0, g1 = struct.unpack_from("<H", bags[b])[0], struct.unpack_from("<H", bags[b + 1])[0]
        out.append({struct.unpack_from("<H", gens[g])[0]: (struct.unpack_from("<H", gens[g], 2)[0], g)
                    for g in range(g0, g1)})
    return out


def _key_range(zone: dict[int, tuple[int, int]], default: tuple[int, int] = (0, 127)) -> tuple[int, int]:
    if KEY_RANGE_GEN not in zone:
        return default
    amount = zone[KEY_RANGE_GEN][0]
    return amount & 0xFF, amount >> 8


@cache
def drum_zones(path: Path, bank: int = 128) -> dict[tuple[int, int], tuple[DrumZone, ...]]:
    """(program, MIDI key) -> the instrument zones that sound when the key is struck in drum preset `program` of
    `bank` (every velocity; global zones supply defaults), with their recordings and attenuations."""
    chunks = _pdta_chunks(Path(path).read_bytes(), Path(path))
    phdr, pbag, pgen = (_records(chunks[k], RECORD_SIZES[k]) for k in ("phdr", "pbag", "pgen"))
    inst, ibag, igen = (_records(chunks[k], RECORD_SIZES[k]) for k in ("inst", "ibag", "igen"))
    canonical = _canonical_samples(_records(chunks["shdr"], RECORD_SIZES["shdr"])[:-1])
    inst_bags = [struct.unpack_from("<H", r, 20)[0] for r in inst]
    found: dict[tuple[int, int], list[DrumZone]] = {}
    for i in range(len(phdr) - 1):
        program, preset_bank, bag = struct.unpack_from("<HHH", phdr[i], 20)
        if preset_bank != bank:
            continue
        for pzone in _zones(pbag, pgen, bag, struct.unpack_from("<H", phdr[i + 1], 24)[0]):
            if INSTRUMENT_GEN not in pzone:
                continue
            k = pzone[INSTRUMENT_GEN][0]
            izones = _zones(ibag, igen, inst_bags[k], inst_bags[k + 1])
            defaults = izones[0] if izones and SAMPLE_ID_GEN not in izones[0] else {}
            p_low, p_high = _key_range(pzone)
            for izone in izones:
                if SAMPLE_ID_GEN not in izone:
                    continue
                merged = {**defaults, **izone}
                if KEY_RANGE_GEN not in izone:
                    raise ValueError(f"{path}: drum preset {program} plays instrument zone without a keyRange "
                                     f"generator (sample {izone[SAMPLE_ID_GEN][0]}); drum_zones cannot mute it")
                low, high = _key_range(merged)
                attenuation = merged.get(ATTENUATION_GEN, (0, 0))[0] + pzone.get(ATTENUATION_GEN, (0, 0))[0]
                zone = DrumZone(canonical[izone[SAMPLE_ID_GEN][0]], attenuation, izone[KEY_RANGE_GEN][1])
                for key in range(max(low, p_low), min(high, p_high) + 1):
                    found.setdefault((program, key), []).append(zone)
    return {k: tuple(v) for k, v in sorted(found.items())}


def preset_names(path: Path, bank: int) -> dict[int, str]:
    """Program -> preset name of every preset of `bank`."""
    chunks = _pdta_chunks(Path(path).read_bytes(), Path(path))
    out = {}
    for rec in _records(chunks["phdr"], RECORD_SIZES["phdr"])[:-1]:
        program, preset_bank = struct.unpack_from("<HH", rec, 20)
        if preset_bank == bank:
            out[program] = rec[:20].split(b"\0")[0].decode("latin-1").strip()
    return out


def sample_names(path: Path) -> dict[int, str]:
    """Canonical sample id -> its sample header's name."""
    chunks = _pdta_chunks(Path(path).read_bytes(), Path(path))
    shdr = _records(chunks["shdr"], RECORD_SIZES["shdr"])[:-1]
    return {i: shdr[i][:20].split(b"\0")[0].decode("latin-1").strip() for i in sorted(set(_canonical_samples(shdr)))}


def silence_zones(data: bytes, key_range_gens: list[int]) -> bytes:
    """A copy of the sf2 bytes `data` in which the instrument zones owning the given keyRange generator records
    (igen indices, from `DrumZone.key_range_gen`) answer key 0 only, so they stay silent at every drum key."""
    chunks = _pdta_chunks(data, Path("<bytes>"))
    igen = chunks["igen"]
    header = b"igen" + struct.pack("<I", len(igen))
    start = data.find(header) + len(header)
    if start < len(header) or data[start:start + len(igen)] != igen:
        raise ValueError("silence_zones: could not locate the igen chunk in the SoundFont bytes")
    out = bytearray(data)
    for g in key_range_gens:
        pos = start + g * RECORD_SIZES["igen"]
        if struct.unpack_from("<H", out, pos)[0] != KEY_RANGE_GEN:
            raise ValueError(f"silence_zones: igen record {g} is not a keyRange generator")
        struct.pack_into("<H", out, pos + 2, 0)  # keyRange lo = hi = 0
    return bytes(out)
