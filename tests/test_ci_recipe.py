"""The CI recipe's script (scripts/bench_regression.sh), run locally on a one-task suite: a candidate equal to the
baseline passes; a degraded candidate fails with exit 1 and a Markdown table naming the regression."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import write_task, write_tone_dataset

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "bench_regression.sh"

BLURRED_MFCC = '''
from bench.encoders.baselines import MFCC
from bench.encoder import Frames

class BlurredMFCC(MFCC):
    """MFCC with every coefficient zeroed: a useless encoder that still keeps the contract."""
    def encode(self, waveforms, mask):
        out = super().encode(waveforms, mask)
        return Frames(frames=out.frames * 0.0, mask=out.mask)
'''


@pytest.fixture
def tiny_suite(tmp_path):
    tasks = tmp_path / "tasks"
    write_task(tasks, write_tone_dataset(tmp_path / "tones", per_class_split=10), name="ci/tones",
               protocols=("linear",))
    (tasks / "suites").mkdir()
    (tasks / "suites" / "ci.yaml").write_text(yaml.safe_dump({"name": "ci-tiny", "tasks": ["ci/*"]}))
    return tasks


def _script(args, cwd, tasks_path):
    bench_bin = Path(sys.executable).parent
    env = {**os.environ, "BENCH_TASKS_PATH": str(tasks_path), "PATH": f"{bench_bin}{os.pathsep}{os.environ['PATH']}",
           "BENCH_RUN_ARGS": "--seeds 0"}
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_regression_script_passes_an_unchanged_encoder_and_fails_a_worse_one(tmp_path, tiny_suite):
    baseline = _script(["mfcc", "ci-tiny", "unused", "baseline"], tmp_path, tiny_suite)
    # the first call has no baseline to compare with: it still leaves the candidate results to commit
    assert (tmp_path / "baseline" / "mfcc" / "ci__tones.json").exists(), baseline.stderr

    same = _script(["mfcc", "ci-tiny", "baseline", "same"], tmp_path, tiny_suite)
    assert same.returncode == 0, same.stderr
    report = json.loads((tmp_path / "bench-compare.json").read_text())
    assert report["regressions"] == 0 and report["comparisons"][0]["verdict"] == "no change"

    (tmp_path / "blurred.py").write_text(BLURRED_MFCC)
    worse = _script(["blurred.py:BlurredMFCC", "ci-tiny", "baseline", "worse"], tmp_path, tiny_suite)
    assert worse.returncode == 1, worse.stderr
    table = (tmp_path / "bench-compare.md").read_text()
    assert "**regression**" in table and "ci/tones" in table
