"""Which committed results a fresh `bench run` would recompute, and roughly what that costs.

A result is current when `bench run` would reuse it: same task spec and protocol code as the task files and code
here, made for the current task version, with an intact samples sidecar (bench.reuse; the encoder's cache key and
the data are checked by `bench run` itself). Everything else is listed per encoder with its reason and the time its
last run took (`timing.extract_s` + `timing.protocol_s`, on whatever machine made it), so the cost of refreshing
is an estimate from measured runs, not a guess. Refreshing is `bench run` itself, in a clean checkout:

    bench run --encoder <encoder> --suite <suite> --out results   # reuses what is current, recomputes the rest

    python scripts/results_status.py [--results results] [--encoder NAME ...]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any


def reasons(record: dict[str, Any], path: Path, specs: dict[str, Any], current) -> list[str]:
    """Why `bench run` would not reuse this result now (empty when it would); `current` is
    bench.leaderboard_guard.current_values over the task files `specs`."""
    from bench.leaderboard_guard import SPEC
    from bench.reuse import samples_intact

    task = record["task"]
    spec = specs.get(task["name"])
    if spec is None:
        return ["task no longer defined"]
    why = []
    if task.get("version") is not None and task["version"] < spec.version:
        why.append(f"task v{task['version']} < v{spec.version}")
    elif task.get("spec_sha256") != current(task["name"], SPEC):
        why.append("task spec differs")
    kinds = sorted(p["kind"] for p in record.get("protocols", [])
                   if p.get("code_sha256") != current(task["name"], p["kind"]))
    if kinds:
        why.append("protocol code differs (" + ", ".join(kinds) + ")")
    if not samples_intact(path, record):
        why.append("no samples")
    return why


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--encoder", nargs="*", help="only these encoders")
    args = parser.parse_args()
    from bench.catalog import all_tasks
    from bench.leaderboard_guard import current_values
    from bench.results import load_results

    specs = all_tasks()
    current = current_values(specs)

    stale: dict[str, list[tuple[str, list[str], float]]] = defaultdict(list)
    n_current: dict[str, int] = defaultdict(int)
    for record in load_results(args.results):
        encoder = record["encoder"]["name"]
        if record.get("status") == "error" or (args.encoder and encoder not in args.encoder):
            continue
        path = Path(record["_file"])
        why = reasons(record, path, specs, current)
        if not why:
            n_current[encoder] += 1
            continue
        timing = record.get("timing", {})
        cost = float(timing.get("extract_s") or 0) + float(timing.get("protocol_s") or 0)
        stale[encoder].append((record["task"]["name"], why, cost))
    total = 0.0
    for encoder in sorted(set(stale) | set(n_current)):
        items = stale.get(encoder, [])
        cost = sum(c for _, _, c in items)
        total += cost
        print(f"{encoder}: {n_current[encoder]} current, {len(items)} to recompute "
              f"(last runs took {cost / 60:.0f} min)")
        for task, why, c in sorted(items):
            print(f"    {task:42s} {c / 60:6.1f} min  {'; '.join(why)}")
    print(f"total to recompute: {sum(len(v) for v in stale.values())} results, about {total / 3600:.1f} h "
          f"by their last runs' timings")


if __name__ == "__main__":
    main()
