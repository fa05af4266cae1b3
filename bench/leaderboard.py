"""Leaderboard tables: a pure function of result records (and optionally a suite's task list).

Per task the score is the main score of the task's primary protocol (the first one listed in the task file) with
its 95% CI; per domain, the mean over that domain's tasks of the higher-is-better main scores; overall, the mean
of the domain means, so that no domain weighs more because it has more tasks. A domain mean (and so the overall)
is left blank for an encoder that lacks any of the domain's tasks in the table. Metrics reported in percent
(BLEU, as sacrebleu gives it) enter the means divided by 100, so that they weigh like the 0-1 scores beside them;
the tables show them as reported. Every protocol's score is in the long CSV. A table that would mix two versions
of one task is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable


PERCENT_METRICS = frozenset({"bleu"})


class MixedVersions(ValueError):
    """Results of one task were made with different task versions."""


def protocol_label(proto: dict[str, Any]) -> str:
    """The protocol's kind, with its variant when it declares one (e.g. `generative[projector+lora]`)."""
    variant = (proto.get("config") or {}).get("variant")
    return f"{proto['kind']}[{variant}]" if variant else proto["kind"]


def long_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per encoder x task x protocol with its main score and CI."""
    rows = []
    for record in records:
        for rank, proto in enumerate(record["protocols"]):
            main = proto["main_score"]
            ci = main.get("ci95") or [None, None]
            rows.append({
                "encoder": record["encoder"]["name"], "task": record["task"]["name"],
                "task_version": record["task"]["version"], "domain": record["task"]["domain"],
                "protocol": protocol_label(proto), "primary": rank == 0, "metric": main["name"], "value": main["value"],
                "ci95_low": ci[0], "ci95_high": ci[1], "higher_is_better": main["higher_is_better"],
                "chance": record["task"].get("chance"), "n_samples": record.get("n_samples"),
                "weights_sha256": record["encoder"]["weights_sha256"][:12], "file": record.get("_file", ""),
            })
    return rows


def check_versions(rows: list[dict[str, Any]]) -> None:
    """Raise MixedVersions when one task appears with two versions."""
    seen: dict[str, dict[int, str]] = {}
    for row in rows:
        seen.setdefault(row["task"], {}).setdefault(row["task_version"], row["file"])
    mixed = {task: files for task, files in seen.items() if len(files) > 1}
    if mixed:
        lines = [f"  {task}: " + ", ".join(f"v{v} ({f})" for v, f in sorted(files.items()))
                 for task, files in mixed.items()]
        raise MixedVersions("results mix task versions, so the table would compare different tasks:\n"
                            + "\n".join(lines) + "\nre-run the older results or delete them")


def build(records: list[dict[str, Any]], keep: Callable[[str], bool] | None = None):
    """(long DataFrame, wide DataFrame) from result records, optionally restricted to tasks `keep` accepts."""
    import pandas as pd

    rows = long_rows(records)
    if keep is not None:
        rows = [r for r in rows if keep(r["task"])]
    if not rows:
        raise ValueError("no results to tabulate (run `bench run` first, or check --results / --suite)")
    check_versions(rows)
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
    return long, wide


def to_markdown(long, wide) -> str:
    """Markdown: a summary (overall and domain means per encoder), then one row per task with every encoder's
    primary main score and its 95% CI."""
    means = [c for c in wide.columns if c == "overall" or c.startswith("mean:")]
    encoders = list(wide.index)
    lines = ["| encoder | " + " | ".join(c.replace("mean:", "") for c in means) + " |",
             "|---|" + "---|" * len(means)]
    lines += [f"| {e} | " + " | ".join(_fmt(wide.loc[e, c]) for c in means) + " |" for e in encoders]
    primary = long[long["primary"]]
    lines += ["", "| task | domain | protocol: metric | chance | " + " | ".join(encoders) + " |",
              "|---|---|---|---|" + "---|" * len(encoders)]
    for task, rows in primary.groupby("task", sort=True):
        first = rows.iloc[0]
        arrow = "↑" if first["higher_is_better"] else "↓"
        by_encoder = rows.set_index("encoder")
        cells = [f"{_fmt(by_encoder.loc[e, 'value'])} [{_fmt(by_encoder.loc[e, 'ci95_low'])}, "
                 f"{_fmt(by_encoder.loc[e, 'ci95_high'])}]" if e in by_encoder.index else "" for e in encoders]
        lines.append(f"| {task} | {first['domain']} | {first['protocol']}: {first['metric']} {arrow} | "
                     f"{_fmt(first['chance'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    try:
        if value is None or value != value:
            return "-"
        return f"{float(value):.3f}"
    except (TypeError, ValueError):
        return str(value)


def write_leaderboard(results_dir: Path, out_dir: Path, suite: str | None = None) -> list[Path]:
    """Write leaderboard CSVs (long and wide) and Markdown for the results under `results_dir`."""
    from bench.results import load_results

    keep = None
    if suite:
        from bench.catalog import all_suites

        suites = all_suites()
        if suite not in suites:
            raise KeyError(f"unknown suite '{suite}'; known: {', '.join(sorted(suites))}")
        keep = suites[suite].matches
    long, wide = build(load_results(results_dir), keep)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = suite or "all"
    paths = [out_dir / f"{stem}_long.csv", out_dir / f"{stem}.csv", out_dir / f"{stem}.md"]
    long.drop(columns=["file"]).to_csv(paths[0], index=False)
    wide.round(4).to_csv(paths[1])
    paths[2].write_text(f"# Leaderboard: {stem}\n\nMain score of each task's primary protocol, mean over seeds, "
                        f"95% bootstrap CI in brackets; domain means and overall use higher-is-better scores only, and are "
                        f"left blank (-) for an encoder that was not run on every task they cover; "
                        f"{', '.join(m.upper() for m in sorted(PERCENT_METRICS))} (0-100) enters them divided by 100."
                        f"\n\n" + to_markdown(long, wide))
    return paths
