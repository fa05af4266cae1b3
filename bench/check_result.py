"""The outcome of one conformance check and the report `bench check` prints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CheckResult:
    """Outcome of one check: its name, whether it passed, and what was measured."""

    name: str
    passed: bool
    detail: str


def format_report(results: list[CheckResult]) -> str:
    """A table of the results, one line per check, and a closing count."""
    width = max((len(r.name) for r in results), default=0)
    lines = [f"{'PASS' if r.passed else 'FAIL'}  {r.name:<{width}}  {r.detail}" for r in results]
    passed = sum(r.passed for r in results)
    failed = [r.name for r in results if not r.passed]
    lines.append(f"{passed}/{len(results)} checks passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return "\n".join(lines)
