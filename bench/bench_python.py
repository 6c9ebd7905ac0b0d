"""Python-side benchmark: each simloss entry point against a plain numpy
implementation of the same loss (value and gradient), on an 8x3x256x256
float32 batch (and the cross-entropy workloads in float64 too, numpy's default
dtype), in one run. Reports milliseconds and the speed-up over numpy
(ratio of the medians, and "best": ratio of the fastest calls).

Usage: python3 bench/bench_python.py [--smoke] [--threads N]
"""
import argparse
import os
import time

# OpenBLAS's idle worker threads otherwise take 6-11% of the samples of a
# profile of this process, competing with simloss's threads; no baseline
# here calls BLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import simloss  # noqa: E402


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


def numpy_cross_entropy(x, y, grad, axis=1):
    """Categorical cross-entropy from logits, classes on `axis` (1, or -1 for
    channels last), mean over positions."""
    m = x.max(axis=axis, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=axis, keepdims=True)
    logp = x - m - np.log(s)
    index = np.expand_dims(y, axis)
    picked = np.take_along_axis(logp, index, axis=axis)
    v = -picked.mean(dtype=np.float64)
    if not grad:
        return v
    g = e / s
    np.put_along_axis(g, index, np.take_along_axis(g, index, axis=axis) - 1, axis=axis)
    return v, g / y.size


def numpy_nll_from_probs(q, p, axis, grad):
    """H(P, Q) per position, logs clamped at -100, mean over positions."""
    positions = q.size // q.shape[axis]
    v = -(p * np.maximum(np.log(q), -100)).sum(axis=axis).mean(dtype=np.float64)
    if not grad:
        return v
    return v, -p / q / positions


def numpy_bce_with_logits(x, y, grad):
    v = (np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))).mean(dtype=np.float64)
    if not grad:
        return v
    return v, (1 / (1 + np.exp(-x)) - y) / x.size


def skimage_ssim(x, y, grad):
    """scikit-image's SSIM of each image and channel, Gaussian 11/1.5,
    population covariance (the reference's settings)."""
    import skimage.metrics
    total = 0.0
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            r = skimage.metrics.structural_similarity(
                x[n, c], y[n, c], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                data_range=1.0, gradient=grad)
            total += r[0] if grad else r
    return total


def ssim_forward_flops(shape, win=11):
    """A model of SSIM's forward work as simloss does it: per valid output
    pixel, four moment images (x, y, x^2 + y^2, xy) through two separable
    passes of `win` multiply-adds (16 win flops), the products and their
    sum (4) and the map formula (about 22). Filtering five moments, as
    scikit-image does, would be 4 win flops more."""
    n, c, h, w = shape
    return n * c * (h - win + 1) * (w - win + 1) * (16 * win + 26)


def peak_gflops(threads):
    """Double-precision peak of the threads used: GHz from /proc/cpuinfo
    times 16 flops per cycle (two 4-wide FMA pipes, AVX2)."""
    try:
        with open("/proc/cpuinfo") as f:
            mhz = next(float(line.split(":")[1]) for line in f if line.startswith("cpu MHz"))
    except (OSError, StopIteration):
        return None
    return threads * mhz / 1000 * 16


def median_ms(f, reps):
    return paired_times_ms([f], reps)[0][0]


