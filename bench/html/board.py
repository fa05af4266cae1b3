"""Everything the leaderboard page shows, computed once from the guarded result set: scores, CIs, chance levels,
encoder cards, task caveats, the suite's aggregates and the rank statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.aggregates import TaskInfo
from bench.results import record_label


@dataclass
class TaskColumn:
    """A task of the table: its primary protocol's metric and direction, chance, domain and known caveats."""

    info: TaskInfo
    protocol: str
    description: str = ""
    caveats: tuple[str, ...] = ()


@dataclass
class Board:
    """The page's content: `scores` (encoders x tasks DataFrame), `cells[(encoder, task)]` (value, CI, stale),
    cards per encoder, aggregates (encoders x names), rank intervals and the Friedman / Wilcoxon-Holm results."""

    suite: str
    suite_description: str
    tasks: dict[str, TaskColumn]
    encoders: list[str]
    scores: Any
    normalised: Any
    cells: dict[tuple[str, str], dict[str, Any]]
    cards: dict[str, dict[str, Any]]
    aggregates: Any
    aggregate_names: tuple[str, ...]
    complete_tasks: list[str]
    rank_intervals: Any = None
    friedman: Any = None
    pair_tests: list = field(default_factory=list)
    mean_ranks: Any = None
    failed: list[str] = field(default_factory=list)
    any_stale: bool = False


def _guarded_tables(results_dir: Path, suite: str, accept_stale: bool, specs: dict):
    """(suite, records, long table, failed records) through bench.leaderboard's guard, as write_leaderboard uses;
    `specs`: the current task files by name."""
    from bench.catalog import all_suites
    from bench.leaderboard import build, failed_records
    from bench.results import load_results

    suites = all_suites()
    if suite not in suites:
        raise KeyError(f"unknown suite '{suite}'; known: {', '.join(sorted(suites))}")
    chosen = suites[suite]
    records = [r for r in load_results(results_dir) if chosen.matches(r["task"]["name"])]
    long, _ = build(records, None, accept_stale, specs)
    return chosen, [r for r in records if r.get("status") != "error"], long, failed_records(records)


def _task_columns(primary, specs: dict) -> dict[str, TaskColumn]:
    columns = {}
    for task, rows in primary.groupby("task", sort=True):
        first = rows.iloc[0]
        chance = first["chance"]
        chance = None if chance is None or chance != chance else float(chance)
        spec = specs.get(task)
        columns[task] = TaskColumn(
            TaskInfo(task, str(first["domain"]), str(first["metric"]), bool(first["higher_is_better"]), chance),
            str(first["protocol"]), spec.description if spec else "", tuple(spec.caveats) if spec else ())
    return columns


def _card(record: dict[str, Any]) -> dict[str, Any]:
    from bench.card import is_non_commercial

    encoder = record["encoder"]
    card = encoder.get("card") or {}
    licence = str(card.get("license", "not stated"))
    return {"parameters": card.get("parameters"), "license": licence,
            "non_commercial": bool(card.get("non_commercial", is_non_commercial(licence))),
            "training_data": str(card.get("training_data", "not stated")),
            "weights_sha256": str(encoder.get("weights_sha256") or ""), "family": str(card.get("family", "")),
            "description": str(card.get("description", "")), "revision": str(encoder.get("revision") or "")}


def load_board(results_dir: Path, suite: str, accept_stale: bool = False, n_boot: int = 1000,
               seed: int = 0) -> Board:
    """The page content for `suite` from the results under `results_dir` (refused like write_leaderboard when
    results must not share a table; `accept_stale` keeps older spec/code results, marked)."""
    from bench.aggregates import complete_tasks, compute_aggregates, normalised_scores, oriented
    from bench.catalog import all_tasks
    from bench.rankstats import bootstrap_rank_intervals, friedman, mean_ranks, task_replicates, wilcoxon_holm

    specs = all_tasks()  # read once for the guard and the column headers
    chosen, records, long, failed = _guarded_tables(Path(results_dir), suite, accept_stale, specs)
    primary = long[long["primary"]]
    tasks = _task_columns(primary, specs)
    infos = {name: column.info for name, column in tasks.items()}
    scores = primary.pivot(index="encoder", columns="task", values="value").astype(float)
    aggregates = compute_aggregates(chosen.aggregates, scores, infos)
    encoders = _order(aggregates, chosen.aggregates, list(scores.index))
    scores, aggregates = scores.loc[encoders], aggregates.loc[encoders]
    cells = {(row["encoder"], row["task"]): {"value": row["value"], "low": row["ci95_low"], "high": row["ci95_high"],
                                             "stale": bool(row["stale"])} for _, row in primary.iterrows()}
    cards = {record_label(r): _card(r) for r in records}
    complete = complete_tasks(scores)
    board = Board(chosen.name, chosen.description, tasks, encoders, scores, normalised_scores(scores, infos), cells,
                  cards, aggregates, chosen.aggregates, complete, any_stale=bool(primary["stale"].any()),
                  failed=[f"{r['encoder']['name']} on {r['task']['name']}: {r.get('error') or 'error'}"
                          for r in failed])
    if len(encoders) >= 2 and complete:
        table = oriented(scores[complete], infos)
        board.mean_ranks = mean_ranks(table)
        board.friedman = friedman(table)
        board.pair_tests = wilcoxon_holm(table) if len(complete) >= 2 else []
        by_task: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            by_task.setdefault(record["task"]["name"], []).append(record)
        replicates = {t: task_replicates(by_task[t], encoders, n_boot=200, seed=seed) for t in complete}
        board.rank_intervals = bootstrap_rank_intervals(replicates, encoders, n_boot=n_boot, seed=seed)
    return board


def _order(aggregates, names: tuple[str, ...], encoders: list[str]) -> list[str]:
    """Encoders best first by the suite's first aggregate (blank ones last, then by name)."""
    if not names:
        return sorted(encoders)
    from bench.aggregates import AGGREGATES

    first = AGGREGATES[names[0]]
    sign = -1.0 if first.higher_is_better else 1.0

    def key(encoder: str):
        value = aggregates.loc[encoder, names[0]]
        return (value != value or value is None, sign * value if value == value else 0.0, encoder)

    return sorted(encoders, key=key)


def fmt(value: Any, digits: int = 3) -> str:
    """A number as text with `digits` decimals; '-' for a missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)
