"""Extraction shared by several workers through the cache: plan, claim shards, encode, wait for the rest.

Every worker plans the same batches as one process would (bench.extract.plan), groups them into shards
(bench.shard.plan_shards), and encodes the shards it manages to claim, starting at its own offset so workers seldom
compete. It returns once every shard is done, so whichever worker then runs the protocols sees the whole cache.
A shard that raised on one worker is marked failed and every worker raises ShardFailed with its error.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from bench.cache import EmbeddingCache
from bench.distributed import World, barrier
from bench.encoder import Encoder
from bench.extract import ExtractionConfig, ExtractionStats, encode_batches, plan
from bench.shard import STALE_CLAIM_S, ClaimBoard, Shard, default_shard_count, plan_shards

logger = logging.getLogger(__name__)


class ShardFailed(RuntimeError):
    """Another worker's extraction of a shard raised; the message is its error."""


class _LostClaim(Exception):
    """Our claim was taken over (we were presumed dead); stop this shard without marking it."""


def _run_shard(shard: Shard, claim, board: ClaimBoard, by_key: dict[str, Any], encoder: Encoder,
               cfg: ExtractionConfig, cache: EmbeddingCache, stats: ExtractionStats) -> None:
    """Encode the clips of a claimed shard that no cache shard holds yet, then mark it done (or failed)."""
    from bench.precheck import one_line

    cache.refresh()  # a previous owner may have finished part of it
    batches = [[by_key[k] for k in batch if k not in cache] for batch in shard.batches]
    batches = [b for b in batches if b]
    own = ExtractionStats()

    def heartbeat() -> None:
        if not board.still_ours(claim):
            raise _LostClaim(shard.id)

    try:
        encode_batches(encoder, batches, replace(cfg, progress=False), cache, own, after_batch=heartbeat)
    except _LostClaim:
        logger.warning(f"[bench] shard {shard.id} was taken over by another worker (this one looked dead)")
        return
    except Exception as err:
        board.mark_failed(shard.id, one_line(err))
        raise
    board.mark_done(shard.id, own.skipped)
    stats.forward_s += own.forward_s
    stats.audio_seconds += own.audio_seconds
    logger.info(f"[bench] shard {shard.id}: encoded {own.n_encoded} clip(s)")


def extract_sharded(encoder: Encoder, items: list[dict[str, Any]], cache: EmbeddingCache, cfg: ExtractionConfig,
                    world: World, *, n_shards: int | None = None, poll_s: float = 0.2,
                    stale_after: float = STALE_CLAIM_S) -> tuple[list[str | None], ExtractionStats]:
    """`bench.extract.extract` for one of `world.size` workers sharing `cache`: same keys, and (from an empty
    cache) the same embeddings, skipped list and counts as one process. Returns when every shard is done."""
    start = time.perf_counter()
    stats = ExtractionStats(n_clips=len(items))
    keys, batches = plan(encoder, items, cfg, stats)
    by_key = {unit.key: unit for batch in batches for unit in batch}
    costs = [batch[0].longest * sum(u.num_rows for u in batch) for batch in batches]
    shards = plan_shards([[u.key for u in b] for b in batches], costs,
                         n_shards or default_shard_count(world.size, len(batches)))
    board = ClaimBoard(cache.dir, stale_after)
    if world.is_main:
        board.clear_failed([s.id for s in shards])
    barrier(world)  # every worker sees the cache as it was before anyone encodes
    cache.refresh()
    distinct = {k for k in keys if k is not None}
    cached_at_start = {k for k in distinct if k in cache}
    stats.n_cached = sum(1 for k in keys if k is not None and k in cached_at_start)
    offset = world.rank * len(shards) // world.size
    order = shards[offset:] + shards[:offset]
    while True:
        for shard in order:
            claim = board.try_claim(shard.id)
            if claim is not None:
                _run_shard(shard, claim, board, by_key, encoder, cfg, cache, stats)
        pending = board.pending([s.id for s in shards])
        if not pending:
            break
        for shard_id in pending:
            error = board.failed(shard_id)
            if error is not None:
                raise ShardFailed(f"shard {shard_id} failed on another worker: {error}")
        time.sleep(poll_s)
    cache.refresh()
    stats.skipped.extend(row for s in shards for row in (board.done(s.id) or {}).get("skipped", []))
    stats.n_encoded = sum(1 for k in distinct - cached_at_start if k in cache)
    stats.extract_s = time.perf_counter() - start
    return keys, stats
