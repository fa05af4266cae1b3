"""Do two tasks rank encoders alike? Kendall's tau between the primary main scores of task pairs.

Pairs a frozen-LLM task with the probe task on the same data (by default every `<name>_llm` task with `<name>`),
prints each pair's encoders in order with both scores, and tau over the encoders that have both results.

    python scripts/rank_agreement.py [--results results] [--pair builtin-quick/keywords_llm builtin-quick/keywords]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def primary_scores(results: Path) -> dict[str, dict[str, float]]:
    """task -> encoder -> primary main score (sign flipped where lower is better, so higher always ranks first)."""
    from bench.leaderboard import long_rows
    from bench.results import load_results

    scores: dict[str, dict[str, float]] = {}
    for row in long_rows(load_results(results)):
        if row["primary"]:
            sign = 1.0 if row["higher_is_better"] else -1.0
            scores.setdefault(row["task"], {})[row["encoder"]] = sign * float(row["value"])
    return scores


def default_pairs(tasks: list[str]) -> list[tuple[str, str]]:
    """(`x_llm`, `x`) for every `x_llm` whose probe twin `x` has results."""
    return [(t, t[: -len("_llm")]) for t in sorted(tasks) if t.endswith("_llm") and t[: -len("_llm")] in tasks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--pair", nargs=2, action="append", metavar=("TASK_A", "TASK_B"),
                        help="two task names to compare (repeatable; default: every x_llm with x)")
    args = parser.parse_args()
    from scipy.stats import kendalltau

    scores = primary_scores(args.results)
    pairs = args.pair or default_pairs(list(scores))
    if not pairs:
        raise SystemExit(f"no task pairs with results under {args.results} (run both tasks, or pass --pair)")
    for a, b in pairs:
        missing = [t for t in (a, b) if t not in scores]
        if missing:
            raise SystemExit(f"no results for {', '.join(missing)} under {args.results}")
        shared = sorted(set(scores[a]) & set(scores[b]), key=lambda e: -scores[a][e])
        print(f"\n{a} vs {b} ({len(shared)} encoders with both)")
        for encoder in shared:
            print(f"  {encoder:<20} {scores[a][encoder]:8.3f} {scores[b][encoder]:8.3f}")
        if len(shared) >= 3:
            tau, p = kendalltau([scores[a][e] for e in shared], [scores[b][e] for e in shared])
            print(f"  Kendall tau = {tau:.2f} (p = {p:.2f})")


if __name__ == "__main__":
    main()
