"""Music datasets of the built-in suite: instrument family, pitch and chord quality, rendered from General MIDI.

Notes are rendered offline with tinysoundfont from the TimGM6mb.sf2 SoundFont that ships inside pretty_midi, then
varied per clip (velocity, detune, onset, hold time, synthetic reverb, background noise at a random SNR, level).
In every music dataset the General MIDI programs are split by recorded sample: TimGM6mb presets share samples
(a dulcimer and a steel guitar play one recording), so programs go to train / validation / test as whole connected
components of the program-sample graph read from the SoundFont (`soundfont_samples`). No recorded sample is played
in two splits, and test measures transfer to unseen sampled instruments, as NSynth does.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np

from bench.builtin.audio_utils import (
    SAMPLE_RATE,
    SPLITS,
    add_noise,
    item_rng,
    normalize_peak,
    place,
    reverb,
    tier_sizes,
)
from bench.builtin.soundfont_samples import component_splits, sample_components
from bench.builtin.writing import sources_text, split_table, write_card, write_clips

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

RENDER_SR = 32000
CLIP_S = 1.5

# The ten General MIDI families of the instrument task (GM family index -> label); each has programs 8i..8i+7.
FAMILIES = {0: "piano", 1: "chromatic percussion", 2: "organ", 3: "guitar", 4: "bass", 5: "strings",
            7: "brass", 8: "reed", 9: "pipe", 10: "synth lead"}
# Playable MIDI note range per GM family index (family 6 ensemble, 11 synth pad, 13 ethnic serve pitch/chords).
NOTE_RANGES = {0: (33, 96), 1: (60, 96), 2: (36, 84), 3: (40, 84), 4: (28, 55), 5: (36, 91), 6: (36, 84),
               7: (40, 82), 8: (40, 86), 9: (55, 96), 10: (40, 88), 11: (36, 84), 13: (48, 84)}
# Melodic programs of the pitch task: everything with a clear pitch (no synth effects, percussive, sound effects,
# orchestra hit).
PITCH_PROGRAMS = [p for p in range(112) if p // 8 in NOTE_RANGES and p != 55]
# Programs of the chord task: sustained or plucked polyphonic instruments.
CHORD_PROGRAMS = [p for p in range(96) if p // 8 in (0, 1, 2, 3, 5, 6, 7, 8, 10, 11) and p not in (47, 55)]
CHORDS = {"major": (0, 4, 7), "minor": (0, 3, 7), "diminished": (0, 3, 6), "augmented": (0, 4, 8),
          "sus4": (0, 5, 7), "dominant7": (0, 4, 7, 10), "major7": (0, 4, 7, 11), "minor7": (0, 3, 7, 10)}
CHORD_WORDS = {"major": "major", "minor": "minor", "diminished": "diminished", "augmented": "augmented",
               "sus4": "suspended fourth", "dominant7": "dominant seventh", "major7": "major seventh",
               "minor7": "minor seventh"}
# The chord task: triads only, roots over one octave (seventh chords, sus4 and second inversions stay in captions).
CHORD_TASK_QUALITIES = ("major", "minor", "diminished", "augmented")
CHORD_TASK_ROOTS = (48, 60)
INVERSIONS = ("root position", "first inversion", "second inversion", "third inversion")
MUSIC_SOURCES = ("tinysoundfont", "soundfont", "synthetic")  # keys of `writing.LICENSES` quoted by the cards


def soundfont_path() -> Path:
    """Path of TimGM6mb.sf2 inside the installed pretty_midi package (found without importing it)."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the music datasets need the TimGM6mb.sf2 SoundFont shipped by pretty_midi: "
                          "pip install pretty_midi")
    path = Path(list(spec.submodule_search_locations)[0]) / "TimGM6mb.sf2"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall pretty_midi (pip install --force-reinstall pretty_midi)")
    return path


