"""Leaderboard tables: a pure function of result records (and optionally a suite's task list).

Per task the score is the main score of the task's primary protocol (the first one listed in the task file) with
its 95% CI; per domain, the mean over that domain's tasks of the higher-is-better main scores; overall, the mean
of the domain means, so that no domain weighs more because it has more tasks. A domain mean (and so the overall)
is left blank for an encoder that lacks any of the domain's tasks in the table. Metrics reported in percent
(BLEU, as sacrebleu gives it) enter the means divided by 100, so that they weigh like the 0-1 scores beside them;
the tables show them as reported. Every protocol's score is in the long CSV. Results of one task that differ in
task version, data, seeds, task spec or protocol code, or one encoder twice on a task, are refused
(`bench.leaderboard_guard`); with `accept_stale`, differing spec or code is kept and marked †. Records with
`status: error` carry no scores: they are listed under the Markdown table. Tasks whose task file declares
`caveats` (known weaknesses of their data) are marked ⚠ in the Markdown task table, with the caveats listed under
it, and carry them in the long CSV's `caveats` column. The direction of a metric comes from
the protocol registry (the record's own flag for a metric the registry does not know). Names are escaped for
Markdown, and CSV text cells that a spreadsheet would run as a formula get a leading apostrophe.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.leaderboard_guard import MixedResults, check_records, current_values, record_file, superseded
from bench.results import record_label

if TYPE_CHECKING:
    from bench.taskspec import TaskSpec

PERCENT_METRICS = frozenset({"bleu"})
STALE_MARK = "†"
CAVEAT_MARK = "⚠"
MixedVersions = MixedResults  # the older name, still imported by callers
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MARKDOWN_SPECIAL = re.compile(r"([\\`|\[\]])")  # with brackets escaped no link or image can form


def markdown_escape(text: Any) -> str:
    """`text` as inert Markdown table-cell text on one line: HTML, pipes, code spans, links and images escaped."""
    text = " ".join(str(text).splitlines())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def csv_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe; other values unchanged."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def _csv_safe_frame(frame):
    """A copy of `frame` with every text cell, index label and column name passed through `csv_safe`."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    frame = frame.copy()
    for column in frame.columns:
        if is_object_dtype(frame[column]) or is_string_dtype(frame[column]):
            frame[column] = frame[column].map(csv_safe)
    frame.index = frame.index.map(csv_safe)
    frame.columns = frame.columns.map(csv_safe)
    return frame


def higher_is_better(main: dict[str, Any]) -> bool:
    """The direction of a main score: from the protocol registry, or the record's flag for a metric it lacks."""
    from bench.protocols.registry import higher_is_better as registry_direction

    try:
        return registry_direction(main["name"])
    except KeyError:
        return bool(main["higher_is_better"])


def protocol_label(proto: dict[str, Any]) -> str:
    """The protocol's kind, with its variant when it declares one (e.g. `generative[projector+lora]`)."""
    variant = (proto.get("config") or {}).get("variant")
    return f"{proto['kind']}[{variant}]" if variant else proto["kind"]


def long_rows(records: list[dict[str, Any]], stale: dict[str, set[str]] | None = None) -> list[dict[str, Any]]:
    """One row per encoder x task x protocol with its main score and CI; `stale` marks (from
    `check_records`) set the row's `stale` flag."""
    from bench.leaderboard_guard import SPEC

    rows = []
    for record in records:
        marks = (stale or {}).get(record_file(record), set())
        for rank, proto in enumerate(record["protocols"]):
            main = proto["main_score"]
            ci = main.get("ci95") or [None, None]
            rows.append({
                "encoder": record_label(record), "task": record["task"]["name"],
                "task_version": record["task"]["version"], "domain": record["task"]["domain"],
                "protocol": protocol_label(proto), "primary": rank == 0, "metric": main["name"], "value": main["value"],
                "ci95_low": ci[0], "ci95_high": ci[1], "higher_is_better": higher_is_better(main),
                "chance": record["task"].get("chance"), "n_samples": record.get("n_samples"),
                "weights_sha256": (record["encoder"].get("weights_sha256") or "")[:12],
                "stale": SPEC in marks or proto["kind"] in marks, "file": record.get("_file", ""),
            })
    return rows


