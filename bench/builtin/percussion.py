"""Percussion dataset of the built-in suite: drum class of single hits from the drum kits of TimGM6mb.sf2.

The General MIDI drum kits of the SoundFont (bank 128: Standard, Room, Power, Electronic, TR 808, Jazz, Brush,
Orchestra) map keys 35-81 to drum sounds; the GM key gives the class (kick, snare, hihat, tom, cymbal, percussion:
the classes of `real/drums`). A *voice* is a (kit, key) played solo through its loudest zone(s): the quieter zones
layered under it (a -19 dB filter snap in six kits, the Room kit's kick under its snares) are muted in a patched
copy of the SoundFont, so each clip plays known recordings only. A recording belongs to the class of most keys it
is the loudest zone of (keys outside 35-81 count as no class; ties leave it out); voices whose recordings belong to
another class are left out. Voices are split into train / validation / test as whole connected components of the
voice-recording graph (`soundfont_samples.component_splits`), so no recording is heard in two splits.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
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
from bench.builtin.music import MUSIC_SOURCES, RENDER_SR, soundfont_path, tinysoundfont_synth
from bench.builtin.soundfont_samples import (
    component_splits,
    drum_zones,
    preset_names,
    sample_names,
    silence_zones,
)
from bench.builtin.writing import sources_text, split_table, write_card, write_clips

DRUM_BANK = 128
CLIP_S = 1.0
CLASSES = ("kick", "snare", "hihat", "tom", "cymbal", "percussion")
# GM percussion key -> class (keys 35-81; side stick counts as snare, hand clap and the rest as percussion,
# ride bell as cymbal, as the name patterns of bench/real/drums.py file them).
KEY_CLASSES = {35: "kick", 36: "kick", 37: "snare", 38: "snare", 40: "snare", 42: "hihat", 44: "hihat", 46: "hihat",
               **dict.fromkeys((41, 43, 45, 47, 48, 50), "tom"),
               **dict.fromkeys((49, 51, 52, 53, 55, 57, 59), "cymbal")}
GM_KEYS = range(35, 82)


def key_class(key: int) -> str | None:
    """Drum class of a GM percussion key (None outside 35-81)."""
    if key not in GM_KEYS:
        return None
    return KEY_CLASSES.get(key, "percussion")


@dataclass(frozen=True)
class Voice:
    """A drum sound: kit preset `program`, GM `key`, its class, the recordings it plays and the keyRange
    generators of the quieter zones muted to play it solo."""

    program: int
    key: int
    label: str
    samples: frozenset[int]
    muted: tuple[int, ...]


def _loudest(zones: tuple) -> tuple[frozenset[int], tuple[int, ...]]:
    quietest = min(z.attenuation for z in zones)
    loud = [z for z in zones if z.attenuation == quietest]
    return frozenset(z.sample for z in loud), tuple(sorted({z.key_range_gen for z in zones if z not in loud}))


def drum_voices(path: Path) -> list[Voice]:
    """The voices of the task, ordered by (program, key): every kit key of 35-81 whose loudest recordings all
    belong to the key's class (see the module docstring)."""
    zones = drum_zones(Path(path), DRUM_BANK)
    uses: dict[int, Counter] = {}
    for (_, key), found in zones.items():
        for sample in _loudest(found)[0]:
            uses.setdefault(sample, Counter())[key_class(key)] += 1
    owner = {}
    for sample, count in uses.items():
        ranked = count.most_common()
        owner[sample] = None if len(ranked) > 1 and ranked[0][1] == ranked[1][1] else ranked[0][0]
    voices = []
    for (program, key), found in zones.items():
        label = key_class(key)
        samples, muted = _loudest(found)
        if label is not None and all(owner[s] == label for s in samples):
            voices.append(Voice(program, key, label, samples, muted))
    return voices


