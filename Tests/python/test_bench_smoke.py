"""The Python benchmark runs (one repetition; timings are never asserted)."""
import pathlib
import subprocess
import sys


def test_python_benchmark_smoke_run():
    script = pathlib.Path(__file__).parents[2] / "bench" / "bench_python.py"
    done = subprocess.run([sys.executable, str(script), "--smoke"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "bce 2^20" in done.stdout and "ms-ssim" in done.stdout
