"""End to end: bench.run on a mock task writes a complete result record and a leaderboard."""

import json
import logging

import pytest
from conftest import write_task

import bench
from bench.leaderboard import MixedVersions, build, write_leaderboard
from bench.results import load_results


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

    assert set(protocol_modules("linear")) == set(protocol_modules("mlp"))  # one module (their entries differ)
    assert len({protocol_code_sha256(k) for k in ("linear", "knn", "verification", "generative")}) == 4
    linear = protocol_modules("linear")
    assert {"bench.protocols.probe", "bench.metrics", "bench.stats", "bench.protocols.features"} <= set(linear)
    # `from bench import textmetrics` counts bench.textmetrics, not the package (and with it the whole runner)
    generative = protocol_modules("generative")
    assert "bench.textmetrics" in generative and "bench" not in generative and "bench.runner" not in generative


def test_a_protocol_code_hash_leaves_out_other_protocols_and_annotation_imports(monkeypatch):
    """Editing or adding one protocol must not make every other protocol's results stale: a hash covers the
    protocol's own module, its sample scorer, what they import at run time, and only its own registry entry."""
    import dataclasses

    from bench.protocols import registry

    linear = set(registry.protocol_modules("linear"))
    assert {"bench.protocols.pooled", "bench.protocols.training", "bench.scoring", "bench.layers"} <= linear
    others = {"bench.protocols.diarization", "bench.protocols.ctc", "bench.protocols.ctc_text",
              "bench.protocols.events", "bench.protocols.generative", "bench.protocols.verification",
              "bench.textmetrics", "bench.cache"}
    assert not linear & others
    assert "bench.taskspec" not in linear  # imported under `if TYPE_CHECKING:` only
    assert "bench.layers" not in registry.protocol_modules("ctc")  # the layer choice is for per-layer protocols
    registry.protocol_code_sha256.cache_clear()
    before = registry.protocol_code_sha256("linear")
    ctc, linear_info = registry.PROTOCOLS["ctc"], registry.PROTOCOLS["linear"]
    monkeypatch.setitem(registry.PROTOCOLS, "ctc", dataclasses.replace(ctc, metrics={**ctc.metrics, "x": False}))
    registry.protocol_code_sha256.cache_clear()
    assert registry.protocol_code_sha256("linear") == before  # another protocol's entry changed
    monkeypatch.setitem(registry.PROTOCOLS, "linear", dataclasses.replace(linear_info, ranges={}))
    registry.protocol_code_sha256.cache_clear()
    assert registry.protocol_code_sha256("linear") != before  # its own entry changed
    monkeypatch.undo()
    registry.protocol_code_sha256.cache_clear()
    assert registry.protocol_code_sha256("linear") == before


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


# -- exact reuse: a stored result stands only for exactly the same inputs ---------------------------------------------

def _rerun_is_reused(caplog, *args, **kwargs) -> bool:
    caplog.set_level(logging.INFO, logger="bench")
    caplog.clear()
    bench.run(*args, progress=False, **kwargs)
    return "result up to date" in caplog.text


def test_reuse_needs_the_same_dtype(tmp_path, tone_task, caplog):
    first = bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False)[0]
    assert first["status"] == "ok" and first["on_bad_audio"] == "error"
    assert _rerun_is_reused(caplog, "mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0])
    assert not _rerun_is_reused(caplog, "mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0],
                                dtype="bfloat16")
    record = json.loads((tmp_path / "res" / "mfcc" / "test__tones.json").read_text())
    assert record["env"]["dtype"] == "bfloat16" and record["cache"]["key"] != first["cache"]["key"]


def test_reuse_needs_the_same_wrapper_version(tmp_path, tone_task, caplog):
    from bench.encoders.baselines import MFCC

    class Wrapped(MFCC):
        wrapper_version = "1"

    Wrapped.name = "wrapped"
    assert not _rerun_is_reused(caplog, Wrapped(), tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0])
    assert _rerun_is_reused(caplog, Wrapped(), tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0])
    Wrapped.wrapper_version = "2"  # a wrapper change that alters its outputs
    assert not _rerun_is_reused(caplog, Wrapped(), tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0])


