"""The extraction engine: decode, batch by length, chunk long clips, encode, stitch, pool, cache.

Clips already in the cache are never decoded again. Decoding of the next batch runs in a thread while the
encoder works on the current one, so on a GPU the forward pass is the only cost that shows.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.audio import BadAudio, audio_info, decode_many, default_decode_workers, resampled_length
from bench.cache import EmbeddingCache, clip_key, stable_hash
from bench.defaults import DEFAULT_BATCH_SECONDS
from bench.encoder import Encoder
from bench.output_contract import EncoderOutputError, check_output, describe, output_error
from bench.paths import safe_name


@dataclass
class ExtractionConfig:
    """How clips are fed to the encoder. `batch_seconds` bounds padded audio per batch (rows x longest row);
    each batch becomes one cache shard."""

    channels: str = "mix"
    max_seconds: float | None = None
    layer: str = "last"
    batch_seconds: float = DEFAULT_BATCH_SECONDS
    max_batch: int = 64
    on_bad_audio: str = "error"
    progress: bool = True
    decode_workers: int | None = None  # decode threads (None: CPU cores - 1, at least 1, at most 8)


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
    """Cache key of an encoder configuration, and the description it hashes.

    An encoder from outside the harness (`file.py:Class`, `module:Class`, an entry point) is keyed by the sha256
    of its source file(s) and every constructor argument (captured from its `__init__` signature), so editing its
    code or changing an argument never reuses old embeddings. The built-in wrappers keep the key they always had
    (their `wrapper_version` and the arguments they record), so existing caches stay valid.
    """
    source = encoder.source_sha256()
    builtin = source is None
    description = {
        "class": f"{type(encoder).__module__}.{type(encoder).__qualname__}",
        "wrapper_version": encoder.wrapper_version,
        "weights_sha256": encoder.weights_sha256(),
        "init_args": getattr(encoder, "_wrapper_init_args", encoder.init_args) if builtin else encoder.init_args,
        "sample_rate": encoder.sample_rate,
        "max_seconds": encoder.max_seconds,
        "layer": layer,
        "dtype": encoder.dtype,
    }
    if not builtin:
        description["source_sha256"] = source
    return f"{safe_name(encoder.name, 'encoder name')}-{stable_hash(description)[:16]}", description


def select_layer(encoder: Encoder, out: Any, layer: str):
    """The [B, T, D] tensor for a layer choice: 'last', 'mean' (of all hidden states) or an index; for 'all', every
    hidden state as [B, L, T, D] (input embedding first, as the encoder lists them)."""
    import torch

    if layer == "last":
        return out.frames
    if not out.hidden_states:
        raise ValueError(f"encoder '{encoder.name}' exposes no hidden states; use --layer last")
    if layer in ("mean", "all"):
        shapes = {tuple(h.shape) for h in out.hidden_states}
        if len(shapes) > 1:
            raise EncoderOutputError(f"--layer {layer} needs hidden states of one shape, got "
                                     f"{sorted(list(s) for s in shapes)}")
        stacked = torch.stack(list(out.hidden_states), dim=1)
        return stacked.mean(dim=1) if layer == "mean" else stacked
    try:
        return out.hidden_states[int(layer)]
    except (ValueError, IndexError) as err:
        raise ValueError(f"--layer {layer!r}: expected 'last', 'mean', 'all' or an index into the "
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


def to_device(array: np.ndarray, device: str):
    """A numpy array as a tensor on `device`; to CUDA through pinned memory without blocking the host, so the
    copy overlaps the previous batch's compute (the encoder's first kernel waits for it on the same stream)."""
    import torch

    tensor = torch.from_numpy(array)
    if str(device).startswith("cuda"):
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def encode_rows(encoder: Encoder, rows: list[np.ndarray], layer: str) -> list[np.ndarray]:
    """Encode 1-D waveforms padded into one batch; returns each row's valid frames [T, D] (float32), or [L, T, D]
    under layer 'all'.

    Raises EncoderOutputError when the encoder breaks the contract (see `check_output`) or a valid frame of the
    chosen layer is NaN or infinite."""
    import torch

    waves, mask = pad_batch(rows)
    with torch.inference_mode():
        out = encoder.encode(to_device(waves, encoder.device), to_device(mask, encoder.device))
        check_output(encoder, out, len(rows))
        selected = select_layer(encoder, out, layer)
        ndim = 4 if layer == "all" else 3
        if (not isinstance(selected, torch.Tensor) or selected.ndim != ndim
                or (selected.shape[0], selected.shape[-2]) != tuple(out.mask.shape)):
            shape = "[B, L, T, D]" if layer == "all" else "[B, T, D]"
            raise EncoderOutputError(f"layer {layer!r} is {describe(selected)}; expected {shape} with [B, T] = "
                                     f"{list(out.mask.shape)} as in the mask")
        feats = selected.float().cpu().numpy()
        frame_mask = out.mask.cpu().numpy()
    per_row = [np.compress(frame_mask[i], feats[i], axis=-2) for i in range(len(rows))]
    for i, row in enumerate(per_row):
        if not np.isfinite(row).all():
            raise EncoderOutputError("valid frames contain NaN or infinite values (or values beyond float32's "
                                     "range)", row=i)
    return per_row


def stitch(per_row: list[np.ndarray], n_channels: int) -> np.ndarray:
    """Rows of one clip (channel-major chunks) -> [T, D * n_channels] ([L, T, D * n_channels] when each row holds
    every layer): chunks joined in time, channels in D."""
    per_channel = len(per_row) // n_channels
    channels = [np.concatenate(per_row[c * per_channel:(c + 1) * per_channel], axis=-2) for c in range(n_channels)]
    length = min(c.shape[-2] for c in channels)
    return np.concatenate([c[..., :length, :] for c in channels], axis=-1)


def encode_clip(encoder: Encoder, wave: np.ndarray, layer: str = "last") -> np.ndarray:
    """Encode one [C, N] clip the way the harness does (chunked to the encoder's window): [T, D * C] ([L, T, D * C]
    under layer 'all')."""
    return stitch(encode_rows(encoder, split_rows(wave, window_samples(encoder)), layer), len(wave))


@dataclass
class _Unit:
    key: str
    item: dict[str, Any]
    num_rows: int
    longest: int


Header = tuple[int, int, int]  # (frames, sample_rate, channels) of a file, read without decoding


def _read_header(item: dict[str, Any]) -> Header | BadAudio:
    """An item's audio header, or the BadAudio that explains why it cannot be used."""
    try:
        frames, rate, channels = audio_info(item["_audio"], _where(item))
    except BadAudio as err:
        return err
    if frames == 0:
        return BadAudio(f"{_where(item)}: the audio is empty (0 samples)")
    return frames, rate, channels


