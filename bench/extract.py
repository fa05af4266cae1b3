"""The extraction engine: decode, batch by length, chunk long clips, encode, stitch, pool, cache.

Clips already in the cache are never decoded again. Decoding of the next batch runs in a thread while the
encoder works on the current one, so on a GPU the forward pass is the only cost that shows.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.audio import BadAudio, audio_info, load_audio, resampled_length
from bench.cache import EmbeddingCache, clip_key, stable_hash
from bench.encoder import Encoder


@dataclass
class ExtractionConfig:
    """How clips are fed to the encoder. `batch_seconds` bounds padded audio per batch (rows x longest row);
    each batch becomes one cache shard."""

    channels: str = "mix"
    max_seconds: float | None = None
    layer: str = "last"
    batch_seconds: float = 320.0
    max_batch: int = 64
    on_bad_audio: str = "error"
    progress: bool = True


@dataclass
class ExtractionStats:
    """What one extraction did, for the result's `timing` and `cache` blocks."""

    n_clips: int = 0
    n_cached: int = 0
    n_encoded: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    audio_seconds: float = 0.0
    extract_s: float = 0.0
    forward_s: float = 0.0


def encoder_key(encoder: Encoder, layer: str) -> tuple[str, dict[str, Any]]:
    """Cache key of an encoder configuration, and the description it hashes."""
    description = {
        "class": f"{type(encoder).__module__}.{type(encoder).__qualname__}",
        "wrapper_version": encoder.wrapper_version,
        "weights_sha256": encoder.weights_sha256(),
        "init_args": encoder.init_args,
        "sample_rate": encoder.sample_rate,
        "max_seconds": encoder.max_seconds,
        "layer": layer,
        "dtype": encoder.dtype,
    }
    return f"{encoder.name}-{stable_hash(description)[:16]}", description


def select_layer(encoder: Encoder, out: Any, layer: str):
    """The [B, T, D] tensor for a layer choice: 'last', 'mean' (of all hidden states) or an index."""
    import torch

    if layer == "last":
        return out.frames
    if not out.hidden_states:
        raise ValueError(f"encoder '{encoder.name}' exposes no hidden states; use --layer last")
    if layer == "mean":
        return torch.stack(list(out.hidden_states)).mean(dim=0)
    try:
        return out.hidden_states[int(layer)]
    except (ValueError, IndexError) as err:
        raise ValueError(f"--layer {layer!r}: expected 'last', 'mean' or an index into the "
                         f"{len(out.hidden_states)} hidden states of '{encoder.name}'") from err


def window_samples(encoder: Encoder) -> int | None:
    """Longest input the encoder takes in one call, in samples (None = unlimited)."""
    return None if encoder.max_seconds is None else int(encoder.max_seconds * encoder.sample_rate)


def split_rows(wave: np.ndarray, window: int | None) -> list[np.ndarray]:
    """[C, N] clip -> rows for the encoder: channel-major, each channel cut into windows of `window`."""
    rows = []
    for channel in wave:
        if window is None or len(channel) <= window:
            rows.append(channel)
        else:
            rows.extend(channel[start:start + window] for start in range(0, len(channel), window))
    return rows