@pytest.mark.parametrize("change", [
    {"audio": {"pooling": "meanstd"}},
    {"chance": 0.5},
    {"audio": {"channels": "first"}},
    {"audio": {"max_seconds": 1.0}},
    {"label": {"kind": "multiclass", "column": "pitch_hz"}},
    {"split": {"column": "split", "validation": "test", "test": "validation"}},
])
def test_reuse_needs_the_same_task_spec_even_without_a_version_bump(tmp_path, tone_dataset, caplog, change):
    task = write_task(tmp_path / "tasks", tone_dataset, protocols=("knn",))
    first = bench.run("mfcc", tasks=[str(task)], out=tmp_path / "res", seeds=[0], progress=False)[0]
    assert _rerun_is_reused(caplog, "mfcc", tasks=[str(task)], out=tmp_path / "res", seeds=[0])
    changed = write_task(tmp_path / "tasks", tone_dataset, protocols=("knn",), **change)  # same name, version 1
    assert changed == task
    assert not _rerun_is_reused(caplog, "mfcc", tasks=[str(task)], out=tmp_path / "res", seeds=[0])
    folder = tmp_path / "res" / "mfcc"  # a re-run that fails (e.g. a label column unfit for the task) writes its
    latest = folder / "test__tones.error.json"  # error beside the earlier good result
    record = json.loads((latest if latest.exists() else folder / "test__tones.json").read_text())
    assert record["task"]["version"] == 1 and record["task"]["spec_sha256"] != first["task"]["spec_sha256"]


def test_a_result_made_skipping_bad_audio_is_not_reused_by_a_default_run(tmp_path, tone_task, caplog):
    skip = bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], on_bad_audio="skip",
                     progress=False)[0]
    assert skip["on_bad_audio"] == "skip"
    assert not _rerun_is_reused(caplog, "mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0])
    record = json.loads((tmp_path / "res" / "mfcc" / "test__tones.json").read_text())
    assert record["on_bad_audio"] == "error"


def test_results_record_the_environment_that_can_change_numbers(tmp_path, tone_task):
    import torch

    record = bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False)[0]
    assert record["env"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["env"]["git_dirty"] in (True, False, None)
    assert record["check"] == {"ran": False, "passed": None, "skipped_by_user": False}  # registered: not checked
    assert record["warnings"] == [] and len(record["task"]["spec_sha256"]) == 64


def test_git_dirty_is_none_outside_a_checkout(monkeypatch):
    import subprocess

    from bench import results

    results.git_dirty.cache_clear()
    monkeypatch.setattr(results.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 128, stdout="", stderr="not a git repository"))
    try:
        assert results.git_dirty() is None
    finally:
        results.git_dirty.cache_clear()


# -- errors surface early; one failing task does not abort the others -----------------------------------------------

def test_an_invalid_task_is_reported_before_the_encoder_loads_and_the_others_run(tmp_path, tone_task, monkeypatch):
    from bench.encoders.baselines import MFCC

    broken = write_task(tmp_path / "tasks", tmp_path / "no-such-data", name="test/broken", protocols=("knn",))
    events = []
    real_load = MFCC.load
    monkeypatch.setattr(MFCC, "load", lambda self, *a, **k: events.append("load") or real_load(self, *a, **k))
    from bench import data

    real_dataset = data.load_dataset
    monkeypatch.setattr(data, "load_dataset", lambda task, **k: events.append(task.name) or real_dataset(task, **k))
    records = bench.run("mfcc", tasks=[str(broken), str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False)
    assert events[:3] == ["test/broken", "test/tones", "load"]  # every dataset before the encoder, each once
    assert events.count("test/tones") == 1
    bad, good = records
    assert bad["status"] == "error" and "no-such-data" in bad["error"] and "\n" not in bad["error"]
    assert bad["protocols"] == [] and good["status"] == "ok"
    on_disk = json.loads((tmp_path / "res" / "mfcc" / "test__broken.json").read_text())
    assert on_disk["status"] == "error" and on_disk["error"] == bad["error"]
    from bench.leaderboard import build

    long, _ = build(load_results(tmp_path / "res"))  # an error record adds no row and breaks nothing
    assert set(long["task"]) == {"test/tones"}


def test_a_task_failing_at_run_time_gets_an_error_record_and_the_suite_goes_on(tmp_path, tone_dataset, monkeypatch):
    from bench.protocols import registry

    first = write_task(tmp_path / "tasks", tone_dataset, name="test/first", protocols=("linear",))
    second = write_task(tmp_path / "tasks", tone_dataset, name="test/second", protocols=("knn",))
    real = registry.protocol_function

    def failing_linear(kind):
        if kind != "linear":
            return real(kind)

        def fail(inp, spec):
            raise RuntimeError("probe diverged\nsecond line")
        return fail

    monkeypatch.setattr(registry, "protocol_function", failing_linear)
    records = bench.run("mfcc", tasks=[str(first), str(second)], out=tmp_path / "res", seeds=[0], progress=False)
    assert [r["status"] for r in records] == ["error", "ok"]
    assert records[0]["error"] == "RuntimeError: probe diverged; second line"


def test_validation_warnings_are_printed_and_stored(tmp_path, tone_task, monkeypatch, caplog):
    from bench import precheck

    monkeypatch.setattr(precheck, "_validator", lambda: lambda task, items: [f"{task.name}: tiny validation split"])
    record = bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False)[0]
    assert record["warnings"] == ["test/tones: tiny validation split"]
    assert "warning: test/tones: tiny validation split" in caplog.text


