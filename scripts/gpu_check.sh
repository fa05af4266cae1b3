#!/usr/bin/env bash
# One GPU check, under 10 minutes on one CUDA machine, writing one JSON of figures:
#   1. `bench check` for every registered encoder on cuda in bfloat16 (each capped at CHECK_TIMEOUT s)
#   2. harness / bare-forward throughput (scripts/bench_extract.py) for two encoders on cuda
#   3. a 2-process nccl extraction with torchrun (skipped, and said so, with fewer than 2 GPUs)
#   4. a linear probe on random 200k x 1280 features, 50 classes, 100 epochs, on cuda (and its wall time), bare
#      torch and through bench's protocol (scripts/bench_probe.py)
#   5. GPU retrieval (scripts/bench_retrieval.py) and GPU kNN
#
#   scripts/gpu_check.sh [--dry-run] [OUTPUT.json]      (default: $OUT/gpu_check.json, else ./gpu_check.json)
#
# --dry-run prints the steps and exits without running anything (works without CUDA).
# Environment: ENCODERS (default "whisper-base wav2vec2-base"), CHECK_TIMEOUT (default 60 s per encoder),
# CHECK_BUDGET (default 240 s for all checks), PYTHON (python3).
set -euo pipefail

DRY_RUN=0
if [[ "${1:-}" == "--dry-run" ]]; then DRY_RUN=1; shift; fi
OUTPUT="${1:-${OUT:-.}/gpu_check.json}"
PYTHON="${PYTHON:-python3}"
ENCODERS="${ENCODERS:-whisper-base wav2vec2-base}"
CHECK_TIMEOUT="${CHECK_TIMEOUT:-60}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d)"
export BENCH_HOME="${BENCH_HOME:-$WORK/home}"

steps=(
  "check: bench check <every registered encoder> --device cuda --dtype bfloat16 (timeout ${CHECK_TIMEOUT}s each)"
  "throughput: $PYTHON $HERE/bench_extract.py --encoders $ENCODERS --clips 400 --device cuda --repeats 3"
  "nccl: torchrun --standalone --nproc-per-node 2 -m bench.cli run --encoder mfcc --tasks builtin-quick/gender --device cuda"
  "probe: linear probe, 200k x 1280 features, 50 classes, 100 epochs, batch 4096, on cuda (bare torch, then $PYTHON $HERE/bench_probe.py)"
  "retrieval: $PYTHON $HERE/bench_retrieval.py --n-gallery 100000 --n-queries 1000; kNN on cuda"
)
if (( DRY_RUN )); then
  printf 'gpu_check.sh would run (output %s):\n' "$OUTPUT"
  printf '  %s\n' "${steps[@]}"
  exit 0
fi

if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "gpu_check.sh: no CUDA device visible to torch (torch.cuda.is_available() is False); run it on a GPU machine" >&2
  exit 2
fi
N_GPUS="$("$PYTHON" -c "import torch; print(torch.cuda.device_count())")"
mkdir -p "$(dirname "$OUTPUT")"
trap 'rm -rf "$WORK"' EXIT

# 1. conformance on cuda / bfloat16, within CHECK_BUDGET seconds in all (the rest are listed as not run)
: > "$WORK/check.jsonl"
budget_end=$(( $(date +%s) + ${CHECK_BUDGET:-240} ))
for enc in $("$PYTHON" -c "from bench.registry import registered; print(' '.join(sorted(registered())))"); do
  if (( $(date +%s) >= budget_end )); then
    printf '{"encoder": "%s", "status": "not run: CHECK_BUDGET spent"}\n' "$enc" >> "$WORK/check.jsonl"; continue
  fi
  start=$(date +%s.%N)
  if timeout "$CHECK_TIMEOUT" "$PYTHON" -m bench.cli check "$enc" --device cuda --dtype bfloat16 > "$WORK/check-$enc.log" 2>&1; then
    status=passed; else status="failed_rc_$?"; fi
  end=$(date +%s.%N)
  printf '{"encoder": "%s", "status": "%s", "seconds": %s}\n' "$enc" "$status" "$(echo "$end - $start" | bc)" >> "$WORK/check.jsonl"
done

# 2. harness / bare throughput
# shellcheck disable=SC2086
timeout 240 "$PYTHON" "$HERE/bench_extract.py" --encoders $ENCODERS --clips 400 --device cuda --repeats 3 \
  --json "$WORK/throughput.json" > "$WORK/throughput.log" 2>&1 || echo '{"error": "bench_extract failed or timed out"}' > "$WORK/throughput.json"