def failed_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records of runs that ended in an error (`status: error`): they carry no scores."""
    return [r for r in records if r.get("status") == "error"]


def build(records: list[dict[str, Any]], keep: Callable[[str], bool] | None = None, accept_stale: bool = False,
          specs: dict[str, TaskSpec] | None = None):
    """(long DataFrame, wide DataFrame) from result records, optionally restricted to tasks `keep` accepts; `specs`:
    the current task files by name (default: read them, bench.catalog.all_tasks).

    Error records are left out; results that must not share a table raise MixedResults (see
    `bench.leaderboard_guard`); with `accept_stale` those differing only in task spec or protocol code are kept
    with `stale` set (long) and listed per encoder in a `stale` column (wide), and those made for an older task
    version than the current task file are left out (`superseded`)."""
    import pandas as pd

    if specs is None:
        from bench.catalog import all_tasks

        specs = all_tasks()
    records = [r for r in records if r.get("status") != "error" and (keep is None or keep(r["task"]["name"]))]
    if accept_stale:
        old = {id(r) for r in superseded(records, specs)}
        records = [r for r in records if id(r) not in old]
    rows = long_rows(records, check_records(records, accept_stale, current=current_values(specs)))
    if not rows:
        raise ValueError("no results to tabulate (run `bench run` first, or check --results / --suite)")
    long = pd.DataFrame(rows).sort_values(["task", "protocol", "encoder"]).reset_index(drop=True)
    primary = long[long["primary"]]
    wide = primary.pivot(index="encoder", columns="task", values="value")
    good = primary[primary["higher_is_better"]].copy()
    good["value"] = good["value"].where(~good["metric"].isin(PERCENT_METRICS), good["value"] / 100)
    domain_means = good.groupby(["encoder", "domain"])["value"].mean().unstack("domain")
    # a mean over fewer tasks than the others had is not comparable: blank unless the encoder has them all
    tasks_per_domain = good.groupby("domain")["task"].nunique()
    covered = good.groupby(["encoder", "domain"])["task"].nunique().unstack("domain")
    domain_means = domain_means.where(covered.eq(tasks_per_domain, axis=1))
    domain_means.columns = [f"mean:{d}" for d in domain_means.columns]
    wide = wide.join(domain_means)
    wide.insert(0, "overall", domain_means.mean(axis=1, skipna=False))
    wide = wide.sort_values("overall", ascending=False, na_position="last")
    if primary["stale"].any():
        stale_tasks = primary[primary["stale"]].groupby("encoder")["task"].agg(lambda tasks: ";".join(sorted(tasks)))
        wide["stale"] = stale_tasks.reindex(wide.index).fillna("")
    return long, wide


def task_caveats(tasks, specs: dict[str, TaskSpec]) -> dict[str, tuple[str, ...]]:
    """The declared caveats of each of `tasks` (names) that has any, from the current task files `specs`."""
    return {t: tuple(specs[t].caveats) for t in sorted(set(tasks)) if t in specs and specs[t].caveats}


def to_markdown(long, wide, failed: list[dict[str, Any]] = (),
                caveats: dict[str, tuple[str, ...]] | None = None) -> str:
    """Markdown: a summary (overall and domain means per encoder), then one row per task with every encoder's
    primary main score and its 95% CI (stale ones marked †, tasks with `caveats` marked ⚠ and their caveats listed
    under the table), then the runs that failed."""
    caveats = caveats or {}
    means = [c for c in wide.columns if c == "overall" or c.startswith("mean:")]
    encoders = list(wide.index)
    names = [markdown_escape(e) for e in encoders]
    lines = ["| encoder | " + " | ".join(markdown_escape(c.replace("mean:", "")) for c in means) + " |",
             "|---|" + "---|" * len(means)]
    lines += [f"| {name} | " + " | ".join(_fmt(wide.loc[e, c]) for c in means) + " |"
              for e, name in zip(encoders, names)]
    primary = long[long["primary"]]
    lines += ["", "| task | domain | protocol: metric | chance | " + " | ".join(names) + " |",
              "|---|---|---|---|" + "---|" * len(encoders)]
    for task, rows in primary.groupby("task", sort=True):
        first = rows.iloc[0]
        arrow = "↑" if first["higher_is_better"] else "↓"
        by_encoder = rows.set_index("encoder")
        cells = [_score_cell(by_encoder.loc[e]) if e in by_encoder.index else "" for e in encoders]
        mark = f" {CAVEAT_MARK}" if caveats.get(task) else ""
        lines.append(f"| {markdown_escape(task)}{mark} | {markdown_escape(first['domain'])} | "
                     f"{markdown_escape(first['protocol'])}: {markdown_escape(first['metric'])} {arrow} | "
                     f"{_fmt(first['chance'])} | " + " | ".join(cells) + " |")
    flagged = [t for t in sorted(set(primary["task"])) if caveats.get(t)]
    if flagged:
        lines += ["", f"{CAVEAT_MARK} Known caveats of the data (declared in the task files):", ""]
        lines += [f"- {markdown_escape(t)}: " + " ".join(markdown_escape(c) for c in caveats[t]) for t in flagged]
    if failed:
        lines += [""] + [f"- failed: {markdown_escape(r['encoder']['name'])} on {markdown_escape(r['task']['name'])}: "
                         f"{markdown_escape(r.get('error') or 'error')}" for r in failed]
    return "\n".join(lines) + "\n"


def _score_cell(row) -> str:
    mark = f" {STALE_MARK}" if row["stale"] else ""
    return f"{_fmt(row['value'])} [{_fmt(row['ci95_low'])}, {_fmt(row['ci95_high'])}]{mark}"


def _fmt(value: Any) -> str:
    try:
        if value is None or value != value:
            return "-"
        return f"{float(value):.3f}"
    except (TypeError, ValueError):
        return markdown_escape(value)


def _write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path` and rename it into place."""
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_leaderboard(results_dir: Path, out_dir: Path, suite: str | None = None,
                      accept_stale: bool = False) -> list[Path]:
    """Write leaderboard CSVs (long and wide) and Markdown for the results under `results_dir`.

    `accept_stale` keeps results whose task spec or protocol code differs from the rest of their task, marked †
    (Markdown) and `stale` (CSV), and leaves out (listing them under the table) results made for an older task
    version than the current task file; otherwise differing data, seeds or task version are refused."""
    from bench.catalog import all_tasks
    from bench.results import load_results

    specs = all_tasks()  # read once for every check and table below
    keep = None
    if suite:
        from bench.catalog import all_suites

        suites = all_suites()
        if suite not in suites:
            raise KeyError(f"unknown suite '{suite}'; known: {', '.join(sorted(suites))}")
        keep = suites[suite].matches
    records = load_results(results_dir)
    long, wide = build(records, keep, accept_stale, specs)
    failed = [r for r in failed_records(records) if keep is None or keep(r["task"]["name"])]
    left_out = [r for r in superseded(records, specs) if accept_stale and r.get("status") != "error"
                and (keep is None or keep(r["task"]["name"]))]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = suite or "all"
    paths = [out_dir / f"{stem}_long.csv", out_dir / f"{stem}.csv", out_dir / f"{stem}.md"]
    caveats = task_caveats(long["task"], specs)
    long = long.assign(caveats=long["task"].map(lambda t: " ".join(caveats.get(t, ()))))
    _write_atomic(paths[0], _csv_safe_frame(long.drop(columns=["file"])).to_csv(index=False))
    _write_atomic(paths[1], _csv_safe_frame(wide.round(4)).to_csv())
    stale_note = (f" {STALE_MARK} marks a result made with older protocol code or task spec than the rest of its "
                  f"task (kept with --accept-stale; re-run it to refresh)." if long["stale"].any() else "")
    _write_atomic(paths[2], f"# Leaderboard: {markdown_escape(stem)}\n\nMain score of each task's primary "
                      f"protocol, mean over seeds, 95% bootstrap CI in brackets; domain means and overall use "
                      f"higher-is-better scores only, and are left blank (-) for an encoder that was not run on "
                      f"every task they cover; {', '.join(m.upper() for m in sorted(PERCENT_METRICS))} (0-100) "
                      f"enters them divided by 100.{stale_note}\n\n" + to_markdown(long, wide, failed, caveats)
                  + _superseded_note(left_out))
    return paths


def _superseded_note(records: list[dict[str, Any]]) -> str:
    """Markdown lines naming the results left out because their task's data or labels have changed since."""
    if not records:
        return ""
    names = sorted(f"{markdown_escape(r['encoder']['name'])} on {markdown_escape(r['task']['name'])} "
                   f"(v{r['task']['version']})" for r in records)
    return ("\nNot shown, made for an older version of their task (its data or labels changed since; re-run them): "
            + "; ".join(names) + ".\n")
