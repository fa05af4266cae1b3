"""`bench data prepare NAME --from DIR [--to DIR]` and `bench data list`: convert datasets users downloaded
themselves (bench downloads nothing) into bench dataset folders; see bench.prepare."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_prepare(args: argparse.Namespace) -> int:
    from bench.prepare import prepare

    folder = prepare(args.name, Path(args.source), Path(args.to) if args.to else None)
    print(f"[bench] prepared '{args.name}' into {folder} (card: {folder / 'card.md'})")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from bench.data import DatasetError
    from bench.prepare import known_datasets, prepared_root
    from bench.prepare.registry import DATASETS, HEAR_INFO, XARES_INFO

    names = known_datasets() + sorted(n for n in _remembered() if n not in DATASETS)
    for name in names:
        try:
            where = f"prepared: {prepared_root(name)}"
        except DatasetError:
            where = "not prepared"
        title = DATASETS[name].title if name in DATASETS else ""
        print(f"{name:<28} {where:<60} {title}")
    for info in (HEAR_INFO, XARES_INFO):
        print(f"{info.name:<28} {'(one per task)':<60} {info.title}")
    return 0


def _remembered() -> list[str]:
    from bench.prepare import prepared_locations

    return list(prepared_locations())


def add_data_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `bench data {prepare,list}` to the `bench` command's subparsers."""
    data = subparsers.add_parser("data", help="prepare published datasets you downloaded (ESC-50, VoxCeleb1, HEAR "
                                              "and X-ARES task folders, ...) for the catalog tasks",
                                 description="Convert a dataset as its publisher ships it into a bench dataset "
                                             "folder (manifest.jsonl referencing the audio in place, card.md, "
                                             "checksums). bench never downloads data.")
    actions = data.add_subparsers(dest="data_command", required=True)
    prep = actions.add_parser("prepare", help="prepare one dataset from its extracted archive",
                              epilog="NAME: a dataset of `bench data list`, hear-<task> for a HEAR preprocessed task "
                                     "folder, or xares-<task> for a folder of X-ARES webdataset shards.")
    prep.add_argument("name", metavar="NAME")
    prep.add_argument("--from", dest="source", required=True, metavar="DIR",
                      help="folder of the extracted archive, as the publisher ships it")
    prep.add_argument("--to", metavar="DIR", help="where to write the prepared folder (default "
                                                  "$BENCH_HOME/data/prepared/NAME)")
    prep.set_defaults(func=_cmd_prepare)
    lst = actions.add_parser("list", help="datasets bench can prepare, and where each one is prepared")
    lst.set_defaults(func=_cmd_list)
