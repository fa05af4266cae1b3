"""Cache storage and time of `--layer last` against `--layer all` for one encoder on the noisy-tone task of the tests
(tests/conftest.py: 3 classes, `--per-class` clips per class and split, 0.4-1.6 s each), in a scratch BENCH_HOME.

    python3 scripts/bench_layer_storage.py --encoder whisper-tiny-en --work /tmp/layer-storage
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", required=True, help="an encoder with hidden states, e.g. whisper-tiny-en")
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (data, cache, results)")
    parser.add_argument("--per-class", type=int, default=4, help="clips per class and split (default 4: 36 clips)")
    args = parser.parse_args()
    os.environ["BENCH_HOME"] = str(args.work / "home")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import numpy as np
    from conftest import write_task, write_tone_dataset

    import bench

    root = write_tone_dataset(args.work / "tones", per_class_split=args.per_class)
    task = write_task(args.work / "tasks", root, protocols=("linear", "knn"))
    report = {}
    for layer in ("last", "all"):
        record = bench.run(args.encoder, tasks=[str(task)], out=args.work / f"res-{layer}", seeds=[0, 1], layer=layer,
                           progress=False, check=False, force=True)[0]
        if record["status"] != "ok":
            raise SystemExit(f"--layer {layer}: {record['error']}")
        shards = sorted((args.work / "home" / "cache" / record["cache"]["key"]).glob("shard-*.npz"))
        arrays: dict[str, int] = {}
        for shard in shards:
            with np.load(shard) as data:
                for name in data.files:
                    arrays[name] = arrays.get(name, 0) + data[name].nbytes
        report[layer] = {
            "clips": record["n_samples"], "shard_file_bytes": sum(s.stat().st_size for s in shards),
            "array_bytes": arrays, "cache": record["cache"], "timing": record["timing"],
            "protocols": [{"label": p["kind"] + (f"[{p['config']['variant']}]" if p["config"].get("variant") else ""),
                           "layer": p.get("layer"), "main": p["main_score"]["value"],
                           "curve": [[c["layer"], c["validation"], c["test"]["value"]]
                                     for c in p.get("layer_curve", [])]}
                          for p in record["protocols"]]}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
