"""The leaderboard page from hand-made results: content, escaping of hostile names, plots, the result guard."""

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.html import write_html
from bench.leaderboard import MixedResults

EVIL = "<script>alert(1)</script>"
SUITE = "mini-html"
# real task names (their specs give the page descriptions and caveats); the scores are made up
TASKS = {"maeb/gtzan_genre": ("music", "accuracy", 0.1), "maeb/crema_d": ("paralinguistic", "accuracy", 1 / 6),
         "maeb/nsynth": ("music", "eer", 0.5)}
SCORES = {"alpha": (0.9, 0.8, 0.05), "beta": (0.5, 0.5, 0.3), EVIL: (0.45, 0.4, 0.35), "gamma": (0.3, 0.25, 0.45)}


def result(encoder: str, task: str, value: float, half_width: float = 0.02, **card) -> dict:
    """A minimal valid result record of `encoder` on `task` (see TASKS) with main score `value`."""
    domain, metric, chance = TASKS[task]
    return {"schema_version": 2, "status": "ok", "created_utc": "2026-01-01T00:00:00+00:00",
            "encoder": {"name": encoder, "weights_sha256": "ab" * 32,
                        "card": {"parameters": card.get("parameters", 1000), "license": card.get("license", "MIT"),
                                 "training_data": card.get("training_data", "made-up data"), "family": "test"}},
            "task": {"name": task, "version": 1, "domain": domain, "chance": chance, "label_kind": "multiclass",
                     "dataset_fingerprint": "f" * 64},
            "seeds": [0],
            "protocols": [{"kind": "linear", "config": {}, "code_sha256": "c" * 64,
                           "main_score": {"name": metric, "value": value, "ci95": [value - half_width,
                                                                                   value + half_width],
                                          "higher_is_better": metric != "eer"}}]}


def make_results(root: Path, scores: dict = SCORES) -> tuple[Path, Path]:
    """(results folder, tasks folder with the suite file) for `scores` {encoder: one value per TASKS entry}."""
    results = root / "results"
    for n, (encoder, values) in enumerate(scores.items()):
        card = {"license": "CC-BY-NC-4.0", "parameters": 5_000_000} if encoder == "beta" else {}
        for task, value in zip(TASKS, values):
            path = results / f"enc{n}" / (task.replace("/", "__") + ".json")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result(encoder, task, value, **card)))
    suites = root / "tasks" / "suites"
    suites.mkdir(parents=True)
    (suites / f"{SUITE}.yaml").write_text(f"name: {SUITE}\ndescription: three MAEB tasks, made-up scores\n"
                                          f"tasks: {json.dumps(list(TASKS))}\n"
                                          "aggregates: [normalised_domain_mean, raw_domain_mean, mean_rank, borda]\n")
    return results, root / "tasks"


@pytest.fixture
def page(tmp_path, monkeypatch):
    results, tasks = make_results(tmp_path)
    monkeypatch.setenv("BENCH_TASKS_PATH", str(tasks))
    paths = write_html(results, tmp_path / "out", SUITE, n_boot=200)
    return paths


def test_page_and_plots_are_written_and_svgs_are_well_formed(page):
    assert [p.name for p in page] == [f"{SUITE}.html"] + [f"{SUITE}_{n}.svg" for n in ("profile", "scatter",
                                                                                          "heatmap", "cd")]
    for svg in page[1:]:
        assert ET.fromstring(svg.read_text()).tag.endswith("svg")
    html = page[0].read_text()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html  # no CDN


def test_hostile_encoder_name_is_text_everywhere(page):
    for path in page:
        text = path.read_text()
        assert EVIL not in text and "alert(1)</script>" not in text
    html = page[0].read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script>") == 1  # the page's own script only


def test_table_holds_rows_cis_chance_cards_caveats_and_aggregates(page):
    html = page[0].read_text()
    assert html.count('<tr class="enc">') == 4 and html.count('<tr class="card">') == 4
    assert len(re.findall(r'<span class="ci-text">\[\d\.\d{3}, \d\.\d{3}\]</span>', html)) == 12  # 4 x 3 cells
    assert html.count('class="chance"') == 12
    for label in ("overall (norm.)", "raw mean (↑ only)", "mean rank", "Borda"):
        assert f">{label}</th>" in html
    assert "CC-BY-NC-4.0" in html and '<span class="nc">non-commercial</span>' in html and "5,000,000" in html
    assert "GTZAN repeats artists and recordings across folds" in html  # maeb/gtzan_genre's caveat, flagged
    rows = re.findall(r'<tr class="enc">.*?</tr>', html)
    assert "alpha" in rows[0] and "gamma" in rows[-1]  # best first by the suite's first aggregate


def test_a_clear_winner_gets_rank_one_with_a_tight_interval(page):
    first_row = re.search(r'<tr class="enc">.*?</tr>', page[0].read_text()).group(0)
    assert 'data-v="1.0">1 <span class="ci-text">[1, 1]</span>' in first_row


def test_results_that_must_not_share_a_table_are_refused(tmp_path, monkeypatch):
    results, tasks = make_results(tmp_path)
    monkeypatch.setenv("BENCH_TASKS_PATH", str(tasks))
    odd = json.loads((results / "enc0" / "maeb__crema_d.json").read_text())
    odd["seeds"] = [0, 1, 2]
    (results / "enc0" / "maeb__crema_d.json").write_text(json.dumps(odd))
    with pytest.raises(MixedResults, match="seeds"):
        write_html(results, tmp_path / "out", SUITE)


def test_raw_mean_is_the_markdown_tables_overall_and_cells_match_the_results(tmp_path, monkeypatch):
    from bench.html.board import load_board
    from bench.leaderboard import build
    from bench.results import load_results

    results, tasks = make_results(tmp_path)
    monkeypatch.setenv("BENCH_TASKS_PATH", str(tasks))
    board = load_board(results, SUITE, n_boot=50)
    _, wide = build(load_results(results))
    for encoder in SCORES:
        assert board.aggregates.loc[encoder, "raw_domain_mean"] == pytest.approx(wide.loc[encoder, "overall"])
        for task, value in zip(TASKS, SCORES[encoder]):
            cell = board.cells[encoder, task]
            assert (cell["value"], cell["low"], cell["high"]) == pytest.approx((value, value - 0.02, value + 0.02))
