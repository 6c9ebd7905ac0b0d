"""simloss.ssim and simloss.ms_ssim against the float64 numpy reference
(reference/ssim_reference.py), scikit-image, the published values of
conventions.md, and central differences."""
import numpy as np
import pytest
import skimage.data
import skimage.metrics

import simloss
import ssim_reference as ref


@pytest.fixture(scope="module")
def camera_pair():
    cam = skimage.data.camera()
    noisy = np.clip(cam + 20 * np.random.RandomState(5).randn(*cam.shape), 0, 255).astype(np.uint8)
    return cam.astype(np.float64)[None, None], noisy.astype(np.float64)[None, None]


def test_ssim_camera_published_value(camera_pair):
    x, y = camera_pair
    assert simloss.ssim(x, y, data_range=255) == pytest.approx(0.3579642362, abs=1e-9)
    assert simloss.ssim(x.astype(np.float32), y.astype(np.float32), data_range=255) == pytest.approx(0.3579642362, abs=3e-6)


def test_ssim_camera_matlab_downsampling_published_value(camera_pair):
    x, y = camera_pair
    assert simloss.ssim(x, y, data_range=255, downsample=True) == pytest.approx(0.6244639496, abs=1e-9)


def test_ms_ssim_camera_published_value(camera_pair):
    x, y = camera_pair
    assert simloss.ms_ssim(x, y, data_range=255) == pytest.approx(0.7933915443, abs=1e-9)


def test_ssim_matches_skimage(camera_pair):
    x, y = camera_pair
    expected = skimage.metrics.structural_similarity(
        x[0, 0], y[0, 0], gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    assert simloss.ssim(x, y, data_range=255) == pytest.approx(expected, abs=1e-12)
    expected7 = skimage.metrics.structural_similarity(x[0, 0], y[0, 0], data_range=255)
    got7 = simloss.ssim(x, y, data_range=255, gaussian=False, win_size=7, sample_covariance=True)
    assert got7 == pytest.approx(expected7, abs=1e-12)


def test_dm_pix_ramp_gives_minus_one():
    ramp = np.tile(np.linspace(-1, 1, 11), (11, 1))[None, None]
    assert simloss.ssim(ramp, -ramp, k1=1e-5, k2=1e-5) == pytest.approx(-1, abs=1e-6)


def test_mirrored_ramp_is_negative():
    ramp = np.tile(np.arange(0, 256, 16, dtype=np.float64), (16, 1))[None, None]
    assert simloss.ssim(ramp, ramp[..., ::-1], data_range=255) < 0


OPTIONS = [
    dict(),
    dict(border="reflect"),
    dict(border="zero"),
    dict(gaussian=False, win_size=7, sample_covariance=True),
    dict(win_size=7, sigma=1.0),
    dict(luma=True, data_range=1.0),
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 3e-6)])
def test_ssim_matches_reference(options, dtype, tol):
    rng = np.random.default_rng(3)
    x = rng.random((2, 3, 40, 37))
    y = np.clip(x + 0.2 * rng.standard_normal(x.shape), 0, 1)
    x, y = x.astype(dtype), y.astype(dtype)
    ref_opts = {("gaussian" if k == "gaussian" else k): v for k, v in options.items()}
    expected = ref.ssim(x.astype(np.float64), y.astype(np.float64), **ref_opts)
    got, (per_channel, cs) = simloss.ssim(x, y, reduction="none", channels=True, **options)
    np.testing.assert_allclose(got, expected["per_image"], atol=tol)
    np.testing.assert_allclose(per_channel, expected["per_channel"], atol=tol)
    np.testing.assert_allclose(cs, expected["cs_per_channel"], atol=tol)
    _, ssim_map = simloss.ssim(x, y, full=True, **options)
    full = ref.ssim(x.astype(np.float64), y.astype(np.float64), return_map=True, **ref_opts)
    np.testing.assert_allclose(ssim_map, full["map"], atol=tol * 10)


@pytest.mark.parametrize("options", [dict(), dict(border="reflect"), dict(luma=True), dict(gaussian=False, win_size=5)])
def test_ssim_gradient_matches_central_differences(options):
    rng = np.random.default_rng(4)
    x = rng.random((1, 3, 14, 15))
    y = rng.random((1, 3, 14, 15))
    opts = dict(win_size=7, **{k: v for k, v in options.items() if k != "win_size"})
    if "win_size" in options:
        opts["win_size"] = options["win_size"]
    _, g = simloss.ssim(x, y, grad=True, **opts)
    flat = x.reshape(-1)
    h = 1e-6
    for k in range(0, flat.size, 7):
        saved = flat[k]
        flat[k] = saved + h
        up = simloss.ssim(x, y, **opts)
        flat[k] = saved - h
        down = simloss.ssim(x, y, **opts)
        flat[k] = saved
        assert g.reshape(-1)[k] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-9)


