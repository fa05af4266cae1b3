"""The `bench` command: a thin layer over the Python API (bench.run, bench.leaderboard, bench.check)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.defaults import DEFAULT_BATCH_SECONDS, DEFAULT_SEEDS

EPILOG = """examples:
  bench run --encoder mfcc logmel --suite builtin-quick --leaderboard leaderboard
  bench run --encoder path/to/my_encoder.py:MyEncoder --tasks builtin-quick/keywords --device cuda --dtype bfloat16
  bench list tasks
  bench check mfcc
  bench validate builtin-quick
  bench leaderboard --results results --out leaderboard --suite builtin-quick
"""


ACCEPT_STALE_HELP = ("leaderboard: keep results of a task that differ only in task spec or protocol code (marked "
                     "with a dagger in the tables) instead of refusing them")

# What a user can cause and fix (bad task files, data, audio, encoder references, folders, checks): one line each.
# TaskSpecError, DatasetError, BadAudio, TaskInvalid and EncoderCheckFailed are ValueErrors, EncoderNotFound a
# KeyError, StorageError an OSError.
EXPECTED_ERRORS = (OSError, KeyError, ValueError)


def _cmd_run(args: argparse.Namespace) -> int:
    from bench.runner import run

    records = []
    for encoder in args.encoder:
        records += run(encoder, suite=args.suite, tasks=args.tasks, checkpoint=args.checkpoint, device=args.device,
                       dtype=args.dtype, out=args.out, seeds=args.seeds, layer=args.layer, cache_dir=args.cache,
                       batch_seconds=args.batch_seconds, on_bad_audio=args.on_bad_audio, data_seed=args.data_seed,
                       progress=not args.no_progress, force=args.force, check=not args.no_check, debug=args.debug,
                       shard=args.shard, executor=args.executor, workers=args.workers,
                       decode_workers=args.decode_workers)
    from bench.distributed import detect_world

    if detect_world(args.shard).rank != 0:  # rank 0 runs the protocols, writes results and reports
        return 0
    if args.leaderboard:
        from bench.leaderboard import write_leaderboard

        for path in write_leaderboard(Path(args.out), Path(args.leaderboard), suite=args.suite,
                                      accept_stale=args.accept_stale):
            print(f"[bench] wrote {path}")
    failed = [r for r in records if r.get("status") == "error"]
    print(f"[bench] summary: {len(records) - len(failed)} task result(s) ok, {len(failed)} failed", flush=True)
    for record in failed:
        print(f"    FAILED {record['encoder']['name']} on {record['task']['name']}: {record['error']}", flush=True)
    return 1 if failed else 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from bench.catalog import all_suites, resolve_tasks
    from bench.precheck import prepare_tasks

    suites = all_suites()
    chosen = []
    for name in args.names:
        for task in resolve_tasks(name, None) if name in suites else resolve_tasks(None, [name]):
            if task not in chosen:
                chosen.append(task)
    prepared = prepare_tasks(chosen, data_seed=args.data_seed, progress=not args.no_progress, debug=args.debug)
    failed = [p for p in prepared if p.error is not None]
    for entry in prepared:
        if entry.error is None:
            notes = f" ({len(entry.warnings)} warning(s))" if entry.warnings else ""
            print(f"ok      {entry.task.name}{notes}")
    print(f"[bench] {len(prepared) - len(failed)} task(s) valid, {len(failed)} invalid"
          + (f": {', '.join(p.task.name for p in failed)}" if failed else ""))
    return 1 if failed else 0


def _cmd_list(args: argparse.Namespace) -> int:
    if args.details:
        from bench.card import card_details
        from bench.registry import encoder_card

        print(card_details(encoder_card(args.details)))
    elif args.what == "tasks" and args.benchmark:
        from bench.prepare.status import catalog_status, format_status

        print(format_status(catalog_status(args.benchmark)))
    elif args.what == "tasks":
        from bench.catalog import all_tasks

        for name, task in sorted(all_tasks().items()):
            kinds = ", ".join(p.kind for p in task.protocols)
            print(f"{name:<40} v{task.version}  {task.domain:<15} {task.label_kind:<12} {kinds}")
    elif args.what == "suites":
        from bench.catalog import all_suites, all_tasks

        names = list(all_tasks())
        for name, suite in sorted(all_suites().items()):
            print(f"{name:<20} {sum(map(suite.matches, names)):>3} tasks  {suite.description}")
    else:
        from bench.card import card_table
        from bench.registry import encoder_cards

        print(card_table(encoder_cards()))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from bench.check import check_encoder, format_report
    from bench.registry import build_encoder

    encoder = build_encoder(args.encoder, checkpoint=args.checkpoint).load(args.device, args.dtype)
    results = check_encoder(encoder, long_input=args.long, reference=args.encoder, checkpoint=args.checkpoint)
    print(format_report(results))
    return 0 if all(r.passed for r in results) else 1


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from bench.leaderboard import write_leaderboard

    if args.html and not args.suite:
        raise ValueError("bench leaderboard --html needs --suite NAME (the page shows one suite)")
    for path in write_leaderboard(Path(args.results), Path(args.out), suite=args.suite, accept_stale=args.accept_stale):
        print(f"[bench] wrote {path}")
    if args.html:
        from bench.html import write_html

        for path in write_html(Path(args.results), Path(args.out), args.suite, accept_stale=args.accept_stale):
            print(f"[bench] wrote {path}")
    return 0


def _cmd_rescore(args: argparse.Namespace) -> int:
    import json

    from bench.rescore import rescore

    files = [p for name in args.results for p in (sorted(Path(name).rglob("*.json")) if Path(name).is_dir()
                                                  else [Path(name)])]
    differ = unsampled = 0
    for path in files:
        record = json.loads(path.read_text())
        if record.get("status", "ok") != "ok" or "schema_version" not in record:
            continue
        if not record.get("samples"):
            unsampled += 1
            print(f"{'-':>7}  {path}: no samples (made before samples existed; re-run it to rescore)")
            continue
        again = rescore(path)
        keys = ("per_seed", "metrics", "ci95", "main_score")
        changed = [f"{p['kind']}.{k}" for p, q in zip(record["protocols"], again["protocols"]) for k in keys
                   if p.get(k) != q.get(k)]
        differ += bool(changed)
        print(f"{'DIFFERS' if changed else 'ok':>7}  {path}" + (f": {', '.join(changed)}" if changed else ""))
    print(f"[bench] {len(files)} file(s) read; {differ} differ from their samples, {unsampled} have none")
    return 1 if differ else 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from bench.compare import compare, regressions, to_json, to_markdown

    comparisons, refused = compare(args.baseline, args.candidate, tolerance=args.tolerance, n_boot=args.n_boot)
    table = to_markdown(comparisons, refused, args.tolerance)
    print(table, end="")
    if args.markdown:
        Path(args.markdown).write_text(table)
    if args.json:
        Path(args.json).write_text(to_json(comparisons, refused, args.tolerance) + "\n")
    if not comparisons:
        print("bench: error: nothing could be compared", file=sys.stderr)
        return 2
    return 1 if regressions(comparisons) else 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from bench.builtin import ensure_builtin
    from bench.catalog import resolve_tasks

    done = set()
    for task in resolve_tasks(args.suite, args.tasks):
        ds = task.dataset
        if (ds.source, ds.name, ds.tier) in done:
            continue
        if ds.source == "builtin":
            print(ensure_builtin(ds.name, ds.tier, seed=args.data_seed))
        elif ds.source == "real":
            from bench.real import ensure_real

            print(ensure_real(ds.name, progress=not args.no_progress))
        done.add((ds.source, ds.name, ds.tier))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `bench` command."""
    parser = argparse.ArgumentParser(
        prog="bench", description="Benchmark audio encoders: probes, zero-shot transfer, retrieval, leaderboards.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of its one-line message")
    parser.add_argument("--quiet", action="store_true", help="show only warnings and errors, not progress messages")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="evaluate encoder(s) on a suite or tasks; write results JSON",
                         description="Extract (cached) embeddings, run each task's protocols, write "
                                     "<out>/<encoder>/<task>.json; optionally the leaderboard. Every task's data "
                                     "is loaded and validated first; a task that fails gets an error record, the "
                                     "others go on, and the exit status is 1.",
                         epilog="Task YAMLs are searched in the shipped tasks/ folder and in the folders listed in "
                                "$BENCH_TASKS_PATH (separated by ':', ';' on Windows); --tasks also takes YAML "
                                "paths.")
    run.add_argument("--encoder", nargs="+", required=True,
                     help="registered name(s) (see `bench list encoders`), path/to/file.py:Class or module:Class. "
                          "file.py:Class imports that file, so it runs that file's code: use only files you "
                          "trust. An encoder that is not registered passes the fast conformance checks before its "
                          "first run (once per configuration)")
    run.add_argument("--checkpoint", help="local checkpoint folder (or hub id) for wrappers that take one")
    run.add_argument("--suite", help="suite name (see `bench list suites`)")
    run.add_argument("--tasks", nargs="+", help="task names, name patterns (quoted globs) or task YAML paths")
    run.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    run.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    run.add_argument("--out", default="results", help="results folder (default ./results)")
    run.add_argument("--leaderboard", metavar="DIR", help="also write leaderboard CSV/Markdown into DIR")
    run.add_argument("--accept-stale", action="store_true", help=ACCEPT_STALE_HELP)
    run.add_argument("--seeds", nargs="+", type=int, default=list(DEFAULT_SEEDS),
                     help=f"probe seeds (default {' '.join(map(str, DEFAULT_SEEDS))})")
    run.add_argument("--layer", default="last",
                     help="last (default), mean (of all hidden layers), an index, or all: every layer in one pass "
                          "(pooled protocols per layer with a layer curve, the headline layer chosen on validation; "
                          "docs/scale.md). A run of another layer than the last is its own system: results under "
                          "<out>/<encoder>@layer-<layer>/, a row of its own in tables")
    run.add_argument("--cache", help="embedding cache folder (default $BENCH_HOME/cache)")
    run.add_argument("--batch-seconds", type=float, default=DEFAULT_BATCH_SECONDS,
                     help=f"padded audio per batch, in seconds (default {DEFAULT_BATCH_SECONDS:g})")
    run.add_argument("--on-bad-audio", choices=["error", "skip"], default="error",
                     help="stop on an unreadable/empty/NaN clip (default) or skip it and report it in the result")
    run.add_argument("--data-seed", type=int, default=0, help="seed of the generated built-in data (default 0)")
    run.add_argument("--force", action="store_true", help="recompute results even when up to date")
    run.add_argument("--shard", metavar="I/N", help="this process is worker I of N, sharing the extraction through "
                     "the cache (torchrun and Slurm set rank and world themselves; see docs/scale.md)")
    run.add_argument("--executor", choices=["slurm"], help="launch --workers workers as Slurm jobs via submitit "
                     "(pip install 'bench[slurm]'); rank 0's results are printed")
    run.add_argument("--workers", type=int, help="workers for --executor (default: CPU cores)")
    run.add_argument("--decode-workers", type=int,
                     help="threads decoding audio ahead of the encoder (default: CPU cores - 1, at most 8)")
    run.add_argument("--no-check", action="store_true",
                     help="skip the conformance checks of an unregistered encoder (recorded in each result)")
    run.add_argument("--no-progress", action="store_true",
                     help="hide progress bars (also those of transformers and datasets)")
    run.set_defaults(func=_cmd_run)

    lst = sub.add_parser("list", help="list tasks, suites or encoders")
    lst.add_argument("what", nargs="?", choices=["tasks", "suites", "encoders"], default="tasks")
    lst.add_argument("--details", metavar="ENCODER",
                     help="print one encoder's whole card (a registered name, file.py:Class or module:Class)")
    lst.add_argument("--benchmark", choices=["xares", "hear", "maeb"],
                     help="tasks: only that peer benchmark's catalog, with whether each task's data is prepared here")
    lst.set_defaults(func=_cmd_list)

    chk = sub.add_parser("check", help="run the encoder conformance suite (shapes, mask, padding, NaN, ...)")
    chk.add_argument("encoder")
    chk.add_argument("--checkpoint")
    chk.add_argument("--device", default="cpu")
    chk.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    chk.add_argument("--long", action="store_true", help="also feed 10 minutes of audio (slow)")
    chk.set_defaults(func=_cmd_check)

    lb = sub.add_parser("leaderboard", help="build leaderboard CSV and Markdown from results JSON")
    lb.add_argument("--results", default="results", help="results folder (default ./results)")
    lb.add_argument("--out", default="leaderboard", help="output folder (default ./leaderboard)")
    lb.add_argument("--suite", help="restrict to a suite's tasks")
    lb.add_argument("--accept-stale", action="store_true", help=ACCEPT_STALE_HELP)
    lb.add_argument("--html", action="store_true", help="also write <suite>.html (sortable table with 95%% CIs, "
                    "aggregates, rank statistics) and its SVG plots; needs --suite")
    lb.set_defaults(func=_cmd_leaderboard)

    val = sub.add_parser("validate", help="load and check tasks' data (no encoder); exit 1 on any problem",
                         description="Load each task's dataset and check it against the task (splits, labels, "
                                     "protocol configs) without loading an encoder; exit status 1 when any task "
                                     "has a problem.")
    val.add_argument("names", nargs="+", metavar="TASK|SUITE",
                     help="suite names, task names, name patterns (quoted globs) or task YAML paths")
    val.add_argument("--data-seed", type=int, default=0, help="seed of the generated built-in data (default 0)")
    val.add_argument("--no-progress", action="store_true", help="hide progress messages")
    val.set_defaults(func=_cmd_validate)

    cmp = sub.add_parser("compare", help="paired bootstrap of two results folders; exit 1 on a regression",
                         description="For each encoder x task in both folders, compare every protocol's main score "
                                     "on the shared test items by a paired bootstrap (the task's groups resampled "
                                     "whole). Verdict per task: regression, improvement or no change; exit status "
                                     "1 when a primary score's whole 95%% CI lies below -tolerance.")
    cmp.add_argument("baseline", help="results folder of the reference run (e.g. the committed results/)")
    cmp.add_argument("candidate", help="results folder of the run under test")
    cmp.add_argument("--tolerance", type=float, default=0.0,
                     help="allowed drop of a main score (in its units) before a regression counts (default 0; "
                          "at least 0.0005, half a unit of the third decimal scores are reported to)")
    cmp.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    cmp.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown (for a PR comment)")
    cmp.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    cmp.set_defaults(func=_cmd_compare)

    res = sub.add_parser("rescore", help="recompute results' scores from their samples; exit 1 if any differs",
                         description="Recompute every protocol's metrics, CIs and main score of each result from "
                                     "its .samples.jsonl.gz sidecar alone and compare them with the JSON.")
    res.add_argument("results", nargs="+", help="result JSON files or folders (searched recursively)")
    res.set_defaults(func=_cmd_rescore)

    gen = sub.add_parser("generate", help="generate the built-in datasets (or convert the installed real recordings) "
                                          "of a suite or tasks ahead of time")
    gen.add_argument("--suite")
    gen.add_argument("--tasks", nargs="+")
    gen.add_argument("--data-seed", type=int, default=0)
    gen.add_argument("--no-progress", action="store_true", help="hide progress messages")
    gen.set_defaults(func=_cmd_generate)

    from bench.cli_data import add_data_parser

    add_data_parser(sub)

    for command in sub.choices.values():  # --debug and --quiet also after the subcommand (bench run --debug ...)
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show the full traceback of an error instead of its one-line message")
        command.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                             help="show only warnings and errors, not progress messages")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `bench` console script."""
    args = build_parser().parse_args(argv)
    from bench.console import console, hide_library_progress_bars

    if getattr(args, "no_progress", False):
        hide_library_progress_bars()
    try:
        with console(quiet=args.quiet):
            return args.func(args)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    except EXPECTED_ERRORS as err:
        if args.debug:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"bench: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
