"""Tasks whose task file declares caveats are flagged in the Markdown leaderboard and carry them in the long CSV."""

from __future__ import annotations

import csv
import json

from bench.catalog import all_tasks
from bench.leaderboard import CAVEAT_MARK, build, task_caveats, to_markdown, write_leaderboard


def _record(task: str, encoder: str = "enc", value: float = 0.5) -> dict:
    return {"schema_version": 2, "status": "ok", "encoder": {"name": encoder, "weights_sha256": "ab" * 32},
            "task": {"name": task, "version": 1, "domain": "sound", "chance": 0.1}, "seeds": [0],
            "protocols": [{"kind": "linear", "config": {},
                           "main_score": {"name": "accuracy", "value": value, "ci95": [value - 0.1, value + 0.1],
                                          "higher_is_better": True}}]}


def test_markdown_marks_tasks_with_caveats_and_lists_them():
    long, wide = build([_record("t/flagged"), _record("t/clean", value=0.7)])
    text = to_markdown(long, wide, caveats={"t/flagged": ("One recording per class.", "Mild test augmentation.")})
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| t/")}
    assert rows.keys() == {f"t/flagged {CAVEAT_MARK}", "t/clean"}
    footnote = text.split("Known caveats")[1]
    assert "- t/flagged: One recording per class. Mild test augmentation." in footnote
    assert "t/clean" not in footnote
    assert "Known caveats" not in to_markdown(long, wide)  # no caveats, no footnote


def test_builtin_sound_tasks_declare_caveats_read_from_their_task_files():
    specs = all_tasks()
    caveats = task_caveats(["builtin-quick/sound_events", "builtin-quick/instrument", "no/such-task"], specs)
    assert set(caveats) == {"builtin-quick/sound_events"}
    assert caveats["builtin-quick/sound_events"] == specs["builtin-quick/sound_events"].caveats
    assert any("one real recording" in c for c in caveats["builtin-quick/sound_events"])


def test_written_leaderboard_flags_the_task_and_fills_the_csv_column(tmp_path):
    results = tmp_path / "results" / "run" / "enc"
    results.mkdir(parents=True)
    for task in ("builtin-quick/sound_events", "builtin-quick/instrument"):
        (results / f"{task.replace('/', '__')}.json").write_text(json.dumps(_record(task)))
    md, long_csv = None, None
    for path in write_leaderboard(tmp_path / "results", tmp_path / "board"):
        if path.suffix == ".md":
            md = path.read_text()
        elif path.name.endswith("_long.csv"):
            long_csv = list(csv.DictReader(path.open()))
    assert f"| builtin-quick/sound_events {CAVEAT_MARK} |" in md and f"builtin-quick/instrument {CAVEAT_MARK}" not in md
    by_task = {row["task"]: row["caveats"] for row in long_csv}
    assert "one real recording" in by_task["builtin-quick/sound_events"] and by_task["builtin-quick/instrument"] == ""