def instrument_name(program: int) -> str:
    """Readable General MIDI name: 'Acoustic Guitar (nylon)' -> 'nylon acoustic guitar', numbers dropped."""
    from pretty_midi.constants import INSTRUMENT_MAP

    name = re.sub(r"\s+\d+\b", "", INSTRUMENT_MAP[program].lower())
    match = re.fullmatch(r"(lead|pad)\s*\(?(.*?)\)?", name) or re.fullmatch(r"(.*?)\s*\((.*)\)", name)
    if match:
        outer, inner = match.groups()
        name = inner if outer in inner else f"{inner} {outer}"
    return name.strip()


def note_name(note: int) -> str:
    """MIDI note number -> scientific pitch name (60 -> 'C4')."""
    return f"{NOTE_NAMES[note % 12]}{note // 12 - 1}"


def note_article(pitch_class: str) -> str:
    """'an A', 'an E', 'an F', 'a C', ... as the letter is spoken."""
    return ("an " if pitch_class[0] in "AEF" else "a ") + pitch_class


def with_article(phrase: str) -> str:
    """'an oboe', 'a violin' (by the first letter, good enough for GM names)."""
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def tinysoundfont_synth():
    """A tinysoundfont synth at RENDER_SR; without tinysoundfont, an error that says how to install it."""
    try:
        import tinysoundfont
    except ImportError as err:
        raise ImportError("the music datasets render with tinysoundfont: pip install --no-deps "
                          "tinysoundfont==0.3.7 (its pyaudio dependency only serves live playback)") from err
    return tinysoundfont.Synth(samplerate=RENDER_SR)


class Renderer:
    """Offline General MIDI renderer: one tinysoundfont synth, reset before every clip (so clips are independent)."""

    def __init__(self) -> None:
        self.synth = tinysoundfont_synth()
        self.sfid = self.synth.sfload(str(soundfont_path()))

    def _run(self, seconds: float) -> np.ndarray:
        n = int(round(seconds * RENDER_SR))
        if n <= 0:
            return np.zeros((0, 2), dtype=np.float32)
        return np.frombuffer(self.synth.generate(n), dtype=np.float32).reshape(n, 2).copy()

    def render(self, program: int, notes: list[int], velocity: int, hold_s: float, total_s: float,
               delays: list[float] | None = None, tuning: float = 0.0) -> np.ndarray:
        """Mono 16 kHz audio of `notes` started after `delays` (s), released at `hold_s`, `total_s` long."""
        import soxr

        self.synth.soundfonts[self.sfid].reset()
        self.synth.program_select(0, self.sfid, 0, program)
        self.synth.set_tuning(0, tuning)
        starts = sorted(zip(delays or [0.0] * len(notes), notes))
        chunks, now = [], 0.0
        for start, note in starts:
            chunks.append(self._run(start - now))
            now = max(now, start)
            self.synth.noteon(0, note, velocity)
        chunks.append(self._run(hold_s - now))
        for note in notes:
            self.synth.noteoff(0, note)
        chunks.append(self._run(total_s - max(now, hold_s)))
        stereo = np.concatenate(chunks)
        return soxr.resample(stereo.mean(axis=1).astype(np.float64), RENDER_SR, SAMPLE_RATE)


def performed(renderer: Renderer, rng: np.random.Generator, program: int, notes: list[int],
              strum_s: float = 0.0) -> tuple[np.ndarray, dict]:
    """Render `notes` with random velocity, detune, onset, hold, room and noise; return audio and its metadata."""
    velocity = int(rng.integers(40, 128))
    onset = float(rng.uniform(0.0, 0.25))
    hold = float(rng.uniform(0.3, 1.1))
    tuning = float(rng.uniform(-0.25, 0.25))
    delays = sorted(rng.uniform(0.0, strum_s, len(notes)).tolist()) if strum_s else None
    dry = renderer.render(program, notes, velocity, hold, CLIP_S - onset, delays, tuning)
    x = place(dry, int(CLIP_S * SAMPLE_RATE), int(onset * SAMPLE_RATE))
    rt60 = float(rng.uniform(0.2, 1.2)) if rng.random() < 0.6 else 0.0
    if rt60:
        x = reverb(x, rng, rt60, drr_db=float(rng.uniform(-3.0, 12.0)))
    noise = str(rng.choice(["white", "pink", "brown"]))
    snr = float(rng.uniform(10.0, 40.0))
    x = normalize_peak(add_noise(x, noise, snr, rng), float(rng.uniform(-20.0, -3.0)))
    meta = {"program": program, "instrument": instrument_name(program), "velocity": velocity,
            "onset_s": round(onset, 3), "detune_cents": round(100 * tuning, 1), "rt60_s": round(rt60, 2),
            "noise": noise, "snr_db": round(snr, 1)}
    return x, meta


