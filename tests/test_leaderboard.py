"""Leaderboard rows from hand-made result records: means, the guard against mixed inputs, failed runs, escaping."""

import csv
import json
import re

import pytest

from bench.leaderboard import MixedResults, build, long_rows, markdown_escape, write_leaderboard


def _record(encoder: str, value: float, variant: str | None) -> dict:
    config = {"variant": variant} if variant else {}
    return {"encoder": {"name": encoder, "weights_sha256": "ab" * 32},
            "task": {"name": "t/gen", "version": 1, "domain": "speech", "chance": 0.1},
            "protocols": [{"kind": "generative", "config": config,
                           "main_score": {"name": "accuracy", "value": value, "ci95": [value - 0.1, value + 0.1],
                                          "higher_is_better": True}}]}


def test_protocol_variants_are_told_apart_and_domain_means_average_tasks():
    rows = long_rows([_record("a", 0.5, "projector"), _record("b", 0.7, "projector+lora"), _record("c", 0.2, None)])
    assert [r["protocol"] for r in rows] == ["generative[projector]", "generative[projector+lora]", "generative"]
    _, wide = build([_record("a", 0.5, "projector"), _record("b", 0.7, "projector")])
    assert list(wide.index) == ["b", "a"] and wide.loc["a", "overall"] == 0.5 and wide.loc["b", "mean:speech"] == 0.7


def test_a_domain_mean_needs_every_task_of_the_domain():
    full = [_record("a", 0.5, None), {**_record("a", 0.7, None), "task": {"name": "t/other", "version": 1,
                                                                          "domain": "speech", "chance": 0.1}}]
    partial = [_record("b", 0.9, None)]  # b ran one of the two speech tasks only
    _, wide = build(full + partial)
    assert wide.loc["a", "mean:speech"] == 0.6 and wide.loc["a", "overall"] == 0.6
    assert wide.loc["b", "mean:speech"] != wide.loc["b", "mean:speech"]  # NaN, not 0.9
    assert list(wide.index) == ["a", "b"]  # the incomplete encoder is listed last, not first


def test_bleu_enters_domain_means_on_the_unit_scale():
    accuracy = _record("a", 0.6, None)
    bleu = {**_record("a", 20.0, None), "task": {"name": "t/captions", "version": 1, "domain": "speech", "chance": 0.0}}
    bleu["protocols"][0]["main_score"] = {"name": "bleu", "value": 20.0, "ci95": [10.0, 30.0], "higher_is_better": True}
    _, wide = build([accuracy, bleu])
    assert abs(wide.loc["a", "mean:speech"] - (0.6 + 0.2) / 2) < 1e-12
    assert wide.loc["a", "t/captions"] == 20.0  # the table keeps BLEU as sacrebleu reports it


def _full(encoder: str, value: float = 0.5, *, task: str = "t/a", fingerprint: str = "f" * 64, seeds=(0, 1, 2),
          spec: str | None = "s" * 64, code: str = "c" * 64, metric: str = "accuracy", created: str = "2026-01-01",
          higher_is_better: bool = True) -> dict:
    return {"schema_version": 2, "status": "ok", "created_utc": created,
            "encoder": {"name": encoder, "weights_sha256": "ab" * 32},
            "task": {"name": task, "version": 1, "domain": "sound", "chance": 0.1, "dataset_fingerprint": fingerprint,
                     **({"spec_sha256": spec} if spec else {})},
            "seeds": list(seeds),
            "protocols": [{"kind": "linear", "config": {}, "code_sha256": code,
                           "main_score": {"name": metric, "value": value, "ci95": [value - 0.1, value + 0.1],
                                          "higher_is_better": higher_is_better}}]}


