"""Expected SSIM / MS-SSIM values for Tests/SimLossSSIMTests, from the float64 reference.

Run from the repository root:

    python3 Tests/SimLossSSIMTests/generate_reference.py > Tests/SimLossSSIMTests/ReferenceValues.swift

Every input is produced by the same exact integer generator in Python and Swift
(splitmix64, value = (z >> 11) * 2^-53 in [0, 1)), so both languages see the same
bits: x takes the first N*C*H*W values (NCHW order), v the next N*C*H*W, and
y = a * x + b * v, or y = 1 - x ("inverted"), each then multiplied by `scale`
(exact IEEE operations, evaluated in the same order in both languages).
The float32 expectations use the same pairs rounded to float32 first.

The values come from Tests/python/reference/ssim_reference.py (numpy, float64),
which its own test file checks against scikit-image 0.26 and the published
numbers. MS-SSIM with a uniform window or sample covariance (not options of
the reference's ms_ssim) is computed below from the reference's own helpers.
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "python" / "reference"))
import ssim_reference as ref  # noqa: E402

MASK = (1 << 64) - 1


def uniforms(seed, count):
    out = np.empty(count, dtype=np.float64)
    state = seed & MASK
    for i in range(count):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        out[i] = float(z >> 11) * 2.0 ** -53
    return out


def pair(shape, seed, kind, scale=1.0):
    count = int(np.prod(shape))
    u = uniforms(seed, 2 * count)
    x = u[:count]
    v = u[count:]
    if kind == "inverted":
        y = 1.0 - x
    else:
        a, b = kind
        y = a * x + b * v
    x = (x * scale).reshape(shape)
    y = (y * scale).reshape(shape)
    return x, y


def swift_list(values):
    return "[" + ", ".join(repr(float(v)) for v in np.ravel(values)) + "]"


# --------------------------------------------------------------------------
# SSIM cases: (name, shape, seed, kind, scale, reference kwargs, swift options)
# --------------------------------------------------------------------------
SSIM_CASES = [
    ("default_24", (1, 1, 24, 24), 1, (0.7, 0.3), 1.0, {}, ".init()"),
    ("default_batch", (2, 3, 32, 40), 2, (0.7, 0.3), 1.0, {}, ".init()"),
    ("odd_reflect", (1, 2, 23, 29), 3, (0.6, 0.4), 1.0, {"border": "reflect"}, ".init(border: .reflect)"),
    ("odd_zero", (1, 2, 23, 29), 4, (0.6, 0.4), 1.0, {"border": "zero"}, ".init(border: .zero)"),
    ("reflect_tiny", (1, 1, 4, 5), 5, (0.5, 0.5), 1.0, {"border": "reflect"}, ".init(border: .reflect)"),
    ("skimage_defaults", (2, 2, 21, 19), 6, (0.8, 0.2), 1.0,
     {"gaussian": False, "win_size": 7, "sample_covariance": True},
     ".init(windowSize: 7, gaussian: false, sampleCovariance: true)"),
    ("gaussian_sample_cov_255", (1, 3, 25, 22), 7, (0.5, 0.5), 255.0,
     {"data_range": 255.0, "sample_covariance": True, "win_size": 9, "sigma": 2.0},
     ".init(dataRange: 255, windowSize: 9, sigma: 2.0, sampleCovariance: true)"),
    ("uniform_reflect", (1, 1, 17, 30), 8, (0.9, 0.1), 1.0,
     {"gaussian": False, "win_size": 5, "border": "reflect"},
     ".init(windowSize: 5, gaussian: false, border: .reflect)"),
    ("constants", (1, 1, 20, 20), 9, (0.3, 0.7), 1.0, {"k1": 1e-5, "k2": 1e-5},
     ".init(k1: 1e-5, k2: 1e-5)"),
    ("window_1", (1, 1, 6, 7), 10, (0.5, 0.5), 1.0, {"win_size": 1}, ".init(windowSize: 1)"),
    ("luma", (2, 3, 20, 26), 11, (0.7, 0.3), 1.0, {"luma": True}, ".init(luma: true)"),
    ("luma_255_zero", (1, 3, 19, 18), 12, (0.6, 0.4), 255.0,
     {"luma": True, "data_range": 255.0, "border": "zero"},
     ".init(dataRange: 255, border: .zero, luma: true)"),
    ("matlab_400", (1, 1, 400, 400), 13, (0.7, 0.3), 255.0, {"downsample": True, "data_range": 255.0},
     ".init(dataRange: 255, matlabDownsample: true)"),
    ("matlab_odd", (1, 1, 401, 397), 14, (0.7, 0.3), 1.0, {"downsample": True, "border": "reflect"},
     ".init(border: .reflect, matlabDownsample: true)"),
    ("matlab_f3", (1, 1, 640, 643), 15, (0.7, 0.3), 1.0, {"downsample": True, "win_size": 7},
     ".init(windowSize: 7, matlabDownsample: true)"),
    ("matlab_small", (1, 1, 383, 390), 16, (0.7, 0.3), 1.0, {"downsample": True},
     ".init(matlabDownsample: true)"),
]

# --------------------------------------------------------------------------
# MS-SSIM cases: (name, shape, seed, kind, scale, settings, swift options)
# settings: data_range, win_size, weights, relu, floor, downsample, luma,
#           gaussian, sample_covariance
# --------------------------------------------------------------------------
MS_CASES = [
    ("ms_161", (1, 1, 161, 161), 21, (0.7, 0.3), 1.0, {}, ".init()"),
    ("ms_odd", (1, 2, 170, 183), 22, (0.6, 0.4), 1.0, {}, ".init()"),
    ("ms_odd_200", (2, 1, 199, 200), 23, (0.8, 0.2), 1.0, {}, ".init()"),
    ("ms_relu_floor0", (1, 1, 176, 165), 24, "inverted", 1.0, {"floor": 0.0},
     ".init(floor: 0)"),
    ("ms_relu_floor", (1, 1, 176, 165), 24, "inverted", 1.0, {},
     ".init()"),
    ("ms_three_levels", (1, 2, 40, 45), 25, (0.7, 0.3), 1.0,
     {"win_size": 7, "weights": (0.2, 0.3, 0.5)},
     ".init(ssim: .init(windowSize: 7), weights: [0.2, 0.3, 0.5])"),
    ("ms_luma", (1, 3, 161, 165), 26, (0.7, 0.3), 255.0, {"luma": True, "data_range": 255.0},
     ".init(ssim: .init(dataRange: 255, luma: true))"),
    ("ms_matlab", (1, 1, 400, 400), 27, (0.7, 0.3), 1.0, {"downsample": True},
     ".init(ssim: .init(matlabDownsample: true))"),
    ("ms_banded", (1, 1, 521, 530), 29, (0.7, 0.3), 1.0, {}, ".init()"),
    ("ms_banded_matlab", (1, 1, 600, 1200), 30, (0.7, 0.3), 1.0, {"downsample": True},
     ".init(ssim: .init(matlabDownsample: true))"),
    ("ms_uniform_samplecov", (1, 1, 60, 62), 28, (0.7, 0.3), 1.0,
     {"gaussian": False, "sample_covariance": True, "win_size": 5, "weights": (0.3, 0.3, 0.4)},
     ".init(ssim: .init(windowSize: 5, gaussian: false, sampleCovariance: true), weights: [0.3, 0.3, 0.4])"),
]


def ms_ssim_general(x, y, data_range=1.0, win_size=11, sigma=1.5, k1=0.01, k2=0.03,
                    weights=ref.MS_SSIM_WEIGHTS, relu=True, floor=1e-6, downsample=False,
                    luma=False, gaussian=True, sample_covariance=False):
    """ref.ms_ssim with simloss's extra options (floor, luma, window kind, covariance)."""
    if luma:
        x = ref.rgb_to_luma(x, data_range)
        y = ref.rgb_to_luma(y, data_range)
    if gaussian and not sample_covariance and floor == 0.0:
        return ref.ms_ssim(x, y, data_range=data_range, win_size=win_size, sigma=sigma, k1=k1, k2=k2,
                           weights=weights, relu=relu, downsample=downsample)["per_image"]
    if downsample:
        f = ref.matlab_downsample_factor(x.shape[-2], x.shape[-1])
        x = ref.matlab_downsample(x, f)
        y = ref.matlab_downsample(y, f)
    taps = ref.gaussian_window(win_size, sigma) if gaussian else ref.uniform_window(win_size)
    cov = win_size ** 2 / (win_size ** 2 - 1.0) if sample_covariance else 1.0
    w = np.asarray(weights, dtype=np.float64)
    levels = w.size
    terms = []
    for j in range(levels):
        if j > 0:
            x = ref.msssim_downsample(x)
            y = ref.msssim_downsample(y)
        s, cs = ref._ssim_maps(x, y, taps, (2, 3), data_range, k1, k2, cov)
        terms.append((cs if j < levels - 1 else s).mean(axis=(2, 3)))
    terms = np.stack(terms, axis=-1)
    if relu:
        terms = np.maximum(terms, floor)
    with np.errstate(invalid="ignore"):
        per_channel = np.prod(terms ** w, axis=-1)
    return per_channel.mean(axis=1)