def _reject_odd_channel_counts(items: list[dict[str, Any]], headers: list[Header | BadAudio], cfg: ExtractionConfig,
                               stats: ExtractionStats) -> set[int]:
    """Under `channels: each` every clip must give the same feature width: the expected channel count is the one
    most of the manifest's readable items have (cached or not). Items with another count raise one BadAudio naming
    them all, or under skip are reported; returns their indices."""
    counts = Counter(h[2] for h in headers if not isinstance(h, BadAudio))
    if len(counts) < 2:
        return set()
    expected, n_expected = counts.most_common(1)[0]
    odd = [i for i, h in enumerate(headers) if not isinstance(h, BadAudio) and h[2] != expected]
    majority = (f"the task encodes each channel and most clips ({n_expected} of {sum(counts.values())}) have "
                f"{expected}")
    if cfg.on_bad_audio != "skip":
        listed = ", ".join(f"{_where(items[i])} has {headers[i][2]} channel(s)" for i in odd[:10])
        more = f" and {len(odd) - 10} more" if len(odd) > 10 else ""
        _bad(BadAudio(f"{len(odd)} clip(s) differ from the channel count of the rest ({majority}): {listed}{more}; "
                      f"convert or remove them"), items[odd[0]], cfg, stats)
    for i in odd:
        _bad(BadAudio(f"{_where(items[i])}: has {headers[i][2]} channel(s) but {majority}"), items[i], cfg, stats)
    return set(odd)


def _plan_units(todo: list[tuple[dict[str, Any], str, Header | BadAudio]], encoder: Encoder, cfg: ExtractionConfig,
                stats: ExtractionStats) -> list[_Unit]:
    """(item, clip key, header) of the clips to encode -> units of work (rows and padded length of each clip)."""
    window = window_samples(encoder)
    units: list[_Unit] = []
    for item, key, header in todo:
        if isinstance(header, BadAudio):
            _bad(header, item, cfg, stats)
            continue
        frames, rate, channels = header
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
    """Encode one batch of decoded clips, check what the encoder returned, and store it as one cache shard (a kill
    or a broken output loses at most this batch, and never writes part of it)."""
    rows, owners, row_owner = [], [], []
    window = window_samples(encoder)
    for unit, wave in good:
        unit_rows = split_rows(wave, window)
        rows.extend(unit_rows)
        row_owner.extend([unit] * len(unit_rows))
        owners.append((unit, len(unit_rows), wave.shape[0]))
    tick = _sync_time(encoder)
    try:
        per_row = encode_rows(encoder, rows, cfg.layer)
    except EncoderOutputError as err:
        where = (_where(row_owner[err.row].item) if err.row is not None else
                 f"the batch of {len(good)} clip(s) starting with {_where(good[0][0].item)}")
        raise output_error(encoder, str(err), where) from err
    stats.forward_s += _sync_time(encoder) - tick
    keys, clips, cursor = [], [], 0
    for unit, n_rows, n_channels in owners:
        frames = stitch(per_row[cursor:cursor + n_rows], n_channels)
        cursor += n_rows
        if frames.shape[-2] == 0:
            raise output_error(encoder, "its mask marks no valid frame for this clip", _where(unit.item))
        keys.append(unit.key)
        clips.append(frames)
    cache.write_shard(keys, clips)
    stats.n_encoded += len(keys)
    stats.audio_seconds += sum(wave.shape[1] / encoder.sample_rate for _, wave in good)