def _write(results, folder: str, record: dict) -> None:
    path = results / folder / record["encoder"]["name"] / (record["task"]["name"].replace("/", "__") + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def test_results_made_on_different_data_or_seeds_are_refused_naming_the_files(tmp_path):
    for change, what in (({"fingerprint": "e" * 64}, "data fingerprint"), ({"seeds": (0,)}, "seeds")):
        results = tmp_path / what.replace(" ", "_")
        _write(results, "run", _full("a"))
        _write(results, "run", _full("b", **change))  # e.g. the same task made on 45 items, then on 60
        for accept_stale in (False, True):  # never accepted
            with pytest.raises(MixedResults, match=rf"t/a: results differ in {what}: .*/b/t__a\.json"):
                write_leaderboard(results, tmp_path / "out", accept_stale=accept_stale)


def test_one_encoder_in_two_result_folders_is_refused_naming_both(tmp_path):
    _write(tmp_path / "r", "first", _full("a", 0.5))
    _write(tmp_path / "r", "second", _full("a", 0.6))
    with pytest.raises(MixedResults, match=r"t/a: encoder 'a' has 2 results \(.*first/a/t__a\.json, .*second/a/t__a"):
        write_leaderboard(tmp_path / "r", tmp_path / "out")


def test_spec_hash_unknown_compares_equal_to_unknown_and_unequal_to_a_hash(tmp_path):
    _write(tmp_path / "old", "r", _full("a", spec=None))
    _write(tmp_path / "old", "r", _full("b", spec=None))
    assert write_leaderboard(tmp_path / "old", tmp_path / "out")  # two older records agree
    _write(tmp_path / "old", "r", _full("c"))
    with pytest.raises(MixedResults, match=r"task spec \(spec_sha256\): s{12} \(.*c/t__a\.json\); unknown \("):
        write_leaderboard(tmp_path / "old", tmp_path / "out")


def test_accept_stale_keeps_differing_code_and_spec_marked(tmp_path):
    results = tmp_path / "r"
    _write(results, "r", _full("a", 0.5))
    _write(results, "r", _full("b", 0.6))
    _write(results, "r", _full("old-code", 0.7, code="d" * 64))
    _write(results, "r", _full("old-spec", 0.8, spec="e" * 64))
    with pytest.raises(MixedResults, match=r"linear protocol code.*old-code/t__a\.json"):
        write_leaderboard(results, tmp_path / "out")
    long_csv, wide_csv, md = write_leaderboard(results, tmp_path / "out", accept_stale=True)
    long = {row["encoder"]: row["stale"] for row in csv.DictReader(long_csv.open())}
    assert long == {"a": "False", "b": "False", "old-code": "True", "old-spec": "True"}
    wide = {row["encoder"]: row["stale"] for row in csv.DictReader(wide_csv.open())}
    assert wide == {"a": "", "b": "", "old-code": "t/a", "old-spec": "t/a"}
    text = md.read_text()
    assert "† marks a result made with older protocol code or task spec" in text
    assert re.search(r"0\.700 \[0\.600, 0\.800\] †", text) and "0.500 [0.400, 0.600] |" in text


def test_failed_runs_are_skipped_and_listed(tmp_path):
    results = tmp_path / "r"
    _write(results, "r", _full("a"))
    failed = {**_full("b"), "status": "error", "error": "item 'x': cannot decode audio", "protocols": []}
    _write(results, "r", failed)
    md = write_leaderboard(results, tmp_path / "out")[2].read_text()
    assert "- failed: b on t/a: item 'x': cannot decode audio" in md
    assert "| encoder | overall | sound |" in md and "\n| b |" not in md


def test_metric_direction_comes_from_the_protocol_registry():
    from bench.protocols.registry import higher_is_better

    assert higher_is_better("eer") is False  # the registry's word, not the (wrong) flag in the record
    rows = long_rows([_full("a", metric="eer", higher_is_better=True)])
    assert rows[0]["higher_is_better"] is False
    rows = long_rows([_full("a", metric="home_made_score", higher_is_better=False)])  # unknown: the record's flag
    assert rows[0]["higher_is_better"] is False


HOSTILE = ["<script>alert(1)</script>", "a|b", "![x](http://e.x/a.png)", "=HYPERLINK(\"http://e.x\")", "@SUM(1)",
           "+1", "-cmd", "two\nlines"]


def _split_cells(line: str) -> list[str]:
    return re.split(r"(?<!\\)\|", line)


def test_markdown_and_csv_neutralise_hostile_names(tmp_path):
    results = tmp_path / "r"
    for i, name in enumerate(HOSTILE):
        path = results / f"e{i}" / "t__a.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(_full(name, value=-0.25 - i)))
    long_csv, wide_csv, md = write_leaderboard(results, tmp_path / "out")
    text = md.read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "![x](" not in text and "\\[x\\](http://e.x/a.png)" in text
    tables = [line for line in text.splitlines() if line.startswith("|")]
    summary, per_task = tables[:2 + len(HOSTILE)], tables[2 + len(HOSTILE):]
    assert len(summary) == 2 + len(HOSTILE) and len(per_task) == 3  # no name broke a row in two
    assert {len(_split_cells(line)) for line in summary} == {len(_split_cells(summary[0]))}
    assert {len(_split_cells(line)) for line in per_task} == {4 + len(HOSTILE) + 2}
    for path in (long_csv, wide_csv):
        cells = [cell for row in csv.reader(path.open()) for cell in row]
        assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells), cells
        assert not any(cell.startswith("-") and not re.fullmatch(r"-[0-9.e+-]+", cell) for cell in cells)
        assert "'=HYPERLINK(\"http://e.x\")" in cells and "'-cmd" in cells and "'+1" in cells