def main():
    out = []
    w = out.append
    w("// Generated by: python3 Tests/SimLossSSIMTests/generate_reference.py"
      " > Tests/SimLossSSIMTests/ReferenceValues.swift")
    w("// Do not edit: change the generator and run it again.")
    w(f"// numpy {np.__version__}; values from Tests/python/reference/ssim_reference.py (float64).")
    w("")
    w("import SimLossCore")
    w("")
    w("/// One SSIM expectation: the inputs (see `TestPair`), the options, and the")
    w("/// reference's per-image values, per-channel means and per-channel mean cs,")
    w("/// for the float64 pair and for the same pair rounded to float32.")
    w("struct SSIMReferenceCase: Sendable, CustomStringConvertible {")
    w("  let name: String")
    w("  let pair: TestPair")
    w("  let options: SSIMOptions")
    w("  let perImage: [Double]")
    w("  let perChannel: [Double]")
    w("  let cs: [Double]")
    w("  let perImageFloat32: [Double]")
    w("  let mapShape: [Int]")
    w("  let mapSum: Double")
    w("  var description: String { name }")
    w("}")
    w("")
    w("/// One MS-SSIM expectation, float64 and float32 pairs.")
    w("struct MSSSIMReferenceCase: Sendable, CustomStringConvertible {")
    w("  let name: String")
    w("  let pair: TestPair")
    w("  let options: MSSSIMOptions")
    w("  let perImage: [Double]")
    w("  let perImageFloat32: [Double]")
    w("  var description: String { name }")
    w("}")
    w("")

    def pair_literal(shape, seed, kind, scale):
        if kind == "inverted":
            k = ".inverted"
        else:
            k = f".mixed({kind[0]!r}, {kind[1]!r})"
        return f"TestPair(shape: {list(shape)}, seed: {seed}, kind: {k}, scale: {scale!r})"

    w("let ssimReferenceCases: [SSIMReferenceCase] = [")
    for name, shape, seed, kind, scale, kwargs, swift in SSIM_CASES:
        x, y = pair(shape, seed, kind, scale)
        r = ref.ssim(x, y, return_map=True, **kwargs)
        x32 = x.astype(np.float32).astype(np.float64)
        y32 = y.astype(np.float32).astype(np.float64)
        r32 = ref.ssim(x32, y32, **kwargs)
        w("  SSIMReferenceCase(")
        w(f"    name: \"{name}\",")
        w(f"    pair: {pair_literal(shape, seed, kind, scale)},")
        w(f"    options: {swift},")
        w(f"    perImage: {swift_list(r['per_image'])},")
        w(f"    perChannel: {swift_list(r['per_channel'])},")
        w(f"    cs: {swift_list(r['cs_per_channel'])},")
        w(f"    perImageFloat32: {swift_list(r32['per_image'])},")
        w(f"    mapShape: {list(r['map'].shape)},")
        w(f"    mapSum: {float(r['map'].sum())!r}),")
    w("]")
    w("")
    w("let msSSIMReferenceCases: [MSSSIMReferenceCase] = [")
    for name, shape, seed, kind, scale, settings, swift in MS_CASES:
        x, y = pair(shape, seed, kind, scale)
        v = ms_ssim_general(x, y, **settings)
        x32 = x.astype(np.float32).astype(np.float64)
        y32 = y.astype(np.float32).astype(np.float64)
        v32 = ms_ssim_general(x32, y32, **settings)
        w("  MSSSIMReferenceCase(")
        w(f"    name: \"{name}\",")
        w(f"    pair: {pair_literal(shape, seed, kind, scale)},")
        w(f"    options: {swift},")
        w(f"    perImage: {swift_list(v)},")
        w(f"    perImageFloat32: {swift_list(v32)}),")
    w("]")
    w("")
    # The generator itself, for the Swift twin's test.
    w("/// splitmix64(seed 42), the first four values: checks the Swift generator.")
    w(f"let generatorCheck: [Double] = {swift_list(uniforms(42, 4))}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
