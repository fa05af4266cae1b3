"""Reproducibility across CPU kernels: the same `bench run` under several kernel choices of one machine.

Each configuration runs in its own process with `ATEN_CPU_CAPABILITY` (torch's vector kernels: default, avx2,
avx512), `OPENBLAS_CORETYPE` (numpy's BLAS kernels) and the thread count set, into its own results folder, and
the scores are compared with the first configuration's: every protocol's main score, and how many differ at the
third decimal. By default the configurations share one embedding cache, so only the protocols (training,
selection, scoring) are compared; `--fresh-cache` gives each its own BENCH_HOME, so extraction and data generation
run under each kernel too.

    python scripts/repro_kernels.py --encoders logmel mfcc --suite builtin-quick --out /tmp/repro
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = {
    "avx2-2threads": {"ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "2"},
    "default-1thread": {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Prescott"},
    "avx2-1thread": {"ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Haswell"},
    "avx512-2threads": {"ATEN_CPU_CAPABILITY": "avx512", "OMP_NUM_THREADS": "2", "OPENBLAS_CORETYPE": "SkylakeX"},
}
# AVX-512 kernels die with SIGILL on a CPU without them: offered only where /proc/cpuinfo lists avx512f.
SUPPORTED = [name for name in CONFIGS if "avx512" not in name
             or "avx512f" in Path("/proc/cpuinfo").read_text(errors="ignore")]


def scores(folder: Path) -> dict[tuple[str, str, int], float]:
    """(encoder, task, protocol index) -> main score of every result under `folder`."""
    out = {}
    for path in sorted(folder.rglob("*.json")):
        record = json.loads(path.read_text())
        if record.get("status", "ok") != "ok" or "protocols" not in record:
            continue
        for index, proto in enumerate(record["protocols"]):
            out[(record["encoder"]["name"], record["task"]["name"], index)] = proto["main_score"]["value"]
    return out


def run_config(name: str, env_changes: dict[str, str], args: argparse.Namespace) -> tuple[Path, float, str]:
    """Run the job under one kernel configuration; returns (results folder, seconds, capability reported)."""
    out = Path(args.out) / name
    env = {**os.environ, **env_changes}
    if args.fresh_cache:
        env["BENCH_HOME"] = str(Path(args.out) / f"home-{name}")
    tick = time.perf_counter()
    cmd = [sys.executable, "-m", "bench.cli", "run", "--encoder", *args.encoders, "--suite", args.suite,
           "--out", str(out), "--no-progress", "--force"]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                           env=env, capture_output=True, text=True, check=True)
    return out, time.perf_counter() - tick, probe.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoders", nargs="+", default=["logmel", "mfcc"])
    parser.add_argument("--suite", default="builtin-quick")
    parser.add_argument("--out", default="/tmp/bench-repro")
    parser.add_argument("--configs", nargs="+", default=SUPPORTED, choices=SUPPORTED)
    parser.add_argument("--fresh-cache", action="store_true", help="a BENCH_HOME per configuration")
    args = parser.parse_args()

    runs = {name: run_config(name, CONFIGS[name], args) for name in args.configs}
    reference_name = args.configs[0]
    reference = scores(runs[reference_name][0])
    print(f"reference: {reference_name} ({len(reference)} protocol scores)")
    print("| configuration | capability | seconds | scores differing at 3 decimals | max abs difference |")
    print("|---|---|---|---|---|")
    for name, (folder, seconds, capability) in runs.items():
        other = scores(folder)
        shared = sorted(set(reference) & set(other))
        diffs = [abs(reference[k] - other[k]) for k in shared]
        differing = [k for k in shared if round(reference[k], 3) != round(other[k], 3)]
        print(f"| {name} | {capability} | {seconds:.0f} | {len(differing)} of {len(shared)} | "
              f"{max(diffs, default=0.0):.4g} |")
        for key in differing:
            print(f"    {key[0]} {key[1]} protocol {key[2]}: {reference[key]:.4f} vs {other[key]:.4f}")


if __name__ == "__main__":
    main()
