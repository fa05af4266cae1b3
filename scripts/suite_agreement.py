#!/usr/bin/env python3
"""Agreement between two suites' encoder rankings: Kendall's tau (scipy) with a bootstrap CI over tasks.

Each encoder's score on a suite is the leaderboard's: the primary (first) protocol's main score of every task
whose main score is higher-is-better, averaged within each domain, then the domain means averaged (`overall`).
Only encoders with a result for every such task of both suites are ranked. The CI resamples each suite's tasks
with replacement within each domain (a suite is a sample of possible tasks), recomputes both suites' scores and
tau, and takes the percentile interval.

    python3 scripts/suite_agreement.py --suite-a builtin-quick --suite-b real --results results
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

# scores[encoder][task] = value; domains[task] = domain
Scores = dict[str, dict[str, float]]


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b of two score lists (scipy); NaN when either is constant."""
    from scipy.stats import kendalltau

    if len(a) < 2:
        return math.nan
    return float(kendalltau(a, b).statistic)


def suite_scores(records: list[dict[str, Any]], task_names: set[str]) -> tuple[Scores, dict[str, str]]:
    """Per encoder and task of `task_names`: the primary protocol's main score, for higher-is-better scores only
    (as the leaderboard's domain means); and each task's domain."""
    from bench.leaderboard import higher_is_better

    scores: Scores = {}
    domains: dict[str, str] = {}
    for record in records:
        task = record.get("task", {}).get("name")
        if record.get("status") == "error" or task not in task_names or not record.get("protocols"):
            continue
        main = record["protocols"][0]["main_score"]
        if not higher_is_better(main) or main.get("value") is None:
            continue
        scores.setdefault(record["encoder"]["name"], {})[task] = float(main["value"])
        domains[task] = record["task"]["domain"]
    return scores, domains


def aggregate(scores: dict[str, float], tasks: list[str], domains: dict[str, str]) -> dict[str, float]:
    """`overall` (mean of domain means) and `domain:<d>` means of one encoder over `tasks` (repeats count)."""
    by_domain: dict[str, list[float]] = {}
    for task in tasks:
        by_domain.setdefault(domains[task], []).append(scores[task])
    out = {f"domain:{d}": float(np.mean(v)) for d, v in by_domain.items()}
    out["overall"] = float(np.mean([out[f"domain:{d}"] for d in by_domain]))
    return out


def _resample(tasks: list[str], domains: dict[str, str], rng: np.random.Generator) -> list[str]:
    """Tasks drawn with replacement within each domain (each domain keeps its number of tasks)."""
    out = []
    for domain in sorted({domains[t] for t in tasks}):
        members = [t for t in tasks if domains[t] == domain]
        out += [members[i] for i in rng.integers(0, len(members), len(members))]
    return out


def agreement(scores_a: Scores, domains_a: dict[str, str], scores_b: Scores, domains_b: dict[str, str],
              n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Kendall's tau between encoder rankings on suite A and suite B, overall and per shared domain, with a 95%
    bootstrap interval over each suite's tasks. Encoders missing any task of either suite are left out."""
    tasks_a, tasks_b = sorted(domains_a), sorted(domains_b)
    encoders = sorted(e for e in set(scores_a) & set(scores_b)
                      if set(tasks_a) <= set(scores_a[e]) and set(tasks_b) <= set(scores_b[e]))
    left_out = sorted((set(scores_a) | set(scores_b)) - set(encoders))
    keys = ["overall"] + [f"domain:{d}" for d in sorted(set(domains_a.values()) & set(domains_b.values()))]

    def taus(sample_a: list[str], sample_b: list[str]) -> dict[str, float]:
        agg_a = [aggregate(scores_a[e], sample_a, domains_a) for e in encoders]
        agg_b = [aggregate(scores_b[e], sample_b, domains_b) for e in encoders]
        return {k: kendall_tau([x[k] for x in agg_a], [y[k] for y in agg_b]) for k in keys}

    point = taus(tasks_a, tasks_b)
    rng = np.random.default_rng(seed)
    boots = [taus(_resample(tasks_a, domains_a, rng), _resample(tasks_b, domains_b, rng)) for _ in range(n_boot)]
    rows = []
    for key in keys:
        values = np.array([b[key] for b in boots], dtype=float)
        values = values[~np.isnan(values)]
        ci = [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))] if len(values) else [None, None]
        rows.append({"scope": key, "tau": point[key], "ci95": ci, "n_boot_defined": int(len(values)),
                     "tasks_a": sum(1 for t in tasks_a if key == "overall" or f"domain:{domains_a[t]}" == key),
                     "tasks_b": sum(1 for t in tasks_b if key == "overall" or f"domain:{domains_b[t]}" == key)})
    return {"encoders": encoders, "left_out": left_out, "rows": rows, "n_boot": n_boot, "seed": seed}


def to_markdown(result: dict[str, Any], suite_a: str, suite_b: str) -> str:
    """A table of tau and its CI per scope."""
    lines = [f"Kendall's tau between encoder rankings on `{suite_a}` and `{suite_b}` "
             f"({len(result['encoders'])} encoders; 95% CI: {result['n_boot']} task bootstraps)", "",
             f"| scope | tasks {suite_a} | tasks {suite_b} | tau | 95% CI |", "|---|---|---|---|---|"]
    for row in result["rows"]:
        low, high = row["ci95"]
        ci = f"[{low:.2f}, {high:.2f}]" if low is not None else "n/a"
        tau = f"{row['tau']:.2f}" if not math.isnan(row["tau"]) else "n/a"
        lines.append(f"| {row['scope']} | {row['tasks_a']} | {row['tasks_b']} | {tau} | {ci} |")
    if result["left_out"]:
        lines += ["", f"Left out (a task of either suite missing): {', '.join(result['left_out'])}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line: print the agreement table; optionally write it as JSON / Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite-a", default="builtin-quick")
    parser.add_argument("--suite-b", default="real")
    parser.add_argument("--results", default="results", help="results folder of suite A (and B unless --results-b)")
    parser.add_argument("--results-b", default=None, help="results folder of suite B (default: --results)")
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the result as JSON here")
    parser.add_argument("--markdown", default=None, help="write the table as Markdown here")
    args = parser.parse_args(argv)

    from bench.catalog import resolve_tasks
    from bench.results import load_results

    records_a = load_results(Path(args.results))
    records_b = load_results(Path(args.results_b)) if args.results_b else records_a
    scores_a, domains_a = suite_scores(records_a, {t.name for t in resolve_tasks(args.suite_a)})
    scores_b, domains_b = suite_scores(records_b, {t.name for t in resolve_tasks(args.suite_b)})
    if not domains_a or not domains_b:
        print(f"no results for suite {args.suite_a if not domains_a else args.suite_b} in the results folder",
              file=sys.stderr)
        return 2
    result = agreement(scores_a, domains_a, scores_b, domains_b, n_boot=args.n_boot, seed=args.seed)
    table = to_markdown(result, args.suite_a, args.suite_b)
    print(table, end="")
    if args.json:
        Path(args.json).write_text(json.dumps({"suite_a": args.suite_a, "suite_b": args.suite_b, **result},
                                              indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
