#!/usr/bin/env bash
# Regression check for CI: run a suite on a candidate encoder, then compare with baseline results by a paired
# bootstrap over the shared test items (`bench compare`). Exits 1 when a primary score regressed beyond the
# tolerance, 2 on errors, 0 otherwise. Used by .github/workflows/bench-regression.yml; runs the same locally.
#
#   scripts/bench_regression.sh ENCODER SUITE BASELINE_DIR [CANDIDATE_DIR]
#
# ENCODER: a registered name, path/to/file.py:Class or module:Class (a file's code runs: trust it).
# BASELINE_DIR: results of an earlier run (e.g. committed results/ of your main branch), with their
#   .samples.jsonl.gz sidecars.
# Environment: BENCH_TOLERANCE (default 0: any regression whose whole 95% CI is below 0 fails),
#   BENCH_REPORT (Markdown table, default bench-compare.md), BENCH_REPORT_JSON (default bench-compare.json),
#   BENCH_RUN_ARGS (extra `bench run` arguments, e.g. "--device cuda --seeds 0 1 2").
set -euo pipefail
if [ $# -lt 3 ]; then
    sed -n '5,13p' "$0" >&2
    exit 2
fi
encoder=$1 suite=$2 baseline=$3 candidate=${4:-bench-candidate}
report=${BENCH_REPORT:-bench-compare.md}
report_json=${BENCH_REPORT_JSON:-bench-compare.json}
# shellcheck disable=SC2086  # BENCH_RUN_ARGS is a list of words on purpose
bench run --encoder "$encoder" --suite "$suite" --out "$candidate" --no-progress ${BENCH_RUN_ARGS:-}
bench compare "$baseline" "$candidate" --tolerance "${BENCH_TOLERANCE:-0}" --markdown "$report" \
    --json "$report_json"
