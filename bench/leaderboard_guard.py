"""Which results may share a leaderboard: one task's results must have been made on the same data, seeds, task
spec and protocol code, and each encoder may appear once per task.

Data fingerprint, seeds and task version must always agree. A differing task-spec hash or protocol code can be
accepted for a published table that must still show older results (`accept_stale`): the results that differ
from the current value (the spec hash of the task as it is defined now, the hash of the protocol code installed
now; the most common value when the current one is unknown or held by none) are then kept and marked stale.
Records written before spec hashes existed compare as "unknown" (two unknowns agree; unknown and a hash differ).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bench.results import record_label

if TYPE_CHECKING:
    from bench.taskspec import TaskSpec

UNKNOWN = "unknown"
SPEC = "task spec"  # the stale marker of a whole record (its spec hash differs)


class MixedResults(ValueError):
    """Results that must not share a table; the message names the task, the files and what differs."""


def record_file(record: dict[str, Any]) -> str:
    """The file a record was read from, or `encoder on task` for a record built in memory."""
    return record.get("_file") or f"{record['encoder']['name']} on {record['task']['name']}"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:12] if len(text) == 64 else text  # a sha256 is shown by its first 12 hex digits


def _by_value(records: list[dict[str, Any]], value_of: Callable[[dict], Any]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        value = value_of(record)
        groups.setdefault(UNKNOWN if value is None else json.dumps(value, sort_keys=True), []).append(record)
    return groups


def _describe(task: str, what: str, groups: dict[str, list[dict[str, Any]]]) -> str:
    parts = [f"{_short(json.loads(v)) if v != UNKNOWN else UNKNOWN} ({', '.join(sorted(map(record_file, rs)))})"
             for v, rs in sorted(groups.items())]
    return f"{task}: results differ in {what}: " + "; ".join(parts)


def _reference(groups: dict[str, list[dict[str, Any]]], current: Any = None) -> str:
    """The current value when some record holds it, else the most common value (a tie goes to the newest)."""
    if current is not None and json.dumps(current, sort_keys=True) in groups:
        return json.dumps(current, sort_keys=True)
    return max(groups, key=lambda v: (len(groups[v]), max(r.get("created_utc", "") for r in groups[v])))


def current_values(specs: dict[str, TaskSpec]) -> Callable[[str, str], str | None]:
    """`(task, mark) -> value` of what a result made now would record: the task's spec hash (`mark` SPEC; `specs`:
    the current task files by name, bench.catalog.all_tasks) or the protocol's code hash; None when the task or
    protocol is not defined here."""
    from bench.protocols.registry import PROTOCOLS, protocol_code_sha256
    from bench.taskspec import spec_sha256

    hashes: dict[str, str] = {}

    def value(task: str, mark: str) -> str | None:
        if mark != SPEC:
            return protocol_code_sha256(mark) if mark in PROTOCOLS else None
        if task not in specs:
            return None
        if task not in hashes:
            hashes[task] = spec_sha256(specs[task])
        return hashes[task]

    return value


def superseded(records: list[dict[str, Any]], specs: dict[str, TaskSpec]) -> list[dict[str, Any]]:
    """Records made for an older version of their task than the task file defines now (its data or labels have
    changed since; `specs`: the current task files by name): no table may show them beside current ones;
    `accept_stale` leaves them out and lists them."""
    versions = {name: spec.version for name, spec in specs.items()}
    return [r for r in records if r["task"]["name"] in versions
            and r["task"].get("version") is not None and r["task"]["version"] < versions[r["task"]["name"]]]


def _protocol_code(kind: str) -> Callable[[dict], Any]:
    def value_of(record: dict[str, Any]) -> Any:
        codes = [p.get("code_sha256") for p in record["protocols"] if p["kind"] == kind]
        return codes[0] if codes else None
    return value_of


def check_records(records: list[dict[str, Any]], accept_stale: bool = False,
                  current: Callable[[str, str], Any] | None = None) -> dict[str, set[str]]:
    """Raise MixedResults when results of one task must not share a table; return the stale marks per file
    (`SPEC` for a differing task spec, else the protocol kinds whose code differs), all empty unless
    `accept_stale`. `current(task, mark)` gives the value a fresh result would record (see `current_values`)."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_task.setdefault(record["task"]["name"], []).append(record)
    problems: list[str] = []
    stale: dict[str, set[str]] = {record_file(r): set() for r in records}
    for task, group in sorted(by_task.items()):
        for encoder, same in sorted(_by_value(group, record_label).items()):
            if len(same) > 1:
                problems.append(f"{task}: encoder '{json.loads(encoder)}' has {len(same)} results "
                                f"({', '.join(sorted(map(record_file, same)))}); keep one of them")
        for what, value_of in (("task version", lambda r: r["task"].get("version")),
                               ("data fingerprint", lambda r: r["task"].get("dataset_fingerprint")),
                               ("seeds", lambda r: r.get("seeds"))):
            groups = _by_value(group, value_of)
            if len(groups) > 1:
                problems.append(_describe(task, what, groups))
        kinds = sorted({p["kind"] for r in group for p in r["protocols"]})
        checks = [(SPEC, "task spec (spec_sha256)", lambda r: r["task"].get("spec_sha256"))]
        checks += [(kind, f"{kind} protocol code", _protocol_code(kind)) for kind in kinds]
        for mark, what, value_of in checks:
            with_value = [r for r in group if mark == SPEC or any(p["kind"] == mark for p in r["protocols"])]
            groups = _by_value(with_value, value_of)
            if len(groups) < 2:
                continue
            if not accept_stale:
                problems.append(_describe(task, what, groups) + " (accept_stale / --accept-stale keeps the "
                                "minority marked †)")
                continue
            reference = _reference(groups, current(task, mark) if current else None)
            for value, members in groups.items():
                for record in members if value != reference else ():
                    stale[record_file(record)].add(mark)
    if problems:
        raise MixedResults("these results must not share a table:\n" + "\n".join(f"  {p}" for p in problems)
                           + "\nre-run the older results, or move them out of the results folder")
    return stale
