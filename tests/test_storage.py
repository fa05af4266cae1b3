"""Storage problems are found before any work, in one line each; names cannot leave their folders; killed
built-in generations do not leave their temporary folders forever."""

import os
import shutil
import subprocess
import sys
from collections import namedtuple

import pytest
from conftest import write_task

import bench
from bench import paths
from bench.paths import StorageError, ensure_writable, safe_name


@pytest.fixture
def tone_task(tmp_path, tone_dataset):
    return write_task(tmp_path / "tasks", tone_dataset, protocols=("knn",))


def _make_read_only(folder, monkeypatch):
    """chmod a-w; as root (where permissions do not bind) the probe write fails as it would for a user."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real = paths._write_probe

        def refuse(target):
            if target == folder or folder in target.parents:
                raise PermissionError(13, "Permission denied")
            real(target)

        monkeypatch.setattr(paths, "_write_probe", refuse)


def _no_encoder_work(monkeypatch):
    """Fail the test if extraction starts: storage problems must be found before any work."""
    from bench import extract

    def boom(*args, **kwargs):
        raise AssertionError("extraction ran before the storage problem was reported")

    monkeypatch.setattr(extract, "extract", boom)


def test_read_only_results_folder_is_refused_before_any_work(tmp_path, tone_task, monkeypatch):
    out = tmp_path / "ro"
    _make_read_only(out, monkeypatch)
    _no_encoder_work(monkeypatch)
    try:
        with pytest.raises(StorageError, match=r"results folder \(--out\) '.*ro' is not writable"):
            bench.run("mfcc", tasks=[str(tone_task)], out=out, progress=False)
    finally:
        out.chmod(0o755)


def test_out_that_is_a_file_is_refused(tmp_path, tone_task, monkeypatch):
    out = tmp_path / "results.txt"
    out.write_text("not a folder")
    _no_encoder_work(monkeypatch)
    with pytest.raises(StorageError, match=r"results folder \(--out\) '.*results.txt' is a file, not a folder"):
        bench.run("mfcc", tasks=[str(tone_task)], out=out, progress=False)
    assert out.read_text() == "not a folder"


def test_read_only_bench_home_is_refused(tmp_path, tone_task, monkeypatch, isolated_home):
    _make_read_only(isolated_home, monkeypatch)
    _no_encoder_work(monkeypatch)
    try:
        with pytest.raises(StorageError, match=r"embedding cache folder .*is not writable"):
            bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", progress=False)
    finally:
        isolated_home.chmod(0o755)


def test_a_builtin_dataset_to_generate_needs_a_writable_data_folder(tmp_path, monkeypatch):
    data = paths.data_dir()
    _make_read_only(data, monkeypatch)
    try:
        with pytest.raises(StorageError, match=r"built-in data folder .*is not writable"):
            bench.run("mfcc", tasks=["builtin-quick/keywords"], out=tmp_path / "res", cache_dir=tmp_path / "c",
                      progress=False)
    finally:
        data.chmod(0o755)


def test_a_full_disk_is_refused(tmp_path, tone_task, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(paths.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 2**20, 2**20))
    _no_encoder_work(monkeypatch)
    with pytest.raises(StorageError, match=r"only 1\.0 MiB free on its disk, bench needs at least 64 MiB"):
        bench.run("mfcc", tasks=[str(tone_task)], out=tmp_path / "res", progress=False)


def test_ensure_writable_creates_the_folder_and_leaves_no_probe(tmp_path):
    folder = ensure_writable(tmp_path / "a" / "b", "results folder (--out)")
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_storage_errors_are_one_line_in_the_cli(tmp_path, tone_task):
    out = tmp_path / "results.txt"
    out.write_text("x")
    proc = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--encoder", "mfcc", "--tasks", str(tone_task),
                           "--out", str(out), "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"bench: error: results folder (--out) '{out}' is a file, not a "
                                                f"folder; pass a folder (it is created if missing)"]


@pytest.mark.parametrize("name", ["..", "../../../x", "a/../b", "./x", "", "a\\b", "/abs"])
def test_names_that_could_leave_their_folder_are_refused(name):
    with pytest.raises(ValueError, match="cannot be used in a file or folder name"):
        safe_name(name, "encoder name")


def test_safe_names_keep_the_slash_convention():
    assert safe_name("builtin-quick/keywords") == "builtin-quick__keywords"
    assert safe_name("my-encoder.v2") == "my-encoder.v2"


def test_an_encoder_named_dotdot_writes_nothing_outside_out_or_the_cache(tmp_path, tone_task):
    from bench.encoders.baselines import MFCC

    encoder = MFCC()
    encoder.name = "../../../escaped"
    with pytest.raises(ValueError, match="encoder name '../../../escaped' cannot be used"):
        bench.run(encoder, tasks=[str(tone_task)], out=tmp_path / "w" / "x" / "res", cache_dir=tmp_path / "w" / "c",
                  progress=False)
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.rglob("escaped*"))
    from bench.results import result_path

    with pytest.raises(ValueError, match="encoder name"):
        result_path(tmp_path, "..", "test/tones")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_generation_removes_partial_folders_of_killed_generations(monkeypatch):
    from bench import builtin

    calls = []

    def fake_generate(out_dir, tier, seed):
        calls.append(out_dir)
        (out_dir / "manifest.jsonl").write_text("")

    monkeypatch.setattr(builtin, "GENERATORS", {**builtin.GENERATORS, "keywords": "fake_gen_module:generate"})
    monkeypatch.setitem(sys.modules, "fake_gen_module", type(sys)("fake_gen_module"))
    sys.modules["fake_gen_module"].generate = fake_generate
    parent = builtin.dataset_path("keywords", "quick").parent
    dead = parent / f".keywords-v1.tmp-{_dead_pid()}"
    other_dead = parent / f".pitch-v1.tmp-{_dead_pid()}"
    alive = parent / f".pitch-v1.tmp-{os.getppid()}"  # a live process (our parent) still generating
    unrelated = parent / "notes.tmp-1"
    for folder in (dead, other_dead, alive, unrelated):
        (folder / "audio").mkdir(parents=True)
        (folder / "audio" / "a.wav").write_bytes(b"x" * 100)

    final = builtin.ensure_builtin("keywords", "quick", progress=False)
    assert calls and final.is_dir()
    assert not dead.exists() and not other_dead.exists()
    assert alive.exists() and unrelated.exists()
    shutil.rmtree(alive)


def test_a_failed_generation_leaves_neither_a_dataset_nor_a_partial_folder(tmp_path):
    from bench.builtin import publish_dataset

    final = tmp_path / "data" / "keywords-v1"

    def fail_halfway(tmp):
        (tmp / "manifest.jsonl").write_text("{}\n")
        raise RuntimeError("killed halfway")

    with pytest.raises(RuntimeError, match="halfway"):
        publish_dataset(final, fail_halfway)
    assert not final.exists() and list(final.parent.iterdir()) == []
    publish_dataset(final, lambda tmp: (tmp / "manifest.jsonl").write_text("{}\n"))
    assert (final / "manifest.jsonl").exists() and (final / "checksums.sha256").exists()


def test_remove_dead_partials_tolerates_a_missing_folder(tmp_path):
    from bench.builtin import remove_dead_partials

    assert remove_dead_partials(tmp_path / "nothing") == []


def test_the_cache_folder_of_an_encoder_stays_inside_the_cache():
    from bench.encoders.baselines import MFCC

    from bench.extract import encoder_key

    encoder = MFCC()
    encoder.name = "../../../x"
    with pytest.raises(ValueError, match="encoder name '../../../x' cannot be used"):
        encoder_key(encoder, "last")
    encoder.name = "org/model"
    assert "/" not in encoder_key(encoder, "last")[0]
