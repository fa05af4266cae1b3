"""The `bench` command: one-line errors (tracebacks only with --debug), run summaries and exit codes, validate."""

import json
import os
import subprocess
import sys

import pytest
from conftest import write_task

from bench.cli import build_parser, main


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def tone_task(tmp_path, tone_dataset):
    return write_task(tmp_path / "tasks", tone_dataset, protocols=("knn",))


@pytest.mark.parametrize("args, message", [
    (["run", "--encoder", "no-such-encoder", "--tasks", "builtin-quick/keywords"], "unknown encoder 'no-such-encoder'"),
    (["run", "--encoder", "mfcc", "--tasks", "missing.yaml"], "task file not found: missing.yaml"),
    (["run", "--encoder", "nowhere/enc.py:Enc", "--tasks", "builtin-quick/keywords"], "encoder file 'nowhere/enc.py'"),
    (["leaderboard", "--html"], "bench leaderboard --html needs --suite NAME"),
])
def test_expected_failures_are_one_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("bench: error: ") and message in err and len(err.strip().splitlines()) == 1


def test_task_file_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: one\n")
    assert main(["run", "--encoder", "mfcc", "--tasks", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"bench: error: {bad}")


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(KeyError, match="unknown encoder"):
        main(["--debug", "run", "--encoder", "no-such-encoder", "--tasks", "builtin-quick/keywords"])
    with pytest.raises(KeyError, match="unknown encoder"):
        main(["run", "--encoder", "no-such-encoder", "--tasks", "builtin-quick/keywords", "--debug"])


def test_run_summarises_and_exits_1_when_a_task_failed(tmp_path, tone_task, capsys):
    broken = write_task(tmp_path / "tasks", tmp_path / "no-such-data", name="test/broken", protocols=("knn",))
    out = tmp_path / "res"
    code = main(["run", "--encoder", "mfcc", "--tasks", str(broken), str(tone_task), "--out", str(out),
                 "--seeds", "0", "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 1
    assert "[bench] summary: 1 task result(s) ok, 1 failed" in printed
    assert "FAILED mfcc on test/broken: DatasetError:" in printed and "no-such-data" in printed
    assert "[bench] (2/2) mfcc on test/tones" in printed and "knn: accuracy = " in printed  # progress and scores
    assert json.loads((out / "mfcc" / "test__tones.json").read_text())["status"] == "ok"
    assert main(["run", "--encoder", "mfcc", "--tasks", str(tone_task), "--out", str(out), "--seeds", "0",
                 "--no-progress"]) == 0


def test_validate_checks_tasks_without_an_encoder(tmp_path, tone_task, capsys, monkeypatch):
    from bench.encoder import Encoder

    monkeypatch.setattr(Encoder, "load", lambda *a, **k: pytest.fail("validate loaded an encoder"))
    assert main(["validate", str(tone_task), "--no-progress"]) == 0
    assert "ok      test/tones" in capsys.readouterr().out
    broken = write_task(tmp_path / "tasks", tmp_path / "no-such-data", name="test/broken", protocols=("knn",))
    assert main(["validate", str(tone_task), str(broken), "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert "test/broken: invalid" in err and "1 task(s) valid, 1 invalid: test/broken" in out  # problems on stderr


def test_validate_takes_a_suite(monkeypatch, capsys):
    from bench import precheck

    seen = []
    monkeypatch.setattr(precheck, "prepare_tasks", lambda tasks, **k: seen.extend(tasks) or [])
    assert main(["validate", "builtin-quick"]) == 0
    from bench.catalog import resolve_tasks

    assert [t.name for t in seen] == [t.name for t in resolve_tasks("builtin-quick")] and seen


def test_run_help_says_what_file_class_does_and_where_tasks_are_found():
    text = " ".join(build_parser()._subparsers._group_actions[0].choices["run"].format_help().split())
    assert "runs that file's code" in text and "BENCH_TASKS_PATH" in text and "--no-check" in text


def test_an_hf_encoder_without_a_checkpoint_is_one_line():
    pytest.importorskip("transformers")
    proc = _cli("check", "hf-whisper", env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("bench: error: hf-whisper needs --checkpoint DIR (a local Hugging Face folder")
    assert "nothing was downloaded" in lines[-1] and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", [["leaderboard"], ["run", "--encoder", "mfcc", "--leaderboard", "lb"]])
def test_accept_stale_reaches_the_leaderboard(tmp_path, monkeypatch, command):
    from bench import leaderboard, runner

    seen = {}
    monkeypatch.setattr(runner, "run", lambda *a, **k: [])
    monkeypatch.setattr(leaderboard, "write_leaderboard", lambda *a, **k: seen.update(k) or [])
    monkeypatch.chdir(tmp_path)
    assert main(command) == 0 and seen["accept_stale"] is False
    assert main(command + ["--accept-stale"]) == 0 and seen["accept_stale"] is True


def test_console_prints_info_to_stdout_warnings_to_stderr_and_quiet_hides_info(capsys):
    import logging

    from bench.console import console

    log = logging.getLogger("bench.runner")
    with console():
        log.info("[bench] plain info")
        log.warning("[bench] a warning")
    out, err = capsys.readouterr()
    assert out == "[bench] plain info\n" and err == "[bench] a warning\n"
    with console(quiet=True):
        log.info("[bench] hidden")
        log.warning("[bench] shown")
    out, err = capsys.readouterr()
    assert out == "" and err == "[bench] shown\n"
    bench_logger = logging.getLogger("bench")
    assert bench_logger.handlers == [] and bench_logger.propagate  # the library's logging is left as it was


def test_no_progress_hides_the_bars_of_transformers_and_datasets_imported_before_or_after():
    """In a fresh process: datasets imported before the call, transformers after it; both end with bars off."""
    pytest.importorskip("transformers")
    pytest.importorskip("datasets")
    code = ("import datasets\nfrom bench.console import hide_library_progress_bars\nhide_library_progress_bars()\n"
            "from transformers.utils import logging as hf_logging\n"
            "print(datasets.is_progress_bar_enabled(), hf_logging.is_progress_bar_enabled())")
    env = {k: v for k, v in os.environ.items() if "PROGRESS_BARS" not in k}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_rescore_and_compare_commands(tmp_path, tone_task, capsys):
    out = tmp_path / "res"
    assert main(["run", "--encoder", "mfcc", "--tasks", str(tone_task), "--out", str(out), "--seeds", "0",
                 "--no-progress"]) == 0
    assert main(["rescore", str(out)]) == 0
    assert "0 differ from their samples" in capsys.readouterr().out
    record_path = out / "mfcc" / "test__tones.json"
    record = json.loads(record_path.read_text())
    record["protocols"][0]["main_score"]["value"] += 0.5  # an edited number no longer matches its samples
    record_path.write_text(json.dumps(record))
    assert main(["rescore", str(record_path)]) == 1
    assert "DIFFERS" in capsys.readouterr().out
    # a folder compared with itself: no change anywhere, exit 0, the Markdown table written
    assert main(["compare", str(out), str(out), "--markdown", str(tmp_path / "c.md")]) == 0
    assert "no change" in (tmp_path / "c.md").read_text()


def test_rescore_lists_results_made_before_samples_existed(tmp_path, capsys):
    old = tmp_path / "res" / "enc" / "t__a.json"
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps({"schema_version": 1, "status": "ok", "protocols": []}))
    assert main(["rescore", str(tmp_path / "res")]) == 0
    out = capsys.readouterr().out
    assert "no samples (made before samples existed" in out and "0 differ from their samples, 1 have none" in out
