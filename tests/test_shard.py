"""Shard planning (deterministic, covering, balanced) and claim files (exclusive, stale takeover, markers)."""

import json
import os
import subprocess
import sys

import pytest

from bench.shard import ClaimBoard, plan_shards


def _batches(n: int):
    costs = [(i * 7919) % 13 + 1 for i in range(n)]  # uneven, fixed costs
    return [[f"clip{i}a", f"clip{i}b"] for i in range(n)], costs


def test_plan_covers_every_batch_once_in_order_and_is_deterministic():
    batches, costs = _batches(40)
    shards = plan_shards(batches, costs, 8)
    assert [list(b) for s in shards for b in s.batches] == batches
    assert [s.id for s in shards] == [s.id for s in plan_shards(batches, costs, 8)]
    assert len({s.id for s in shards}) == len(shards) <= 8
    assert [s.samples for s in shards] == [sum(costs[i] for i in range(len(batches)) if batches[i] in
                                               [list(b) for b in s.batches]) for s in shards]


def test_plan_balances_duration_within_one_batch_of_the_mean():
    batches, costs = _batches(200)
    shards = plan_shards(batches, costs, 10)
    mean = sum(costs) / 10
    assert len(shards) == 10
    assert all(abs(s.samples - mean) <= max(costs) for s in shards[:-1])


def test_plan_never_makes_more_shards_than_batches():
    batches, costs = _batches(3)
    assert 1 <= len(plan_shards(batches, costs, 50)) <= 3
    assert len(plan_shards(batches, [5, 5, 5], 50)) == 3
    assert plan_shards([], [], 4) == []


def test_a_claim_is_exclusive_until_done(tmp_path):
    first, second = ClaimBoard(tmp_path), ClaimBoard(tmp_path)
    claim = first.try_claim("s1")
    assert claim is not None and second.try_claim("s1") is None
    assert first.still_ours(claim)
    first.mark_done("s1", [{"id": "x", "reason": "bad"}])
    assert second.try_claim("s1") is None and second.done("s1")["skipped"] == [{"id": "x", "reason": "bad"}]
    assert second.pending(["s1", "s2"]) == ["s2"]
    assert not list((tmp_path / "claims").glob("s1.claim.*"))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_dead_owners_claim_is_taken_over_once_and_the_old_owner_learns_it(tmp_path):
    board = ClaimBoard(tmp_path)
    old = board.try_claim("s1")
    owner = json.loads(old.read_text())
    old.write_text(json.dumps({**owner, "pid": _dead_pid()}))
    new = board.try_claim("s1")
    assert new is not None and new.name == "s1.claim.1"
    assert ClaimBoard(tmp_path).try_claim("s1") is None  # the new owner is alive
    assert not board.still_ours(old) and board.still_ours(new)


def test_a_claim_without_heartbeat_goes_stale(tmp_path):
    board = ClaimBoard(tmp_path, stale_after=60)
    claim = board.try_claim("s1")
    assert board.try_claim("s1") is None
    os.utime(claim, (claim.stat().st_mtime - 120, claim.stat().st_mtime - 120))
    assert board.try_claim("s1") is not None


def test_failed_marker_blocks_claims_until_cleared(tmp_path):
    board = ClaimBoard(tmp_path)
    board.try_claim("s1")
    board.mark_failed("s1", "BadAudio: item 'a' cannot be read")
    assert board.failed("s1") == "BadAudio: item 'a' cannot be read"
    assert board.try_claim("s1") is None
    board.clear_failed(["s1"])
    assert board.failed("s1") is None and board.try_claim("s1") is not None


@pytest.mark.parametrize("text,expected", [("0/4", (0, 4)), ("3/4", (3, 4))])
def test_parse_shard(text, expected):
    from bench.distributed import parse_shard

    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["4/4", "-1/2", "1", "a/b", "0/0"])
def test_parse_shard_rejects(text):
    from bench.distributed import parse_shard

    with pytest.raises(ValueError, match="--shard"):
        parse_shard(text)


def test_world_from_torchrun_slurm_and_explicit_shard():
    from bench.distributed import World, detect_world, worker_device

    torchrun = detect_world(environ={"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert torchrun == World(1, 4, 1, "torchrun") and worker_device("cuda", torchrun) == "cuda:1"
    assert detect_world(environ={"SLURM_PROCID": "2", "SLURM_NTASKS": "3"}) == World(2, 3, 0, "slurm")
    assert detect_world("1/2", environ={"RANK": "0", "WORLD_SIZE": "4"}) == World(1, 2, 0, "shard")
    assert detect_world(environ={"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}) == World()
    assert worker_device("cpu", torchrun) == "cpu" and worker_device("cuda", World()) == "cuda"
