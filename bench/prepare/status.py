"""Which catalog tasks (tasks/xares, tasks/hear, tasks/maeb) have their data prepared on this machine."""

from __future__ import annotations

from typing import Any

BENCHMARKS = ("xares", "hear", "maeb")


def catalog_status(benchmark: str) -> list[dict[str, Any]]:
    """One row per task of `benchmark` (task, dataset, ready, how): `how` is the prepared folder when ready, else
    the command that prepares it and where the dataset is published."""
    from bench.catalog import all_tasks
    from bench.data import DatasetError
    from bench.prepare import prepared_root
    from bench.prepare.registry import dataset_info

    if benchmark not in BENCHMARKS:
        raise KeyError(f"unknown benchmark '{benchmark}'; expected one of {', '.join(BENCHMARKS)}")
    rows = []
    for name, task in sorted(all_tasks().items()):
        if not name.startswith(f"{benchmark}/") or task.dataset.source != "prepared":
            continue
        dataset = task.dataset.name
        try:
            how, ready = str(prepared_root(dataset)), True
        except DatasetError:
            try:
                published = dataset_info(dataset).published_at
            except KeyError:
                published = "unknown"
            how, ready = f"bench data prepare {dataset} --from DIR (download: {published})", False
        rows.append({"task": name, "dataset": dataset, "ready": ready, "how": how})
    return rows


def format_status(rows: list[dict[str, Any]]) -> str:
    """The rows of `catalog_status` as a text table."""
    lines = [f"{row['task']:<40} {'ready' if row['ready'] else 'needs data':<11} {row['how']}" for row in rows]
    ready = sum(row["ready"] for row in rows)
    return "\n".join(lines + [f"[bench] {ready} of {len(rows)} task(s) ready"])