def pad_batch(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """1-D waveforms -> a zero-padded float32 batch [B, N] and its bool mask [B, N] (True = real sample)."""
    longest = max(len(r) for r in rows)
    waves = np.zeros((len(rows), longest), dtype=np.float32)
    mask = np.zeros((len(rows), longest), dtype=bool)
    for i, row in enumerate(rows):
        waves[i, : len(row)] = row
        mask[i, : len(row)] = True
    return waves, mask


def encode_rows(encoder: Encoder, rows: list[np.ndarray], layer: str) -> list[np.ndarray]:
    """Encode 1-D waveforms padded into one batch; returns each row's valid frames [T, D] (float32)."""
    import torch

    waves, mask = pad_batch(rows)
    with torch.inference_mode():
        out = encoder.encode(torch.from_numpy(waves).to(encoder.device), torch.from_numpy(mask).to(encoder.device))
        feats = select_layer(encoder, out, layer).float().cpu().numpy()
        frame_mask = out.mask.cpu().numpy()
    return [feats[i][frame_mask[i]] for i in range(len(rows))]


def stitch(per_row: list[np.ndarray], n_channels: int) -> np.ndarray:
    """Rows of one clip (channel-major chunks) -> [T, D * n_channels]: chunks joined in time, channels in D."""
    per_channel = len(per_row) // n_channels
    channels = [np.concatenate(per_row[c * per_channel:(c + 1) * per_channel]) for c in range(n_channels)]
    length = min(len(c) for c in channels)
    return np.concatenate([c[:length] for c in channels], axis=1)


def encode_clip(encoder: Encoder, wave: np.ndarray, layer: str = "last") -> np.ndarray:
    """Encode one [C, N] clip the way the harness does (chunked to the encoder's window): [T, D * C]."""
    return stitch(encode_rows(encoder, split_rows(wave, window_samples(encoder)), layer), len(wave))


@dataclass
class _Unit:
    key: str
    item: dict[str, Any]
    num_rows: int
    longest: int


def _plan_units(items: list[dict[str, Any]], keys: list[str], encoder: Encoder, cfg: ExtractionConfig,
                stats: ExtractionStats) -> list[_Unit]:
    window = window_samples(encoder)
    units: list[_Unit] = []
    expected_channels = 0
    for item, key in zip(items, keys):
        try:
            frames, rate, channels = audio_info(item["_audio"], _where(item))
            if frames == 0:
                raise BadAudio(f"{_where(item)}: the audio is empty (0 samples)")
            if cfg.channels == "each":  # every clip must give the same feature width
                expected_channels = expected_channels or channels
                if channels != expected_channels:
                    raise BadAudio(f"{_where(item)}: has {channels} channel(s) but the task encodes each channel "
                                   f"and other clips have {expected_channels}")
        except BadAudio as err:
            _bad(err, item, cfg, stats)
            continue
        length = resampled_length(frames, rate, encoder.sample_rate)
        if cfg.max_seconds is not None:
            length = min(length, int(round(cfg.max_seconds * encoder.sample_rate)))
        n_channels = channels if cfg.channels == "each" else 1
        chunks = 1 if window is None else max(1, math.ceil(length / window))
        units.append(_Unit(key, item, n_channels * chunks, min(length, window or length)))
    return units


def _batches(units: list[_Unit], budget: int, max_batch: int) -> list[list[_Unit]]:
    units = sorted(units, key=lambda u: u.longest, reverse=True)
    batches, current, rows = [], [], 0
    for unit in units:
        longest = current[0].longest if current else unit.longest
        if current and ((rows + unit.num_rows) * longest > budget or rows + unit.num_rows > max_batch):
            batches.append(current)
            current, rows = [], 0
        current.append(unit)
        rows += unit.num_rows
    if current:
        batches.append(current)
    return batches


def _where(item: dict[str, Any]) -> str:
    source = item["_audio"]
    return f"item '{item['id']}' ({source if not isinstance(source, bytes) else 'embedded bytes'})"


def _bad(err: BadAudio, item: dict[str, Any], cfg: ExtractionConfig, stats: ExtractionStats) -> None:
    if cfg.on_bad_audio != "skip":
        raise BadAudio(f"{err} [to skip such clips and report them instead: --on-bad-audio skip]") from err
    stats.skipped.append({"id": str(item["id"]), "reason": str(err)})


def _encode_batch(encoder: Encoder, good: list[tuple[_Unit, np.ndarray]], cfg: ExtractionConfig,
                  cache: EmbeddingCache, stats: ExtractionStats) -> None:
    """Encode one batch of decoded clips and store it as one cache shard (a kill loses at most this batch)."""
    rows, owners = [], []
    window = window_samples(encoder)
    for unit, wave in good:
        unit_rows = split_rows(wave, window)
        rows.extend(unit_rows)
        owners.append((unit, len(unit_rows), wave.shape[0]))
        stats.audio_seconds += wave.shape[1] / encoder.sample_rate
    tick = _sync_time(encoder)
    per_row = encode_rows(encoder, rows, cfg.layer)
    stats.forward_s += _sync_time(encoder) - tick
    keys, clips, cursor = [], [], 0
    for unit, n_rows, n_channels in owners:
        frames = stitch(per_row[cursor:cursor + n_rows], n_channels)
        cursor += n_rows
        if not np.isfinite(frames).all():
            raise ValueError(f"encoder '{encoder.name}' produced NaN/inf for {_where(unit.item)}; "
                             f"run `bench check {encoder.name}`")
        keys.append(unit.key)
        clips.append(frames)
    cache.write_shard(keys, clips)
    stats.n_encoded += len(keys)


def extract(encoder: Encoder, items: list[dict[str, Any]], cache: EmbeddingCache,
            cfg: ExtractionConfig) -> tuple[list[str], ExtractionStats]:
    """Make sure every item's embedding is in `cache`; return each item's clip key and what was done.

    Items whose audio is bad raise BadAudio, or under `on_bad_audio='skip'` are listed in `stats.skipped`
    (their key is then absent from the cache).
    """
    start = time.perf_counter()
    stats = ExtractionStats(n_clips=len(items))
    keys = [clip_key(item["_hash"], cfg.channels, cfg.max_seconds) for item in items]
    todo: dict[str, dict[str, Any]] = {}
    for item, key in zip(items, keys):
        if key not in cache:
            todo.setdefault(key, item)
    stats.n_cached = sum(1 for k in keys if k in cache)
    units = _plan_units(list(todo.values()), list(todo), encoder, cfg, stats)
    budget = int(cfg.batch_seconds * encoder.sample_rate)
    batches = _batches(units, budget, cfg.max_batch)

    def decode(batch: list[_Unit]) -> list[tuple[_Unit, np.ndarray | BadAudio]]:
        out = []
        for unit in batch:
            try:
                wave = load_audio(unit.item["_audio"], encoder.sample_rate, cfg.channels, _where(unit.item),
                                  cfg.max_seconds)
                out.append((unit, wave))
            except BadAudio as err:
                out.append((unit, err))
        return out

    from tqdm.auto import tqdm

    bar = tqdm(total=len(units), desc=f"encode {encoder.name}", unit="clip", disable=not cfg.progress or not units)
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(decode, batches[0]) if batches else None
        for index in range(len(batches)):
            decoded = future.result()
            future = pool.submit(decode, batches[index + 1]) if index + 1 < len(batches) else None
            good = []
            for unit, wave in decoded:
                if isinstance(wave, BadAudio):
                    _bad(wave, unit.item, cfg, stats)
                else:
                    good.append((unit, wave))
            if good:
                _encode_batch(encoder, good, cfg, cache, stats)
            bar.update(len(decoded))
    bar.close()
    stats.extract_s = time.perf_counter() - start
    return keys, stats


def _sync_time(encoder: Encoder) -> float:
    if str(encoder.device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    return time.perf_counter()