def extract(encoder: Encoder, items: list[dict[str, Any]], cache: EmbeddingCache,
            cfg: ExtractionConfig) -> tuple[list[str | None], ExtractionStats]:
    """Make sure every item's embedding is in `cache`; return each item's clip key and what was done.

    Items whose audio is bad raise BadAudio, or under `on_bad_audio='skip'` are listed in `stats.skipped`
    (their key is then absent from the cache, or None when the item was rejected whether cached or not: a
    channel count unlike the rest under `channels: each`). What the encoder returns is checked batch by batch
    before it is cached (EncoderOutputError names the encoder, the clip and the fix).
    """
    start = time.perf_counter()
    stats = ExtractionStats(n_clips=len(items))
    keys: list[str | None] = [clip_key(item["_hash"], cfg.channels, cfg.max_seconds) for item in items]
    headers: dict[int, Header | BadAudio] = {}
    if cfg.channels == "each":  # decide the channel count from the whole manifest before encoding anything
        headers = {i: _read_header(item) for i, item in enumerate(items)}
        for i in _reject_odd_channel_counts(items, [headers[i] for i in range(len(items))], cfg, stats):
            keys[i] = None
    todo: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key is not None and key not in cache:
            todo.setdefault(key, index)
    stats.n_cached = sum(1 for k in keys if k is not None and k in cache)
    units = _plan_units([(items[i], key, headers[i] if i in headers else _read_header(items[i]))
                         for key, i in todo.items()], encoder, cfg, stats)
    batches = _batches(units, int(cfg.batch_seconds * encoder.sample_rate), cfg.max_batch)
    encode_batches(encoder, batches, cfg, cache, stats)
    stats.extract_s = time.perf_counter() - start
    return keys, stats


def plan(encoder: Encoder, items: list[dict[str, Any]], cfg: ExtractionConfig,
         stats: ExtractionStats) -> tuple[list[str | None], list[list[_Unit]]]:
    """Every item's clip key (None when rejected), and the batches of ALL distinct usable clips, cached or not,
    exactly as one process would batch them from an empty cache (bad headers are reported into `stats`)."""
    keys: list[str | None] = [clip_key(item["_hash"], cfg.channels, cfg.max_seconds) for item in items]
    headers: dict[int, Header | BadAudio] = {}
    if cfg.channels == "each":
        headers = {i: _read_header(item) for i, item in enumerate(items)}
        for i in _reject_odd_channel_counts(items, [headers[i] for i in range(len(items))], cfg, stats):
            keys[i] = None
    first: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key is not None:
            first.setdefault(key, index)
    units = _plan_units([(items[i], key, headers[i] if i in headers else _read_header(items[i]))
                         for key, i in first.items()], encoder, cfg, stats)
    return keys, _batches(units, int(cfg.batch_seconds * encoder.sample_rate), cfg.max_batch)


def _decode_pool(workers: int, n_batches: int) -> tuple[Any, int]:
    """The decode pool and how many batches it works ahead: `workers` threads (soundfile and soxr release the
    GIL, so they decode in parallel with each other and with the encoder). Threads, not processes: a process
    pool would need a `__main__` guard in every script that calls bench.run, and forking after torch has
    started its threads can hang."""
    workers = max(1, min(workers, n_batches))
    return ThreadPoolExecutor(max_workers=workers), workers + 1


def encode_batches(encoder: Encoder, batches: list[list[_Unit]], cfg: ExtractionConfig, cache: EmbeddingCache,
                   stats: ExtractionStats, after_batch: Callable[[], None] | None = None) -> None:
    """Decode (ahead, in `cfg.decode_workers` threads) and encode `batches` into `cache`;
    `after_batch` runs after each batch. Decoding is the same function either way, so embeddings are too."""
    from tqdm.auto import tqdm

    total = sum(len(b) for b in batches)
    bar = tqdm(total=total, desc=f"encode {encoder.name}", unit="clip", disable=not cfg.progress or not total)
    workers = default_decode_workers() if cfg.decode_workers is None else cfg.decode_workers
    pool, ahead = _decode_pool(workers, len(batches))

    def submit(batch: list[_Unit]):
        return pool.submit(decode_many, [(u.item["_audio"], _where(u.item)) for u in batch], encoder.sample_rate,
                           cfg.channels, cfg.max_seconds)

    try:
        pending = deque(submit(batch) for batch in batches[:ahead])
        for index, batch in enumerate(batches):
            waves = pending.popleft().result()
            if index + ahead < len(batches):
                pending.append(submit(batches[index + ahead]))
            good = []
            for unit, wave in zip(batch, waves):
                if isinstance(wave, BadAudio):
                    _bad(wave, unit.item, cfg, stats)
                else:
                    good.append((unit, wave))
            if good:
                _encode_batch(encoder, good, cfg, cache, stats)
            bar.update(len(batch))
            if after_batch is not None:
                after_batch()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    bar.close()


def _sync_time(encoder: Encoder) -> float:
    if str(encoder.device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    return time.perf_counter()