def paired_times_ms(fs, reps):
    """The (median, minimum) time of each function in ms, the functions
    called in turn in every repetition, so that a disturbance of the shared
    machine (another process on a core, a frequency change) falls on all of
    them rather than on whichever was being timed: their ratios are what
    this script reports. The medians' ratio is the headline; the minima's
    ("best") is the ratio with the least of the machine's noise in it (noise
    only ever adds time), as bench_cross_entropy also reports."""
    times = [[] for _ in fs]
    for _ in range(reps):
        for f, ts in zip(fs, times):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
    return [(sorted(ts)[len(ts) // 2] * 1e3, min(ts) * 1e3) for ts in times]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="0: the library's default (all processors)")
    args = parser.parse_args()
    reps = 1 if args.smoke else 15
    simloss.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = rng.random((8, 3, 256, 256), dtype=np.float32)
    y = rng.random((8, 3, 256, 256), dtype=np.float32)
    out = np.empty_like(x)
    logits = rng.standard_normal((8192, 1000), dtype=np.float32)
    labels = rng.integers(0, 1000, 8192)
    seg = rng.standard_normal((8, 21, 128, 128), dtype=np.float32)
    seg_labels = rng.integers(0, 21, (8, 128, 128))
    bx = rng.standard_normal(1 << 20, dtype=np.float32)
    by = (rng.random(1 << 20) > 0.5).astype(np.float32)
    out_logits, out_seg, out_b = np.empty_like(logits), np.empty_like(seg), np.empty_like(bx)
    seg_last = np.ascontiguousarray(seg.transpose(0, 2, 3, 1))
    out_last = np.empty_like(seg_last)
    # Probabilities for H(P, Q): Q strictly inside (0, 1), P normalised.
    probs = (rng.random(seg.shape, dtype=np.float32) * 0.98 + 0.01).astype(np.float32)
    probs_target = rng.random(seg.shape, dtype=np.float32)
    probs_target /= probs_target.sum(axis=1, keepdims=True)
    probs_last, probs_target_last = (np.ascontiguousarray(a.transpose(0, 2, 3, 1)) for a in (probs, probs_target))
    # Float64, numpy's default dtype: what a script that never casts passes.
    logits64, seg64, bx64, by64 = logits.astype(np.float64), seg.astype(np.float64), bx.astype(np.float64), \
        by.astype(np.float64)
    out_logits64, out_seg64, out_b64 = np.empty_like(logits64), np.empty_like(seg64), np.empty_like(bx64)
    s512x, s512y = rng.random((1, 3, 512, 512), dtype=np.float32), rng.random((1, 3, 512, 512), dtype=np.float32)
    s256x, s256y = x, y
    ms4x, ms4y = x[:4], y[:4]
    out_ms = np.empty_like(ms4x)
    cases = [
        ("l1", lambda g: simloss.l1(x, y, grad=g, out=out if g else None), lambda g: numpy_l1(x, y, g)),
        ("mse", lambda g: simloss.mse(x, y, grad=g, out=out if g else None), lambda g: numpy_mse(x, y, g)),
        ("tv", lambda g: simloss.tv(x, grad=g, out=out if g else None), lambda g: numpy_tv(x, g)),
        ("ce 8192x1000", lambda g: simloss.cross_entropy(logits, labels, grad=g, out=out_logits if g else None),
         lambda g: numpy_cross_entropy(logits, labels, g)),
        ("ce 8x21x128x128", lambda g: simloss.cross_entropy(seg, seg_labels, grad=g, out=out_seg if g else None),
         lambda g: numpy_cross_entropy(seg, seg_labels, g)),
        ("ce 8x128x128x21",
         lambda g: simloss.cross_entropy(seg_last, seg_labels, axis=-1, grad=g, out=out_last if g else None),
         lambda g: numpy_cross_entropy(seg_last, seg_labels, g, axis=-1)),
        ("bce 2^20", lambda g: simloss.binary_cross_entropy_with_logits(bx, by, grad=g, out=out_b if g else None),
         lambda g: numpy_bce_with_logits(bx, by, g)),
        ("probs 8x21x128x128",
         lambda g: simloss.cross_entropy_from_probs(probs, probs_target, grad=g, out=out_seg if g else None),
         lambda g: numpy_nll_from_probs(probs, probs_target, 1, g)),
        ("probs 8x128x128x21",
         lambda g: simloss.cross_entropy_from_probs(probs_last, probs_target_last, axis=-1, grad=g,
                                                    out=out_last if g else None),
         lambda g: numpy_nll_from_probs(probs_last, probs_target_last, -1, g)),
        ("ce64 8192x1000",
         lambda g: simloss.cross_entropy(logits64, labels, grad=g, out=out_logits64 if g else None),
         lambda g: numpy_cross_entropy(logits64, labels, g)),
        ("ce64 8x21x128x128",
         lambda g: simloss.cross_entropy(seg64, seg_labels, grad=g, out=out_seg64 if g else None),
         lambda g: numpy_cross_entropy(seg64, seg_labels, g)),
        ("bce64 2^20",
         lambda g: simloss.binary_cross_entropy_with_logits(bx64, by64, grad=g, out=out_b64 if g else None),
         lambda g: numpy_bce_with_logits(bx64, by64, g)),
        ("ssim 1x3x512x512", lambda g: simloss.ssim(s512x, s512y, grad=g), lambda g: skimage_ssim(s512x, s512y, g)),
        ("ssim 8x3x256x256", lambda g: simloss.ssim(s256x, s256y, grad=g, out=out if g else None),
         lambda g: skimage_ssim(s256x, s256y, g)),
    ]
    print(f"simloss {simloss.RUNTIME_VERSION} ({simloss.BUILD_INFO}), {simloss.get_num_threads()} thread(s); "
          f"numpy {np.__version__}; image losses on 8x3x256x256 float32, ce64/bce64 float64; median of {reps}, "
          "each loss timed in turn with its baseline; best = fastest baseline call / fastest simloss call")
    print("baseline: numpy written from the formulas; for ssim, scikit-image (gradient=True for fwd+bwd)")
    print(f"{'loss':18} {'pass':8} {'simloss ms':>11} {'base ms':>9} {'speed-up':>9} {'best':>7}")
    for name, ours, theirs in cases:
        for g in (False, True):
            (a, a_min), (b, b_min) = paired_times_ms([lambda: ours(g), lambda: theirs(g)], reps)
            print(f"{name:18} {'fwd+bwd' if g else 'forward':8} {a:11.3f} {b:9.3f} {b / a:8.1f}x "
                  f"{b_min / a_min:6.1f}x")
    # Throughput of the SSIM forward pass against the machine's peak.
    peak = peak_gflops(simloss.get_num_threads())
    for name, a, b in (("1x3x512x512", s512x, s512y), ("8x3x256x256", s256x, s256y)):
        t = median_ms(lambda: simloss.ssim(a, b), reps)
        gflops = ssim_forward_flops(a.shape) / (t * 1e-3) * 1e-9
        share = f", {100 * gflops / peak:.0f}% of the {peak:.0f} GFLOP/s double peak" if peak else ""
        print(f"ssim {name} forward: {gflops:.1f} GFLOP/s{share}")
    # MS-SSIM against our own SSIM on the same 4x3x256x256 batch.
    (ms, ms_min), (single, single_min) = paired_times_ms(
        [lambda: simloss.ms_ssim(ms4x, ms4y, grad=True, out=out_ms),
         lambda: simloss.ssim(ms4x, ms4y, grad=True, out=out_ms)], reps)
    print(f"ms-ssim 4x3x256x256 fwd+bwd {ms:.3f} ms = {ms / single:.2f}x simloss ssim fwd+bwd ({single:.3f} ms); "
          f"best {ms_min / single_min:.2f}x")
    simloss.set_num_threads(0)


if __name__ == "__main__":
    main()
