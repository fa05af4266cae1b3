"""Cross-process reproducibility for `bench check`: build the encoder from its reference in fresh Python processes.

An unseeded random layer gets new weights in every process while the weights hash stays the same, so cached
embeddings from two runs would not agree. Each fresh process builds the encoder from the reference string, loads it
on the CPU in float32, encodes the same seeded clips and writes the valid frames to a .npy file.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

PROCESS_TIMEOUT_S = 1800
_SCRIPT = ("import sys; from bench.check_process import write_reference_frames; "
           "write_reference_frames(sys.argv[1], sys.argv[2] or None, sys.argv[3])")


def write_reference_frames(reference: str, checkpoint: str | None, out_path: str) -> None:
    """Build `reference` on the CPU, encode three seeded clips of prime lengths, save their valid frames (.npy)."""
    import numpy as np

    from bench.check_signals import prime_at_most
    from bench.extract import encode_rows
    from bench.registry import build_encoder

    encoder = build_encoder(reference, checkpoint=checkpoint).load("cpu", "float32")
    rng = np.random.default_rng(1234)
    longest = encoder.max_seconds or float("inf")
    lengths = [prime_at_most(int(min(s, longest) * encoder.sample_rate)) for s in (0.7, 1.3, 2.1)]
    rows = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in lengths]
    np.save(out_path, np.concatenate(encode_rows(encoder, rows, "last")))


def frames_in_fresh_process(reference: str, checkpoint: str | None, folder: Path, name: str) -> np.ndarray:
    """Run write_reference_frames in a new Python process; raises RuntimeError with its last stderr line."""
    import numpy as np

    out_path = folder / f"{name}.npy"
    done = subprocess.run([sys.executable, "-c", _SCRIPT, reference, checkpoint or "", str(out_path)],
                          capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"building '{reference}' in a fresh process failed: {last}")
    return np.load(out_path)


def check_fresh_processes(reference: str | None, checkpoint: str | None, tol: float) -> tuple[bool, str]:
    """Build the encoder twice in fresh processes; the frames must agree within `tol` (relative max-abs)."""
    import numpy as np

    if reference is None:
        return True, "not run: no reference (pass the encoder's reference, e.g. `bench check my.py:Enc`)"
    with tempfile.TemporaryDirectory(prefix="bench-check-") as folder:
        first, second = (frames_in_fresh_process(reference, checkpoint, Path(folder), name) for name in "ab")
    if first.shape != second.shape:
        return False, f"two fresh processes gave frames of shapes {first.shape} and {second.shape}"
    err = float(np.abs(first - second).max()) / max(float(np.abs(second).max()), 1e-6) if first.size else 0.0
    detail = (f"'{reference}' built in two fresh processes: frames differ by {err:.3g} (relative max-abs; "
              f"tolerance {tol:g})")
    if err > tol:
        return False, f"{detail}; seed every random initialisation or load fixed weights"
    return True, detail
