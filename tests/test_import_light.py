"""`import bench` and `bench --help` must not pull in torch or transformers; torchaudio must never be importable."""

import subprocess
import sys


def test_import_bench_is_light():
    code = ("import sys, bench, bench.cli, bench.taskspec, bench.catalog, bench.registry, bench.encoder; "
            "heavy = [m for m in ('torch', 'transformers', 'datasets', 'faiss', 'sklearn') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import bench pulled in: {out.stdout.strip()}"


def test_help_does_not_import_torch():
    code = ("import sys\nfrom bench.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_no_broken_torchaudio_installed():
    """A CUDA-linked torchaudio beside CPU torch breaks every transformers audio model import."""
    import importlib.util

    if importlib.util.find_spec("torchaudio") is None:
        return
    out = subprocess.run([sys.executable, "-c", "import torchaudio"], capture_output=True, text=True)
    assert out.returncode == 0, "torchaudio is installed but broken; `pip uninstall -y torchaudio`"