# -- unregistered encoders pass the fast conformance checks once per cache key ---------------------------------------

WRAPPER = '''
from bench.encoders.baselines import MFCC


class Mine(MFCC):
    name = "mine"


class Reversed(MFCC):
    name = "reversed"

    def encode(self, waveforms, mask):
        out = super().encode(waveforms, mask)
        out.frames = out.frames.flip(1)  # frames in reverse order (padding lands first): batch, timing fail
        return out
'''


def test_an_unregistered_encoder_is_checked_once_per_cache_key(tmp_path, tone_task, monkeypatch):
    from bench import check

    path = tmp_path / "mine.py"
    path.write_text(WRAPPER)
    calls = []
    real = check.quick_check
    monkeypatch.setattr(check, "quick_check", lambda enc, ref, **kw: calls.append(ref) or real(enc, ref, **kw))
    first = bench.run(f"{path}:Mine", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False)[0]
    assert calls == [f"{path}:Mine"]
    assert first["check"] == {"ran": True, "passed": True, "skipped_by_user": False}
    stored = json.loads((bench.paths.cache_dir() / first["cache"]["key"] / "check.json").read_text())
    assert stored["checks"] and all(c["passed"] for c in stored["checks"])
    again = bench.run(f"{path}:Mine", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False,
                      force=True)[0]
    assert calls == [f"{path}:Mine"] and again["check"]["passed"]  # remembered, not run again


def test_a_failing_unregistered_encoder_stops_with_the_fix_unless_no_check(tmp_path, tone_task):
    import re

    from bench.precheck import EncoderCheckFailed

    path = tmp_path / "mine.py"
    path.write_text(WRAPPER)
    ref = f"{path}:Reversed"
    pattern = rf"'{re.escape(ref)}' failed the conformance check\(s\) [a-z_, ]+; run `bench check {re.escape(ref)}`"
    with pytest.raises(EncoderCheckFailed, match=pattern + ".*--no-check"):
        bench.run(ref, tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False)
    assert not (tmp_path / "res" / "reversed").exists()
    record = bench.run(ref, tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False, check=False)[0]
    assert record["status"] == "ok"
    assert record["check"] == {"ran": False, "passed": None, "skipped_by_user": True}


def test_a_result_whose_samples_are_missing_or_changed_is_recomputed(tmp_path, tone_task, caplog):
    bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0], progress=False)
    sidecar = tmp_path / "res" / "mfcc" / "test__tones.samples.jsonl.gz"
    assert _rerun_is_reused(caplog, "mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0])
    sidecar.write_bytes(sidecar.read_bytes() + b"\0")  # changed: no longer the samples the result recorded
    assert not _rerun_is_reused(caplog, "mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0])
    sidecar.unlink()
    assert not _rerun_is_reused(caplog, "mfcc", tasks=[str(tone_task)], out=tmp_path / "res", seeds=[0])
    assert sidecar.exists()


def test_a_failing_rerun_keeps_the_earlier_good_result_and_a_later_success_clears_its_error(tmp_path, tone_dataset,
                                                                                          monkeypatch):
    from bench.protocols import registry

    task = write_task(tmp_path / "tasks", tone_dataset, name="test/first", protocols=("linear",))
    assert bench.run("mfcc", tasks=[str(task)], out=tmp_path / "res", seeds=[0], progress=False)[0]["status"] == "ok"
    path = next((tmp_path / "res").rglob("test__first.json"))
    real = registry.protocol_function

    def failing(kind):
        def fail(inp, spec):
            raise RuntimeError("probe diverged")
        return fail if kind == "linear" else real(kind)

    monkeypatch.setattr(registry, "protocol_function", failing)
    failed = bench.run("mfcc", tasks=[str(task)], out=tmp_path / "res", seeds=[0], progress=False, force=True)[0]
    assert failed["status"] == "error"
    assert json.loads(path.read_text())["status"] == "ok"  # the good result survives
    error_file = path.with_name("test__first.error.json")
    assert json.loads(error_file.read_text())["error"] == "RuntimeError: probe diverged"
    monkeypatch.setattr(registry, "protocol_function", real)
    assert bench.run("mfcc", tasks=[str(task)], out=tmp_path / "res", seeds=[0], progress=False,
                     force=True)[0]["status"] == "ok"
    assert not error_file.exists()
