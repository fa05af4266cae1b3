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
"""

from __future__ import annotations

import struct
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
