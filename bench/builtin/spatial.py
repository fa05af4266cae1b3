"""Spatial dataset of the built-in suite: direction of arrival and distance of one source, 4-channel recordings.

Each random shoebox room (pyroomacoustics, image-source method) holds a small planar array of four outward-facing
cardioid capsules (radius 5 cm, rotated at random in the room) and several sources placed around it; every clip is
one source, simulated, with sensor noise. Rooms, array placements and source signals are drawn afresh per split,
so nothing is shared between splits. One dataset serves two tasks: `doa` (azimuth sector) and `distance`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.builtin.audio_utils import SAMPLE_RATE, SPLITS, active_rms, db_to_gain, item_rng, place, tier_sizes
from bench.builtin.sound import SYNTHS
from bench.builtin.writing import sources_text, split_table, write_card, write_manifest, write_wav

SECTORS = ("front", "front-left", "left", "back-left", "back", "back-right", "right", "front-right")
# Sustained broadband sources only: an impulsive one (knock, footsteps, bell) is mostly silence in a 1 s clip, and
# a narrowband one (tone, siren, whistle) leaves most bands at the noise floor, so in either case a pooled
# embedding carries the sensor noise rather than the source's level and reverberation, the distance cues.
SOURCE_KINDS = ("noise burst", "voice-like tone", "engine", "rain")
SOURCE_PHRASES = {"noise burst": "a noise burst", "voice-like tone": "a voice-like tone", "engine": "an engine",
                  "rain": "rain"}
SOURCES_PER_ROOM = 12
CLIP_S = 1.0
ARRAY_RADIUS = 0.05
MAX_ORDER = 10  # image-source order cap: keeps simulation fast; the latest part of long tails is left out
N_MICS = 4
OUTPUT_GAIN = 0.02  # fixed recording gain: the nearest, loudest sources still peak a few dB below full scale


def _bandpass(x: np.ndarray, low: float, high: float) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    return sosfilt(butter(4, [low, high], btype="bandpass", fs=SAMPLE_RATE, output="sos"), x)


def _envelope(n: int, start: int, length: int, ramp: int) -> np.ndarray:
    env = np.zeros(n)
    end = min(n, start + length)
    env[start:end] = 1.0
    ramp = min(ramp, (end - start) // 2)
    if ramp:
        env[start:start + ramp] = np.linspace(0, 1, ramp)
        env[end - ramp:end] = np.linspace(1, 0, ramp)
    return env


def source_signal(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """Dry source of `kind` (SOURCE_KINDS), `n` samples, starting 0-0.1 s in and lasting 0.7-0.9 s, unit peak."""
    onset = int(rng.uniform(0.0, 0.1) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    if kind == "noise burst":
        x = _bandpass(rng.standard_normal(n), rng.uniform(100, 1000), rng.uniform(2000, 7000))
        x *= _envelope(n, onset, int(rng.uniform(0.7, 0.9) * SAMPLE_RATE), int(0.01 * SAMPLE_RATE))
    elif kind == "voice-like tone":
        from scipy.signal import iirpeak, lfilter

        f0 = rng.uniform(90, 250) * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(4, 6) * t))
        phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
        pulses = sum(np.sin(k * phase) / k**1.2 for k in range(1, 40) if k * 250 * 1.02 < 4000)
        formants = (rng.uniform(300, 800), rng.uniform(900, 2300), rng.uniform(2400, 3000))
        x = sum(lfilter(*iirpeak(f, 8.0, fs=SAMPLE_RATE), pulses) for f in formants)
        x *= (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(3, 5) * t)) * _envelope(
            n, onset, int(rng.uniform(0.7, 0.9) * SAMPLE_RATE), int(0.03 * SAMPLE_RATE))
    else:
        sound = SYNTHS[kind](rng)[0]
        looped = place(np.tile(sound, -(-n // len(sound))), n, onset)
        x = looped * _envelope(n, onset, int(rng.uniform(0.7, 0.9) * SAMPLE_RATE), int(0.03 * SAMPLE_RATE))
    return x / (np.abs(x).max() + 1e-12)


def draw_room(rng: np.random.Generator) -> dict:
    """A random shoebox room, its target RT60 and the array centre and rotation inside it."""
    dims = [float(rng.uniform(4.0, 10.0)), float(rng.uniform(3.5, 8.0)), float(rng.uniform(2.5, 4.0))]
    return {"dims": dims, "rt60": float(rng.uniform(0.15, 0.6)),
            "center": [float(rng.uniform(0.8, dims[0] - 0.8)), float(rng.uniform(0.8, dims[1] - 0.8)),
                       float(rng.uniform(1.0, 1.6))],
            "yaw": float(rng.uniform(0.0, 360.0))}


def place_source(room: dict, sector: int, rng: np.random.Generator) -> tuple[np.ndarray, float, float, float]:
    """A source in `sector` (array frame), 0.5-4 m away horizontally as far as the walls allow (0.3 m margin).

    The horizontal distance is uniform between 0.5 m and the room's limit in that direction (at most 4 m); the
    height is within 0.4 m of the array's. Returns position, azimuth (degrees, counter-clockwise from the
    array's front), elevation (degrees) and 3-D distance (m).
    """
    center, dims = np.array(room["center"]), np.array(room["dims"])
    azimuth = (45.0 * sector + rng.uniform(-22.5, 22.5)) % 360.0
    angle = np.deg2rad(room["yaw"] + azimuth)
    direction = np.array([np.cos(angle), np.sin(angle)])
    with np.errstate(divide="ignore"):  # distance to the 0.3 m margin along the ray, per axis
        limits = np.where(direction > 0, (dims[:2] - 0.3 - center[:2]) / direction,
                          (0.3 - center[:2]) / direction)
    horizontal = rng.uniform(0.5, min(4.0, float(np.min(limits))))
    dz = rng.uniform(-0.4, 0.4)
    position = center + np.array([*(horizontal * direction), dz])
    distance = float(np.hypot(horizontal, dz))
    return position, float(azimuth), float(np.rad2deg(np.arcsin(dz / distance))), distance


def simulate(room: dict, position: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """[N_MICS, len(signal)] capsule signals of `signal` played at `position` in `room`."""
    import pyroomacoustics as pra
    from pyroomacoustics.directivities import Cardioid, DirectionVector

    absorption, max_order = pra.inverse_sabine(room["rt60"], room["dims"])
    shoebox = pra.ShoeBox(room["dims"], fs=SAMPLE_RATE, materials=pra.Material(float(absorption)),
                          max_order=int(min(max_order, MAX_ORDER)))
    angles = room["yaw"] + 360.0 / N_MICS * np.arange(N_MICS)
    mics = np.array([[room["center"][0] + ARRAY_RADIUS * np.cos(np.deg2rad(a)),
                      room["center"][1] + ARRAY_RADIUS * np.sin(np.deg2rad(a)), room["center"][2]] for a in angles])
    shoebox.add_microphone_array(mics.T, directivity=[
        Cardioid(DirectionVector(azimuth=float(a), colatitude=90.0, degrees=True)) for a in angles])
    shoebox.add_source(position.tolist(), signal=signal)
    shoebox.simulate()
    return shoebox.mic_array.signals[:, : len(signal)]


def distance_words(distance: float) -> str:
    return "close by" if distance < 1.2 else "a few metres away" if distance < 2.5 else "far away"


def spatial_clip(room: dict, sector: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """One 4-channel clip [N, 4] of a random source kind in `sector` of `room`, with its metadata."""
    n = int(CLIP_S * SAMPLE_RATE)
    kind = str(rng.choice(SOURCE_KINDS))
    position, azimuth, elevation, distance = place_source(room, sector, rng)
    dry = source_signal(kind, rng, n)
    level_db = float(rng.uniform(-3.0, 3.0))
    dry *= db_to_gain(level_db) / active_rms(dry)
    noise_db = float(rng.uniform(-72.0, -68.0))
    x = OUTPUT_GAIN * simulate(room, position, dry) + db_to_gain(noise_db) * rng.standard_normal((N_MICS, n))
    x = x.T
    room_words = ", in a reverberant room" if room["rt60"] > 0.45 else ""
    meta = {"label": SECTORS[sector], "azimuth_deg": round(azimuth, 1), "elevation_deg": round(elevation, 1),
            "distance": round(distance, 3), "source_kind": kind, "source_level_db": round(level_db, 1),
            "sensor_noise_dbfs": round(noise_db, 1),
            "caption": f"{SOURCE_PHRASES[kind]} comes from the {SECTORS[sector].replace('-', ' ')}, "
                       f"{distance_words(distance)}{room_words}"}
    return x, meta


def generate_spatial(out_dir: Path, tier: str, seed: int) -> None:
    """DOA sector (8 classes) and distance (m) of one source per clip, 4 channels, rooms disjoint across splits."""
    rooms_per_split = dict(zip(SPLITS, tier_sizes(tier, quick=(24, 6, 10), full=(150, 40, 60))))
    rows = []
    for split in SPLITS:
        for r in range(rooms_per_split[split]):
            room = draw_room(item_rng(seed, f"spatial-room-{split}", r))
            room_id = f"{split}-room{r:03d}"
            for j in range(SOURCES_PER_ROOM):
                index = r * SOURCES_PER_ROOM + j
                x, meta = spatial_clip(room, index % len(SECTORS), item_rng(seed, f"spatial-{split}", index))
                clip_id = f"spatial-{len(rows):05d}"
                write_wav(out_dir / "audio" / f"{clip_id}.wav", x)
                rows.append({"id": clip_id, "path": f"audio/{clip_id}.wav", "split": split, **meta,
                             "room": room_id, "room_dims_m": [round(d, 2) for d in room["dims"]],
                             "rt60_s": round(room["rt60"], 2)})
    write_manifest(out_dir, rows)
    distances = {s: [r["distance"] for r in rows if r["split"] == s] for s in SPLITS}
    write_card(out_dir, f"builtin spatial ({tier}, seed {seed})", {
        "Tasks": "`label`: azimuth sector of the source in the array's frame, 8 classes of 45 degrees centred on "
                 + ", ".join(f"{s} ({45 * i} deg)" for i, s in enumerate(SECTORS))
                 + " (counter-clockwise, 0 = the array's front). `distance`: 3-D source-array distance in metres "
                   "(regression). Also `azimuth_deg`, `elevation_deg`, "
                   "`source_kind`, `room`, `room_dims_m`, `rt60_s`, `caption`.",
        "Simulation": f"Shoebox rooms 4-10 x 3.5-8 x 2.5-4 m, target RT60 0.15-0.6 s turned into one wall "
                      f"absorption by Sabine's formula (pyroomacoustics.inverse_sabine), image sources up to order "
                      f"{MAX_ORDER}. Array: {N_MICS} cardioid capsules on a {ARRAY_RADIUS * 100:.0f} cm radius circle "
                      "facing outwards (front, left, back, right), 1-1.6 m high, 0.8 m or more from the walls, rotated "
                      f"at random. {SOURCES_PER_ROOM} sources per room, one per clip, at a horizontal distance "
                      "uniform between 0.5 m and the room's limit in their direction (at most 4 m, 0.3 m clear of "
                      "the walls), within 0.4 m of the array's height. Sources (all synthetic, fresh per clip, "
                      "sustained: each starts 0-0.1 s in and lasts 0.7-0.9 s, a procedural sound looped to fill it): "
                      + ", ".join(SOURCE_KINDS) + f". Clips are {CLIP_S} s, {N_MICS} channels, 16 kHz PCM_16, "
                      "recorded at one fixed gain with independent white sensor noise (-72..-68 dBFS RMS). Each "
                      "source is set to a random level of +-3 dB (active RMS), so loudness is a distance cue "
                      "(inverse-square law, weaker beyond the room's critical distance) confounded by source "
                      "level; reverberation (direct-to-reverberant ratio) and inter-capsule level differences are "
                      "the others. `source_level_db` and `sensor_noise_dbfs` record the draws.",
        "Channels": "The task files use `audio: {channels: each}`: each channel is encoded on its own and the "
                    "pooled embeddings are concatenated in channel order, so direction can only be read from what "
                    "a mono encoder keeps of each capsule (level, spectrum, reverberation).",
        "Splits": "Rooms (dimensions, RT60, array position and rotation) are drawn separately per split and "
                  "source signals are synthesised per clip, so no room and no source audio is shared across "
                  "splits. Sectors are balanced within each split.",
        "Sizes": split_table(rows) + "\n\nDistance (m) per split: " + "; ".join(
            f"{s} mean {np.mean(d):.2f}, min {min(d):.2f}, max {max(d):.2f}" for s, d in distances.items()),
        "Sources and licenses": sources_text("pyroomacoustics", "synthetic"),
    })
