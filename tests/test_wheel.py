"""A non-editable install ships encoders/ and tasks/: build the wheel, install it into a fresh venv, list."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_and_lists_from_outside_the_repo(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("bench-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "bench/encoders/baselines.py" in names
    assert "bench/builtin/data/languages.json" in names  # the speech generators' text tables
    assert any(n.startswith("bench/tasks/suites/") and n.endswith(".yaml") for n in names)
    # the venv sees the already-installed dependencies (no network) but gets bench only from the wheel
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run([str(python), "-c", "import bench; print(bench.__file__)"], cwd=outside,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert str(venv) in where, f"bench was imported from {where}, not the wheel"
    for what, expected in (("encoders", "mfcc"), ("suites", "builtin-quick")):
        out = subprocess.run([str(venv / "bin" / "bench"), "list", what], cwd=outside, capture_output=True,
                             text=True, check=True)
        assert expected in out.stdout