def test_ms_ssim_matches_reference_and_gradient():
    rng = np.random.default_rng(5)
    x = rng.random((1, 2, 171, 166))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    expected = ref.ms_ssim(x, y)
    assert simloss.ms_ssim(x, y) == pytest.approx(float(expected["per_image"][0]), abs=1e-10)
    _, g = simloss.ms_ssim(x, y, grad=True)
    flat = x.reshape(-1)
    # A wide step: the value's rounding noise (~1e-10) would swamp a 1e-6
    # one, and the third derivative is small enough that O(h^2) is 1e-12.
    h = 1e-3
    for k in range(0, flat.size, 4001):
        saved = flat[k]
        flat[k] = saved + h
        up = simloss.ms_ssim(x, y)
        flat[k] = saved - h
        down = simloss.ms_ssim(x, y)
        flat[k] = saved
        assert g.reshape(-1)[k] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-11)


# Level 1 of MS-SSIM runs in bands of rows once a plane's map reaches 2^17
# pixels (521 x 530: 3 bands of 172 rows, the last 177 input rows long and
# odd; 600 x 1200 with the ssim.m downsampling: 300 x 600 at level 1, 2
# bands), and so does a coarser level (760 x 770: level 1 in 5 bands of 150
# rows, level 2, 380 x 385, in 2 bands of 185 rows, whose boundary lies
# between level 1's rows 369 and 370). Values against the reference, the
# gradient at the rows on both sides of each band boundary, and bitwise the
# same on 1 and 2 threads.
@pytest.mark.parametrize("shape,downsample,rows", [
    ((1, 1, 521, 530), False, [0, 171, 172, 173, 343, 344, 345, 519, 520]),
    ((1, 1, 600, 1200), True, [0, 290, 291, 292, 293, 599]),
    ((1, 1, 760, 770), False, [0, 149, 150, 368, 369, 370, 371, 759]),
])
def test_ms_ssim_banded_level_one(shape, downsample, rows):
    rng = np.random.default_rng(11)
    x = rng.random(shape)
    y = np.clip(x + 0.15 * rng.standard_normal(shape), 0, 1)
    expected = float(ref.ms_ssim(x, y, downsample=downsample)["per_image"][0])
    value, g = simloss.ms_ssim(x, y, downsample=downsample, grad=True)
    assert value == pytest.approx(expected, abs=1e-10)
    h = 1e-3
    for r in rows:
        for col in (1, shape[3] // 2 + 1):
            saved = x[0, 0, r, col]
            x[0, 0, r, col] = saved + h
            up = simloss.ms_ssim(x, y, downsample=downsample)
            x[0, 0, r, col] = saved - h
            down = simloss.ms_ssim(x, y, downsample=downsample)
            x[0, 0, r, col] = saved
            assert g[0, 0, r, col] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-11), (r, col)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    results = []
    try:
        for n in (1, 2):
            simloss.set_num_threads(n)
            results.append(simloss.ms_ssim(x32, y32, downsample=downsample, grad=True))
    finally:
        simloss.set_num_threads(0)
    assert results[0][0] == results[1][0] and np.array_equal(results[0][1], results[1][1])


# One level is SSIM: level 1's term is then the SSIM mean, its gradient
# SSIM's, with level 1 in one band (161 x 170) or in three (521 x 530).
@pytest.mark.parametrize("shape", [(2, 1, 161, 170), (1, 1, 521, 530)])
def test_ms_ssim_of_one_level_is_ssim(shape):
    rng = np.random.default_rng(12)
    x = rng.random(shape)
    y = np.clip(x + 0.1 * rng.standard_normal(shape), 0, 1)
    value, g = simloss.ms_ssim(x, y, weights=[1.0], grad=True)
    expected, expected_g = simloss.ssim(x, y, grad=True)
    assert value == pytest.approx(expected, rel=1e-13)
    np.testing.assert_allclose(g, expected_g, rtol=1e-12, atol=1e-18)