def voice_components(voices: list[Voice]) -> list[list[int]]:
    """Indices of `voices` grouped into connected components by shared recordings, ordered by lowest index."""
    parent = list(range(len(voices)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    first: dict[int, int] = {}
    for i, voice in enumerate(voices):
        for sample in voice.samples:
            j = first.setdefault(sample, i)
            a, b = root(i), root(j)
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(voices)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def voice_splits(voices: list[Voice], seed: int) -> dict[str, list[int]]:
    """Voice indices per split: whole shared-recording components, every class in every split, about 60/15/25%."""
    return component_splits(voice_components(voices), {i: v.label for i, v in enumerate(voices)}, seed,
                            "percussion-voices")


class DrumRenderer:
    """Renders one voice at a time from a copy of the SoundFont with the voice's quieter zones muted."""

    def __init__(self) -> None:
        self.synth = tinysoundfont_synth()
        self.data = soundfont_path().read_bytes()
        self.sfid: int | None = None

    def load(self, voice: Voice) -> None:
        """Load the SoundFont patched for `voice` (the previous one is unloaded)."""
        if self.sfid is not None:
            self.synth.sfunload(self.sfid)
        self.sfid = self.synth.sfload(silence_zones(self.data, list(voice.muted)))

    def render(self, voice: Voice, velocity: int, tuning: float, hold_s: float, total_s: float) -> np.ndarray:
        """Mono 16 kHz audio of one hit of the loaded `voice`, released at `hold_s`, `total_s` long."""
        import soxr

        self.synth.soundfonts[self.sfid].reset()
        self.synth.program_select(0, self.sfid, DRUM_BANK, voice.program)
        self.synth.set_tuning(0, tuning)
        self.synth.noteon(0, voice.key, velocity)
        n_hold = int(round(hold_s * RENDER_SR))
        head = np.frombuffer(self.synth.generate(n_hold), dtype=np.float32)
        self.synth.noteoff(0, voice.key)
        n_tail = int(round(total_s * RENDER_SR)) - n_hold
        tail = np.frombuffer(self.synth.generate(n_tail), dtype=np.float32)
        stereo = np.concatenate([head, tail]).reshape(-1, 2)
        return soxr.resample(stereo.mean(axis=1).astype(np.float64), RENDER_SR, SAMPLE_RATE)


def _conditions(rng: np.random.Generator) -> dict:
    """Per-clip draws: velocity, retuning, onset, hold, room, noise, level."""
    return {"velocity": int(rng.integers(40, 128)), "tuning": float(rng.uniform(-1.0, 1.0)),
            "onset": float(rng.uniform(0.0, 0.1)), "hold": float(rng.uniform(0.1, 0.5)),
            "rt60": float(rng.uniform(0.2, 0.8)) if rng.random() < 0.5 else 0.0, "drr": float(rng.uniform(0.0, 12.0)),
            "noise": str(rng.choice(["white", "pink", "brown"])), "snr": float(rng.uniform(15.0, 40.0)),
            "peak": float(rng.uniform(-20.0, -3.0))}


def _finish(dry: np.ndarray, c: dict, rng: np.random.Generator) -> np.ndarray:
    x = place(dry, int(CLIP_S * SAMPLE_RATE), int(c["onset"] * SAMPLE_RATE))
    if c["rt60"]:
        x = reverb(x, rng, c["rt60"], drr_db=c["drr"])
    return normalize_peak(add_noise(x, c["noise"], c["snr"], rng), c["peak"])


def _voices_text(voices: list[Voice], splits: dict[str, list[int]], kits: dict[int, str], names: dict[int, str]) -> str:
    from pretty_midi import note_number_to_drum_name

    lines = []
    for split in SPLITS:
        for label in CLASSES:
            members = [voices[i] for i in splits[split] if voices[i].label == label]
            recordings = sorted({names[s] for v in members for s in v.samples})
            sounds = ", ".join(f"{kits[v.program]} {v.key} {note_number_to_drum_name(v.key)}" for v in members)
            lines.append(f"- {split} / {label}: recordings {', '.join(recordings)} (voices: {sounds})")
    return "\n".join(lines)


def generate_percussion(out_dir: Path, tier: str, seed: int) -> None:
    """Drum class (6) of single hits of the SoundFont's drum kits; recordings disjoint across splits."""
    per_class = dict(zip(SPLITS, tier_sizes(tier, quick=(40, 12, 20), full=(300, 75, 150))))
    path = soundfont_path()
    voices, kits, names = drum_voices(path), preset_names(path, DRUM_BANK), sample_names(path)
    splits = voice_splits(voices, seed)
    set_of = {i: min(s for j in comp for s in voices[j].samples) for comp in voice_components(voices) for i in comp}
    plans = []  # (split, voice index, clip rng)
    for split in SPLITS:
        for label in CLASSES:
            choices = [i for i in splits[split] if voices[i].label == label]
            for j in range(per_class[split]):
                rng = item_rng(seed, f"percussion-{split}-{label}", j)
                plans.append((split, int(rng.choice(choices)), rng))
    renderer, audio = DrumRenderer(), {}
    for v in sorted({p[1] for p in plans}):  # one patched SoundFont per voice, loaded once
        renderer.load(voices[v])
        for k, (_, voice_index, rng) in enumerate(plans):
            if voice_index == v:
                c = _conditions(rng)
                dry = renderer.render(voices[v], c["velocity"], c["tuning"], c["hold"], CLIP_S - c["onset"])
                audio[k] = (_finish(dry, c, rng), c)
    items = []
    for k, (split, v, _) in enumerate(plans):
        x, c = audio[k]
        voice = voices[v]
        items.append((x, {"label": voice.label, "kit": kits[voice.program], "program": voice.program,
                          "key": voice.key, "recordings": sorted(names[s] for s in voice.samples),
                          "sample_set": set_of[v], "velocity": c["velocity"],
                          "detune_cents": round(100 * c["tuning"], 1), "onset_s": round(c["onset"], 3),
                          "rt60_s": round(c["rt60"], 2), "noise": c["noise"], "snr_db": round(c["snr"], 1)}, split))
    rows = write_clips(out_dir, "percussion", items)
    write_card(out_dir, f"builtin percussion ({tier}, seed {seed})", {
        "Task": "Drum class of a single hit, 6 balanced classes: " + ", ".join(CLASSES) + " (the classes of "
                "real/drums). Labels come from the General MIDI key the kit plays (35-36 kick; 37, 38, 40 snare; "
                "42, 44, 46 hihat; 41, 43, 45, 47, 48, 50 tom; 49, 51, 52, 53, 55, 57, 59 cymbal; the other keys "
                "of 35-81 percussion). Orchestra's bass drum is a timpani recording, the TR 808 toms a sine.",
        "Splits": "Split by recording: each voice (kit, key) is played solo through its loudest zone(s) (quieter "
                  "layered zones muted in a patched copy of the SoundFont); a recording belongs to the class of "
                  "most keys it is the loudest zone of, and voices of another class are left out. Voices sharing a "
                  "recording form a component, and whole components go to one split (every class in every split, "
                  "about 60/15/25% of each class's voices), so no recording is heard in two splits. `sample_set` "
                  "names each clip's component (its lowest sample id). TimGM6mb has few drum recordings per "
                  "class (three kicks, three toms, four hi-hats, four cymbals), so test holds one or two recordings "
                  "of most classes: intervals are wide. Voices:\n\n" + _voices_text(voices, splits, kits, names),
        "Sizes": split_table(rows),
        "Rendering": f"Each clip is {CLIP_S} s, mono, 16 kHz PCM_16, rendered at {RENDER_SR} Hz with tinysoundfont "
                     "(bank 128) and resampled with soxr. Per clip, drawn from the seed: velocity 40-127, retuning "
                     "+-1 semitone, onset 0-0.1 s, note-off after 0.1-0.5 s, a synthetic room for half the clips "
                     "(RT60 0.2-0.8 s, direct-to-reverberant 0-12 dB), white / pink / brown noise at 15-40 dB SNR, "
                     "peak level -20..-3 dBFS.",
        "Sources and licenses": sources_text(*MUSIC_SOURCES),
    })
