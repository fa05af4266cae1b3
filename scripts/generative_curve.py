"""The frozen-LLM ASR learning curve: validation WER at every evaluation of the projector's training, per encoder.

Measure it by running the curve task (builtin-quick/sentences with 1500 steps, validation every 150 and no early
stop before the end) for the encoders to compare, then print the curve from their results:

    bench run --encoder whisper-base mfcc --tasks scripts/generative_curve.yaml --out curve-results
    python scripts/generative_curve.py curve-results/*/curve__sentences.json

Prints, per encoder, the validation WER at each evaluated step (one seed), the step validation chose, the test WER
of that checkpoint with its 95% CI, and seconds per step. Nothing is chosen on test.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def curve_rows(result: dict) -> tuple[list[tuple[int, float]], dict]:
    """([(step, validation score)], summary) of a generative result's first run."""
    proto = result["protocols"][0]
    run = proto["selected"]["runs"][0]
    summary = {"encoder": result["encoder"]["name"], "best_step": run["best_step"],
               "test": proto["main_score"]["value"], "ci95": proto["main_score"]["ci95"],
               "s_per_step": run["s_per_step"], "metric": proto["main_score"]["name"]}
    return [(e["step"], e["val_score"]) for e in run["evals"]], summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="result JSONs of the curve task")
    args = parser.parse_args()
    curves = [curve_rows(json.loads(p.read_text())) for p in args.results]
    steps = sorted({s for rows, _ in curves for s, _ in rows})
    print("| encoder | " + " | ".join(str(s) for s in steps) + " | chosen step | test (95% CI) | s/step |")
    print("|---|" + "---|" * (len(steps) + 3))
    for rows, info in curves:
        by_step = dict(rows)
        cells = [f"{by_step[s]:.2f}" if s in by_step else "-" for s in steps]
        low, high = info["ci95"]
        print(f"| {info['encoder']} | " + " | ".join(cells) + f" | {info['best_step']} | {info['test']:.2f} "
              f"[{low:.2f}, {high:.2f}] | {info['s_per_step']:.2f} |")
    print(f"\n(validation {curves[0][1]['metric']} at each step; test at the step validation chose)")


if __name__ == "__main__":
    main()