# 3. 2-process nccl extraction
if (( N_GPUS >= 2 )); then
  start=$(date +%s.%N)
  if timeout 180 "$PYTHON" -m torch.distributed.run --standalone --nproc-per-node 2 -m bench.cli run --encoder mfcc \
      --tasks builtin-quick/gender --device cuda --out "$WORK/nccl-res" --cache "$WORK/nccl-cache" --no-progress \
      > "$WORK/nccl.log" 2>&1; then status=ok; else status="failed_rc_$?"; fi
  end=$(date +%s.%N)
  printf '{"status": "%s", "gpus": %s, "seconds": %s}\n' "$status" "$N_GPUS" "$(echo "$end - $start" | bc)" > "$WORK/nccl.json"
else
  printf '{"status": "skipped: %s GPU(s), need 2", "gpus": %s}\n' "$N_GPUS" "$N_GPUS" > "$WORK/nccl.json"
fi

# 4 + 5. GPU probe, kNN and retrieval
timeout 240 "$PYTHON" - "$WORK" > "$WORK/protocols.log" 2>&1 <<'EOF' || echo '{"error": "protocol timings failed"}' > "$WORK/protocols.json"
import json, sys, time
import numpy as np
import torch

work = sys.argv[1]
figures = {"device": torch.cuda.get_device_name(0)}
gen = torch.Generator(device="cuda").manual_seed(0)
for dtype in (torch.float32, torch.float64):
    x = torch.randn(200_000, 1280, device="cuda", dtype=dtype, generator=gen)
    y = torch.randint(0, 50, (200_000,), device="cuda", generator=gen)
    model = torch.nn.Linear(1280, 50, device="cuda", dtype=dtype)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.cuda.synchronize(); tick = time.perf_counter()
    for _ in range(100):
        for batch in torch.randperm(len(x), device="cuda", generator=gen).split(4096):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
    torch.cuda.synchronize()
    figures[f"linear_probe_200k_x1280_50cls_100ep_{str(dtype).split('.')[-1]}_s"] = round(time.perf_counter() - tick, 2)
from bench.protocols.knn import knn_predict
from bench.protocols.training import on_device
g = np.random.default_rng(0).standard_normal((100_000, 384)); g /= np.linalg.norm(g, axis=1, keepdims=True)
q = g[:5_000] + 0.1
labels = np.random.default_rng(1).integers(0, 50, len(g))
for device in ("cpu", "cuda"):
    with on_device(device):
        tick = time.perf_counter()
        knn_predict(g, labels, q, 10, 0.07, "multiclass", 50)
        figures[f"knn_100k_gallery_5k_queries_{device}_s"] = round(time.perf_counter() - tick, 2)
json.dump(figures, open(f"{work}/protocols.json", "w"))
EOF
timeout 120 "$PYTHON" "$HERE/bench_retrieval.py" --n-gallery 100000 --n-queries 1000 > "$WORK/retrieval.log" 2>&1 || true
# the same probe through bench's own protocol path (standardising, batched lr grid x seeds, bootstrap)
timeout 180 "$PYTHON" "$HERE/bench_probe.py" --n 200000 --dim 1280 --classes 50 --epochs 100 --batch-size 4096 \
  --device cuda > "$WORK/bench_probe.log" 2>&1 || echo "bench_probe failed or timed out" >> "$WORK/bench_probe.log"

"$PYTHON" - "$WORK" "$OUTPUT" <<'EOF'
import json, pathlib, sys
work, output = pathlib.Path(sys.argv[1]), sys.argv[2]
def load(name):
    try:
        return json.loads((work / name).read_text())
    except (FileNotFoundError, json.JSONDecodeError) as err:
        return {"error": f"{name}: {err}"}
report = {
    "check": [json.loads(line) for line in (work / "check.jsonl").read_text().splitlines() if line.strip()],
    "throughput": load("throughput.json"),
    "nccl_extraction": load("nccl.json"),
    "protocols": load("protocols.json"),
    "retrieval_log": (work / "retrieval.log").read_text()[-4000:] if (work / "retrieval.log").exists() else None,
    "bench_probe_log": (work / "bench_probe.log").read_text()[-4000:] if (work / "bench_probe.log").exists() else None,
}
pathlib.Path(output).write_text(json.dumps(report, indent=1))
print(f"gpu_check: wrote {output}")
EOF
