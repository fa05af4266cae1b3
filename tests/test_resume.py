"""A run killed (SIGKILL) during extraction resumes without re-encoding anything already cached."""

import os
import subprocess
import sys
import textwrap

COUNTING_ENCODER = textwrap.dedent("""
    import os
    import signal

    from bench.encoders.baselines import MFCC


    class Counting(MFCC):
        '''MFCC that logs every batch it encodes and kills its own process at batch KILL_AT.'''

        name = "counting"

        def encode(self, waveforms, mask):
            log = os.environ["COUNT_LOG"]
            with open(log, "a") as handle:
                handle.write(f"{waveforms.shape[0]}\\n")
            with open(log) as handle:
                calls = len(handle.read().splitlines())
            if calls == int(os.environ.get("KILL_AT", "0")):
                os.kill(os.getpid(), signal.SIGKILL)
            return super().encode(waveforms, mask)
""")


def _run(args, env):
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], env=env, capture_output=True, text=True)


def test_killed_extraction_resumes_without_reencoding(tmp_path, tone_dataset):
    from conftest import write_task

    encoder_file = tmp_path / "counting.py"
    encoder_file.write_text(COUNTING_ENCODER)
    task = write_task(tmp_path / "tasks", tone_dataset, protocols=("knn",))
    log1, log2 = tmp_path / "run1.log", tmp_path / "run2.log"
    args = ["run", "--encoder", f"{encoder_file}:Counting", "--tasks", str(task), "--out", str(tmp_path / "res"),
            "--cache", str(tmp_path / "cache"), "--batch-seconds", "4", "--no-progress",
            "--no-check"]  # the conformance checks would call encode() too and shift the batch count
    env = {**os.environ, "COUNT_LOG": str(log1), "KILL_AT": "4"}

    killed = _run(args, env)
    assert killed.returncode == -9, killed.stderr
    batches = [int(n) for n in log1.read_text().split()]
    assert len(batches) == 4
    done_before_kill = sum(batches[:-1])  # the 4th batch died in flight
    shards = list((tmp_path / "cache").rglob("shard-*.npz"))
    assert len(shards) == 3 and not list((tmp_path / "cache").rglob("*.tmp*"))

    resumed = _run(args, {**env, "COUNT_LOG": str(log2), "KILL_AT": "0"})
    assert resumed.returncode == 0, resumed.stderr
    reencoded = sum(int(n) for n in log2.read_text().split())
    assert reencoded == 54 - done_before_kill  # exactly the clips that were not cached
    assert (tmp_path / "res" / "counting" / "test__tones.json").exists()

    again = _run(args, {**env, "COUNT_LOG": str(tmp_path / "run3.log"), "KILL_AT": "0", })
    assert again.returncode == 0 and not (tmp_path / "run3.log").exists()  # result reused, encoder never called
