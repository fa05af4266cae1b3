"""End to end: bench.run on a mock task writes a complete result record and a leaderboard."""

import json

import pytest

import bench
from bench.leaderboard import MixedVersions, build, write_leaderboard
from bench.results import load_results
from conftest import write_task


@pytest.fixture
def tone_task(tmp_path, tone_dataset):
    return write_task(tmp_path / "tasks", tone_dataset, protocols=("linear", "mlp", "knn"))


def test_run_writes_result_with_provenance(tmp_path, tone_task):
    records = bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0, 1], progress=False)
    record = json.loads((tmp_path / "res" / "mfcc" / "test__tones.json").read_text())
    assert record == json.loads(json.dumps(records[0], default=str))
    for field in ("schema_version", "bench_version", "git_sha", "created_utc", "encoder", "task", "protocols",
                  "n_samples", "env", "timing", "cache", "seeds"):
        assert field in record
    assert len(record["encoder"]["weights_sha256"]) == 64
    assert record["task"]["dataset_fingerprint"] and record["n_samples"] == 54
    assert record["env"]["versions"]["torch"] and record["timing"]["extract_s"] > 0
    assert [p["kind"] for p in record["protocols"]] == ["linear", "mlp", "knn"]
    for proto in record["protocols"]:
        main = proto["main_score"]
        assert main["name"] == "accuracy" and main["higher_is_better"]
        low, high = main["ci95"]
        assert low <= main["value"] <= high
        assert main["value"] > 0.6  # three well-separated tones: far above chance (1/3)
    assert record["cache"]["n_encoded"] == 54

    # same command again: nothing recomputed; --force recomputes from the cache with identical numbers
    again = bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0, 1], progress=False)
    assert again[0]["created_utc"] == record["created_utc"]
    forced = bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0, 1], progress=False,
                       force=True)
    assert forced[0]["cache"]["hit"] and forced[0]["cache"]["n_encoded"] == 0
    assert [p["metrics"] for p in forced[0]["protocols"]] == [p["metrics"] for p in record["protocols"]]


def test_a_result_from_other_protocol_code_is_recomputed(tmp_path, tone_task, monkeypatch):
    from bench.protocols import registry as base

    first = bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False)[0]
    assert {p["code_sha256"] for p in first["protocols"]} >= {base.protocol_code_sha256("knn")}
    monkeypatch.setattr(base, "protocol_code_sha256", lambda kind: "0" * 64)  # as if the protocol code changed
    again = bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False)[0]
    assert all(p["code_sha256"] == "0" * 64 for p in again["protocols"])


def test_a_result_records_the_commit_its_run_started_from(tmp_path, tone_task, monkeypatch):
    import subprocess

    from bench import extract, results

    head = {"sha": "a" * 40}
    real_extract = extract.extract

    def rev_parse(*args, **kwargs):
        return subprocess.CompletedProcess(args, 0, stdout=head["sha"] + "\n")

    def extract_while_the_checkout_moves(*args, **kwargs):
        head["sha"] = "b" * 40  # e.g. a commit made while a long extraction runs
        return real_extract(*args, **kwargs)

    results.git_sha.cache_clear()
    monkeypatch.setattr(results.subprocess, "run", rev_parse)
    monkeypatch.setattr(extract, "extract", extract_while_the_checkout_moves)
    try:
        record = bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False)[0]
        assert head["sha"] == "b" * 40 and record["git_sha"] == "a" * 40
    finally:
        results.git_sha.cache_clear()


def test_protocol_code_hash_follows_the_modules_a_protocol_imports():
    from bench.protocols.registry import protocol_code_sha256, protocol_modules

    assert protocol_code_sha256("linear") == protocol_code_sha256("mlp")  # one module
    assert len({protocol_code_sha256(k) for k in ("linear", "knn", "verification", "generative")}) == 4
    linear = protocol_modules("linear")
    assert {"bench.protocols.probe", "bench.metrics", "bench.stats", "bench.protocols.features"} <= set(linear)
    # `from bench import textmetrics` counts bench.textmetrics, not the package (and with it the whole runner)
    generative = protocol_modules("generative")
    assert "bench.textmetrics" in generative and "bench" not in generative and "bench.runner" not in generative


def test_leaderboard_tables_and_version_guard(tmp_path, tone_task, tone_dataset):
    for encoder in ("mfcc", "logmel"):
        bench.run(encoder, tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False)
    paths = write_leaderboard(tmp_path / "res", tmp_path / "lb")
    assert [p.name for p in paths] == ["all_long.csv", "all.csv", "all.md"]
    import pandas as pd

    wide = pd.read_csv(paths[1], index_col=0)
    assert set(wide.index) == {"mfcc", "logmel"} and "test/tones" in wide.columns
    assert wide.loc["mfcc", "overall"] == pytest.approx(wide.loc["mfcc", "test/tones"], abs=1e-4)
    assert "[" in paths[2].read_text()  # CIs in the Markdown

    bumped = write_task(tmp_path / "tasks2", tone_dataset, protocols=("knn",), version=2)
    bench.run("mfcc", tasks=[str(bumped)], out=tmp_path / "res2", seeds=[0], progress=False)
    mixed = load_results(tmp_path / "res") + load_results(tmp_path / "res2")
    with pytest.raises(MixedVersions, match="test/tones"):
        build(mixed)
