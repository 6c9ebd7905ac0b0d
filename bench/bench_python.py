"""Python-side benchmark: each simloss entry point against a plain numpy
implementation of the same loss (value and gradient), on an 8x3x256x256
float32 batch, in one run. Reports milliseconds and the speed-up over numpy.

Usage: python3 bench/bench_python.py [--smoke] [--threads N]
"""
import argparse
import time

import numpy as np

import simloss


def numpy_l1(x, y, grad):
    d = x - y
    v = np.abs(d).mean(dtype=np.float64)
    return (v, np.sign(d) / d.size) if grad else v


def numpy_mse(x, y, grad):
    d = x - y
    v = np.square(d).mean(dtype=np.float64)
    return (v, 2 * d / d.size) if grad else v


def numpy_tv(x, grad):
    dx = np.diff(x, axis=3)
    dy = np.diff(x, axis=2)
    v = (np.abs(dx).sum(dtype=np.float64) + np.abs(dy).sum(dtype=np.float64)) / x.shape[0]
    if not grad:
        return v
    g = np.zeros_like(x)
    sx, sy = np.sign(dx), np.sign(dy)
    g[..., :, :-1] -= sx
    g[..., :, 1:] += sx
    g[..., :-1, :] -= sy
    g[..., 1:, :] += sy
    return v, g / x.shape[0]


def median_ms(f, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2] * 1e3


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    reps = 1 if args.smoke else 15
    simloss.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = rng.random((8, 3, 256, 256), dtype=np.float32)
    y = rng.random((8, 3, 256, 256), dtype=np.float32)
    out = np.empty_like(x)
    cases = [
        ("l1", lambda g: simloss.l1(x, y, grad=g, out=out if g else None), lambda g: numpy_l1(x, y, g)),
        ("mse", lambda g: simloss.mse(x, y, grad=g, out=out if g else None), lambda g: numpy_mse(x, y, g)),
        ("tv", lambda g: simloss.tv(x, grad=g, out=out if g else None), lambda g: numpy_tv(x, g)),
    ]
    print(f"simloss {simloss.RUNTIME_VERSION} ({simloss.BUILD_INFO}), {simloss.get_num_threads()} thread(s); "
          f"numpy {np.__version__}; batch 8x3x256x256 float32; median of {reps}")
    print(f"{'loss':6} {'pass':8} {'simloss ms':>11} {'numpy ms':>9} {'speed-up':>9}")
    for name, ours, theirs in cases:
        for g in (False, True):
            a = median_ms(lambda: ours(g), reps)
            b = median_ms(lambda: theirs(g), reps)
            print(f"{name:6} {'fwd+bwd' if g else 'forward':8} {a:11.3f} {b:9.3f} {b / a:8.1f}x")
    simloss.set_num_threads(0)


if __name__ == "__main__":
    main()