def condition_words(meta: dict) -> str:
    """Caption tail from the rendering conditions: dynamics, room and audible noise."""
    words = []
    if meta["velocity"] < 64:
        words.append("softly")
    elif meta["velocity"] > 104:
        words.append("loudly")
    if meta["rt60_s"] > 0.8:
        words.append("in a reverberant hall")
    elif meta["rt60_s"] > 0:
        words.append("in a small room")
    if meta["snr_db"] < 20:
        words.append(f"over {meta['noise']} noise")
    return (" " + " ".join(words)) if words else ""


def register(note: int) -> str:
    return "low" if note < 48 else "high" if note >= 72 else "middle"


def split_programs(programs: list[int], seed: int, stream: str) -> dict[str, list[int]]:
    """Cut `programs` into train / validation / test (about 60/15/25%) by whole shared-sample components, so no
    recorded sample of the SoundFont is played in two splits (`soundfont_samples.component_splits`)."""
    components = sample_components(programs, soundfont_path())
    return component_splits(components, {p: "all" for p in programs}, seed, stream)


def sample_sets(programs: list[int]) -> dict[int, int]:
    """Program -> id of its shared-sample component (the lowest program in it): the `sample_set` manifest column,
    the held-out unit of the music tasks."""
    return {p: comp[0] for comp in sample_components(programs, soundfont_path()) for p in comp}