def test_ssim_identical_images_give_one_and_nhwc_equals_nchw():
    x = np.random.default_rng(6).random((2, 3, 32, 32)).astype(np.float32)
    assert simloss.ssim(x, x) == 1.0 and simloss.ms_ssim(np.repeat(np.repeat(x, 6, 2), 6, 3), np.repeat(np.repeat(x, 6, 2), 6, 3)) == 1.0
    y = np.random.default_rng(7).random(x.shape).astype(np.float32)
    a, ga = simloss.ssim(x, y, grad=True)
    b, gb = simloss.ssim(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), np.ascontiguousarray(y.transpose(0, 2, 3, 1)),
                         layout="NHWC", grad=True)
    assert a == b and np.array_equal(ga, gb.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("call, message", [
    (lambda: simloss.ssim(np.zeros((1, 1, 8, 8)), np.zeros((1, 1, 8, 8))),
     r"too small for border valid: the minimum size is 11 x 11 for window 11"),
    (lambda: simloss.ms_ssim(np.zeros((1, 1, 100, 200)), np.zeros((1, 1, 100, 200))), r"161"),
    (lambda: simloss.ssim(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)), win_size=4), r"win_size: 4 must be odd and in 1...1023"),
    (lambda: simloss.ssim(np.zeros((1, 2, 16, 16)), np.zeros((1, 2, 16, 16)), luma=True), r"luma needs 3 channels"),
    (lambda: simloss.ssim(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)), data_range=-1), r"data"),
    (lambda: simloss.ssim(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)), border="same"), r"border: 'same'"),
    # An empty weights array once read 5 weights the caller never passed
    # (a crash with a guard page after it); 2-D weights were named "values".
    (lambda: simloss.ms_ssim(np.zeros((1, 1, 161, 161)), np.zeros((1, 1, 161, 161)), weights=[]),
     r"weights: shape \(0,\); MS-SSIM takes one weight per level"),
    (lambda: simloss.ms_ssim(np.zeros((1, 1, 161, 161)), np.zeros((1, 1, 161, 161)), weights=np.ones((1, 5)) / 5),
     r"weights: shape \(1, 5\)"),
    (lambda: simloss.ms_ssim(np.zeros((1, 1, 161, 161)), np.zeros((1, 1, 161, 161)), weights=[0.1] * 2001),
     r"options.levels: 2001 is outside 1...16"),
    (lambda: simloss.ssim(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)), win_size=2**31),
     r"win_size: 2147483648 is outside the int32 range"),
    # Finite options that gave NaN with no error: C1 C2 overflowing, and
    # Gaussian taps of 0 / 0.
    (lambda: simloss.ssim(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)), data_range=1e150),
     r"data_range: 1e\+150 .* is too large"),
    (lambda: simloss.ssim(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)), k2=1e200), r"too large"),
    (lambda: simloss.ms_ssim(np.zeros((1, 1, 161, 161)), np.zeros((1, 1, 161, 161)), data_range=1e200), r"too large"),
    (lambda: simloss.ssim(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 16)), sigma=1e-200),
     r"sigma: 1e-200 is too small: 2 sigma\^2 underflows to 0"),
])
def test_ssim_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()



@pytest.mark.parametrize("options", [dict(win_size=7), dict(win_size=5, gaussian=False, sample_covariance=True)])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 3e-6)])
def test_ssim3d_matches_reference(options, dtype, tol):
    rng = np.random.default_rng(8)
    x = rng.random((2, 2, 12, 13, 14))
    y = np.clip(x + 0.2 * rng.standard_normal(x.shape), 0, 1)
    x, y = x.astype(dtype), y.astype(dtype)
    expected = ref.ssim3d(x.astype(np.float64), y.astype(np.float64), **options)
    got, (per_channel, cs) = simloss.ssim3d(x, y, reduction="none", channels=True, **options)
    np.testing.assert_allclose(got, expected["per_image"], atol=tol)
    np.testing.assert_allclose(per_channel, expected["per_channel"], atol=tol)


def test_ssim3d_gradient_and_errors():
    rng = np.random.default_rng(9)
    x, y = rng.random((1, 1, 9, 10, 11)), rng.random((1, 1, 9, 10, 11))
    _, g = simloss.ssim3d(x, y, win_size=5, grad=True)
    flat = x.reshape(-1)
    for k in range(0, flat.size, 97):
        saved = flat[k]
        flat[k] = saved + 1e-6
        up = simloss.ssim3d(x, y, win_size=5)
        flat[k] = saved - 1e-6
        down = simloss.ssim3d(x, y, win_size=5)
        flat[k] = saved
        assert g.reshape(-1)[k] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-9)
    assert simloss.ssim3d(x, x, win_size=5) == 1.0
    with pytest.raises(ValueError, match=r"minimum size is 11 x 11 x 11"):
        simloss.ssim3d(x, y)
    with pytest.raises(ValueError, match=r"rank 5"):
        simloss.ssim3d(x[0], y[0])


@pytest.mark.parametrize("offset", [1e3, 1e4, 1e5, 1e6])
def test_ssim_far_from_zero_within_the_headers_bound(offset):
    # simloss.h: the variances are E[x^2] - mu^2, within about
    # 5e-16 (|x| / L)^2 for values far from 0 in units of L. The exact value
    # takes the variances from the unshifted images (they do not move with
    # the offset) and the means shifted.
    rng = np.random.default_rng(0)
    x = rng.random((1, 1, 30, 30))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    taps = np.exp(-0.5 * ((np.arange(11) - 5) / 1.5) ** 2)
    taps /= taps.sum()

    def filtered(a):
        rows = np.stack([np.convolve(r, taps, mode="valid") for r in a])
        return np.stack([np.convolve(c, taps, mode="valid") for c in rows.T]).T

    a, b = x[0, 0], y[0, 0]
    mx, my = filtered(a), filtered(b)
    vx, vy, cxy = filtered(a * a) - mx * mx, filtered(b * b) - my * my, filtered(a * b) - mx * my
    mx, my = mx + offset, my + offset
    c1, c2 = 0.01**2, 0.03**2
    exact = ((2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean()
    error = abs(simloss.ssim(x + offset, y + offset, data_range=1.0) - exact)
    assert error <= 5e-16 * offset**2 + 1e-14