def test_markdown_escape_is_inert():
    assert markdown_escape("a|b") == "a\\|b" and markdown_escape("two\nlines") == "two lines"
    assert markdown_escape("<b>&") == "&lt;b&gt;&amp;"
    assert markdown_escape("[x](u)") == "\\[x\\](u)"


def test_a_tie_in_protocol_code_marks_the_older_result_stale(tmp_path):
    results = tmp_path / "r"
    _write(results, "r", _full("new", code="n" * 64, created="2026-05-01T00:00:00Z"))
    _write(results, "r", _full("old", code="o" * 64, created="2026-01-01T00:00:00Z"))
    long_csv = write_leaderboard(results, tmp_path / "out", accept_stale=True)[0]
    assert {row["encoder"]: row["stale"] for row in csv.DictReader(long_csv.open())} == {"new": "False", "old": "True"}


def test_results_made_by_the_current_code_and_spec_are_fresh_even_when_outnumbered(tmp_path, monkeypatch):
    """Three older results and one made now: the one made now is current, the older ones are marked."""
    from bench import leaderboard_guard

    current = {leaderboard_guard.SPEC: "n" * 64, "linear": "m" * 64}
    monkeypatch.setattr(leaderboard_guard, "current_values", lambda specs: lambda task, mark: current.get(mark))
    monkeypatch.setattr("bench.leaderboard.current_values", leaderboard_guard.current_values)
    results = tmp_path / "r"
    for name in ("old1", "old2", "old3"):
        _write(results, "r", _full(name, spec=None, code="o" * 64))
    _write(results, "r", _full("now", spec="n" * 64, code="m" * 64))
    long_csv = write_leaderboard(results, tmp_path / "out", accept_stale=True)[0]
    stale = {row["encoder"]: row["stale"] for row in csv.DictReader(long_csv.open())}
    assert stale == {"old1": "True", "old2": "True", "old3": "True", "now": "False"}


def test_results_of_an_older_task_version_are_refused_or_left_out_and_listed(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import bench.catalog

    monkeypatch.setattr(bench.catalog, "all_tasks", lambda: {"t/a": SimpleNamespace(version=2, caveats=())})
    results = tmp_path / "r"
    old = _full("old", 0.7, fingerprint="e" * 64)  # version 1, made on the data before the task changed
    new = _full("new", 0.5)
    new["task"]["version"] = 2
    _write(results, "r", old)
    _write(results, "r", new)
    with pytest.raises(MixedResults, match=r"t/a: results differ in task version"):
        write_leaderboard(results, tmp_path / "out")
    long_csv, _, md = write_leaderboard(results, tmp_path / "out", accept_stale=True)
    assert [row["encoder"] for row in csv.DictReader(long_csv.open())] == ["new"]
    assert "Not shown, made for an older version of their task" in md.read_text()
    assert "old on t/a (v1)" in md.read_text()
