"""Write a prepared dataset folder atomically: manifest.jsonl, trials.jsonl, extracted files, card.md and
checksums.sha256, into a temporary sibling folder renamed into place at the end."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.prepare.layout import Prepared
from bench.prepare.registry import DatasetInfo

CHECKSUM_FILE = "checksums.sha256"
SPLIT_COLUMNS = ("split", "fold")


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks (bounded memory for long recordings)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)


def _split_counts(rows: list[dict[str, Any]]) -> str:
    column = next((c for c in SPLIT_COLUMNS if c in rows[0]), None)
    if column is None:
        return "no split column"
    counts = Counter(str(row.get(column)) for row in rows)
    return f"{column}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def card_text(name: str, info: DatasetInfo, src: Path, prepared: Prepared, audio_bytes: int) -> str:
    """The dataset card of a prepared folder."""
    columns = sorted({key for row in prepared.rows for key in row})
    lines = [
        f"# {name}: {info.title}", "",
        f"Prepared by `bench data prepare {name} --from {src}` on "
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}. The audio is referenced in place "
        f"(absolute paths) unless stated below; moving the source folder means preparing again.", "",
        f"- Published at: {info.published_at} (bench downloads nothing)",
        f"- Licence: {info.license}",
        f"- Redistribution: {info.redistribution}",
        f"- Cite: {info.citation}",
        f"- Layout facts from: {info.layout_source}",
        f"- Size: {len(prepared.rows)} clips, {audio_bytes / 2**20:.1f} MiB of audio; {_split_counts(prepared.rows)}"
        + (f"; {len(prepared.trials)} trials" if prepared.trials else ""),
        f"- Manifest columns: {', '.join(columns)}",
    ]
    if prepared.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in prepared.notes]
    return "\n".join(lines) + "\n"


def _extract(members: list[tuple[Path, str, str]], folder: Path) -> None:
    """Copy tar members into `folder`, one shard open at a time, streamed (bounded memory)."""
    import tarfile

    by_tar: dict[Path, list[tuple[str, str]]] = {}
    for tar_path, member, rel in members:
        by_tar.setdefault(tar_path, []).append((member, rel))
    for tar_path, wanted in by_tar.items():
        with tarfile.open(tar_path) as tar:
            for member, rel in wanted:
                source = tar.extractfile(member)
                if source is None:
                    raise OSError(f"{tar_path}: member '{member}' is not a regular file")
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                with source, (folder / rel).open("wb") as out:
                    shutil.copyfileobj(source, out, 2**20)


def write_prepared(name: str, info: DatasetInfo, src: Path, prepared: Prepared, final: Path) -> None:
    """Write the prepared folder `final` (replacing an older one only once the new one is complete)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        rows = prepared.rows
        _extract(prepared.extract, tmp)
        (tmp / "manifest.jsonl").write_text(_jsonl(rows), encoding="utf-8")
        if prepared.trials:
            (tmp / "trials.jsonl").write_text(_jsonl(prepared.trials), encoding="utf-8")
        audio_sums = {}
        for row in rows:
            path = Path(row["path"])
            if path.is_absolute():
                audio_sums[path.as_posix()] = file_sha256(path)
        audio_bytes = sum(Path(p).stat().st_size for p in audio_sums)
        audio_bytes += sum((tmp / rel).stat().st_size for _, _, rel in prepared.extract)
        (tmp / "card.md").write_text(card_text(name, info, src, prepared, audio_bytes), encoding="utf-8")
        local = {p.relative_to(tmp).as_posix(): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        lines = [f"{digest}  {rel}\n" for rel, digest in {**local, **audio_sums}.items()]
        (tmp / CHECKSUM_FILE).write_text("".join(lines), encoding="utf-8")
        if final.exists():
            old = final.parent / f".{final.name}.old-{os.getpid()}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