def family_splits(seed: int) -> dict[int, dict[str, list[int]]]:
    """Per instrument family (GM index): its programs in train / validation / test. Whole shared-sample components
    (which may span families) go to one split, every family gets a program in every split, about 60/15/25%."""
    programs = [p for fam in FAMILIES for p in range(8 * fam, 8 * fam + 8)]
    components = sample_components(programs, soundfont_path())
    splits = component_splits(components, {p: FAMILIES[p // 8] for p in programs}, seed, "instrument-programs")
    return {fam: {s: [p for p in splits[s] if p // 8 == fam] for s in SPLITS} for fam in FAMILIES}


def instrument_item(renderer: Renderer, rng: np.random.Generator, family: int, program: int) -> tuple[np.ndarray, dict]:
    """One note of `program` in its family's range; metadata includes label, note and caption."""
    low, high = NOTE_RANGES[program // 8]
    note = int(rng.integers(low, high + 1))
    x, meta = performed(renderer, rng, program, [note])
    meta.update(label=FAMILIES[family], note=note, note_name=note_name(note))
    meta["caption"] = (f"{with_article(meta['instrument'])} plays a {register(note)} {NOTE_NAMES[note % 12]}"
                       + condition_words(meta))
    return x, meta


def chord_item(renderer: Renderer, rng: np.random.Generator, program: int, quality: str,
               roots: tuple[int, int] = (45, 66), inversions: int | None = None) -> tuple[np.ndarray, dict]:
    """One chord of `quality` on a random root (MIDI, `roots` half-open) and inversion (the first `inversions`,
    default all) and a random voicing, played by `program`."""
    root = int(rng.integers(*roots))
    intervals = CHORDS[quality]
    inversion = int(rng.integers(0, inversions or len(intervals)))
    notes = [root + i + (12 if k < inversion else 0) for k, i in enumerate(intervals)]
    if rng.random() < 0.3:
        notes.append(root - 12)  # doubled root in the bass keeps the quality
    strum = float(rng.uniform(0.01, 0.05)) if program // 8 == 3 else float(rng.uniform(0.0, 0.015))
    x, meta = performed(renderer, rng, program, sorted(notes), strum_s=strum)
    meta.update(label=quality, root=NOTE_NAMES[root % 12], inversion=inversion, notes=sorted(notes))
    meta["caption"] = (f"{with_article(meta['instrument'])} plays {note_article(NOTE_NAMES[root % 12])} "
                       f"{CHORD_WORDS[quality]} chord in {INVERSIONS[inversion]}" + condition_words(meta))
    return x, meta


def _programs_text(splits: dict[str, list[int]]) -> str:
    """The programs of each split, then the shared-sample components of more than one program."""
    listing = "\n".join(f"- {s}: " + ", ".join(f"{p} {instrument_name(p)}" for p in sorted(splits[s])) for s in SPLITS)
    components = sample_components(sorted(p for s in SPLITS for p in splits[s]), soundfont_path())
    shared = "; ".join("{" + ", ".join(str(p) for p in c) + "}" for c in components if len(c) > 1)
    return (f"{listing}\n\nThe {sum(map(len, components))} programs form {len(components)} shared-sample components "
            f"(programs linked when their presets play a common recorded sample of TimGM6mb.sf2); each component "
            f"lies in one split. Components of more than one program: {shared}.")


SAMPLE_SPLIT_TEXT = ("Programs are split by recorded sample, not just by program number: TimGM6mb presets share "
                     "samples, so whole connected components of the program-sample graph (read from the .sf2 file) "
                     "go to one split (about 60/15/25% of the programs, the split nearest those shares among seeded "
                     "local searches), and no recorded sample is played in two splits. `sample_set` names each "
                     "clip's component (its lowest program). ")


RENDERING_TEXT = f"""
Each clip is {CLIP_S} s, mono, 16 kHz PCM_16. Notes are rendered at {RENDER_SR} Hz with tinysoundfont (synth reset
before every clip) and resampled with soxr. Per clip, drawn from the seed: MIDI velocity 40-127, detune up to
+-25 cents, onset 0-0.25 s, hold 0.3-1.1 s before release, a synthetic room response for 60% of clips (RT60
0.2-1.2 s, direct-to-reverberant ratio -3..12 dB), white / pink / brown background noise at 10-40 dB SNR, and a
peak level of -20..-3 dBFS. All audio is synthetic (sampled instruments of the SoundFont, no recordings of
performances). Captions are made from the metadata (instrument, register or chord, dynamics, room, audible noise).
"""


def generate_instrument(out_dir: Path, tier: str, seed: int) -> None:
    """Instrument family (10 GM families) of single notes; recorded samples disjoint across splits."""
    per_family = dict(zip(SPLITS, tier_sizes(tier, quick=(24, 8, 12), full=(250, 60, 150))))
    renderer, splits, items = Renderer(), family_splits(seed), []
    sets = sample_sets([p for fam in FAMILIES for p in range(8 * fam, 8 * fam + 8)])
    for split in SPLITS:
        for fam in FAMILIES:
            for j in range(per_family[split]):
                rng = item_rng(seed, f"instrument-{split}-{fam}", j)
                program = int(rng.choice(splits[fam][split]))
                x, meta = instrument_item(renderer, rng, fam, program)
                items.append((x, {**meta, "sample_set": sets[program]}, split))
    rows = write_clips(out_dir, "instrument", items)
    held = {s: [p for fam in FAMILIES for p in splits[fam][s]] for s in SPLITS}
    write_card(out_dir, f"builtin instrument ({tier}, seed {seed})", {
        "Task": "Instrument family of a single rendered note, 10 classes (General MIDI families): "
                + ", ".join(FAMILIES.values()) + ". Labels are the GM family of the program that rendered the note.",
        "Splits": SAMPLE_SPLIT_TEXT + "Every family has at least one program in every split, so test measures "
                  "transfer to unseen sampled instruments of a family. Components may span families (synth bass 2, "
                  "brass section and synth brass, pan flute, blown bottle and six synth leads share samples), so "
                  "some families have few programs on one side (see the lists). Programs:\n\n" + _programs_text(held),
        "Sizes": split_table(rows),
        "Rendering": RENDERING_TEXT,
        "Sources and licenses": sources_text(*MUSIC_SOURCES),
    })


def generate_pitch(out_dir: Path, tier: str, seed: int) -> None:
    """Pitch class (12) and MIDI note number of single notes across ~100 GM programs, samples disjoint across splits."""
    sizes = dict(zip(SPLITS, tier_sizes(tier, quick=(300, 60, 120), full=(2400, 600, 1200))))
    renderer, splits, items = Renderer(), split_programs(PITCH_PROGRAMS, seed, "pitch-programs"), []
    sets = sample_sets(PITCH_PROGRAMS)
    for split in SPLITS:
        for j in range(sizes[split]):
            rng = item_rng(seed, f"pitch-{split}", j)
            program = int(rng.choice(splits[split]))
            low, high = NOTE_RANGES[program // 8]
            pitch_class = j % 12  # balanced classes; the octave is drawn within the instrument's range
            note = int(rng.choice([n for n in range(low, high + 1) if n % 12 == pitch_class]))
            x, meta = performed(renderer, rng, program, [note])
            meta.update(label=NOTE_NAMES[pitch_class], note=note, note_name=note_name(note))
            meta["caption"] = (f"{with_article(meta['instrument'])} plays {note_name(note)}"
                               + condition_words(meta))
            items.append((x, {**meta, "sample_set": sets[program]}, split))
    rows = write_clips(out_dir, "pitch", items)
    write_card(out_dir, f"builtin pitch ({tier}, seed {seed})", {
        "Task": "Pitch of a single rendered note. `label`: pitch class, 12 classes (C, C#, ..., B; octave-invariant, "
                "balanced). `note`: MIDI note number (regression target of `pitch_regression`), drawn uniformly "
                "among the notes of the class inside the instrument's playable range (MIDI 28-96 overall).",
        "Splits": SAMPLE_SPLIT_TEXT + "Test notes are played from recordings never heard in training. "
                  "Programs:\n\n" + _programs_text(splits),
        "Sizes": split_table(rows),
        "Rendering": RENDERING_TEXT,
        "Sources and licenses": sources_text(*MUSIC_SOURCES),
    })


def generate_chord(out_dir: Path, tier: str, seed: int) -> None:
    """Triad quality (4 classes) in root position or first inversion, random roots over an octave, voicings and
    instruments, recorded samples disjoint across splits."""
    sizes = dict(zip(SPLITS, tier_sizes(tier, quick=(240, 64, 128), full=(2400, 600, 1200))))
    renderer, splits, items = Renderer(), split_programs(CHORD_PROGRAMS, seed, "chord-programs"), []
    sets = sample_sets(CHORD_PROGRAMS)
    qualities = list(CHORD_TASK_QUALITIES)
    for split in SPLITS:
        for j in range(sizes[split]):
            rng = item_rng(seed, f"chord-{split}", j)
            program = int(rng.choice(splits[split]))
            x, meta = chord_item(renderer, rng, program, qualities[j % len(qualities)], roots=CHORD_TASK_ROOTS,
                                 inversions=2)
            items.append((x, {**meta, "sample_set": sets[program]}, split))
    rows = write_clips(out_dir, "chord", items)
    write_card(out_dir, f"builtin chord ({tier}, seed {seed})", {
        "Task": "Triad quality, 4 balanced classes: " + ", ".join(f"{q} {CHORDS[q]}" for q in qualities)
                + f". Root MIDI {CHORD_TASK_ROOTS[0]}-{CHORD_TASK_ROOTS[1] - 1} (every pitch class), root position or "
                  "first inversion, a doubled bass root in 30% of clips, "
                  "strummed note onsets (10-50 ms spread for guitars, up to 15 ms otherwise).",
        "Splits": SAMPLE_SPLIT_TEXT + "Programs:\n\n" + _programs_text(splits),
        "Sizes": split_table(rows),
        "Rendering": RENDERING_TEXT,
        "Sources and licenses": sources_text(*MUSIC_SOURCES),
    })
