"""Tests of the float64 SSIM / MS-SSIM reference (``ssim_reference.py``).

The reference is the ground truth for the rest of the simloss Python suite, so
it is checked here against (a) scikit-image 0.26 (``structural_similarity``,
``rgb2ycbcr``), used only as an independent cross-check, (b) the published
values listed in /work/shared/notes/conventions.md, (c) small hand-computed
cases (window taps, MATLAB downsampling indices, pyramid rounding) and
(d) the mathematical properties of SSIM.  Every random input comes from a
generator seeded in the test itself.

Run: cd /work/main && python3 -m pytest -q Tests/python/reference/test_ssim_reference.py
"""

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ssim_reference as ref  # noqa: E402

skimage = pytest.importorskip("skimage")
from skimage import data as skdata  # noqa: E402
from skimage.color import rgb2ycbcr  # noqa: E402
from skimage.metrics import structural_similarity as sk_ssim  # noqa: E402


# --------------------------------------------------------------------------
# Fixtures / helpers
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def camera_pair():
    """scikit-image's published pair: camera and camera + N(0, 20^2) noise, seed 5."""
    cam = skdata.camera()
    noisy = np.clip(cam + 20 * np.random.RandomState(5).randn(*cam.shape), 0, 255).astype(np.uint8)
    return cam, noisy


def nchw(a):
    """(H, W) -> (1, 1, H, W)."""
    return np.asarray(a)[None, None]


def sk_gauss(a, b, data_range, **kw):
    """scikit-image configured as the Wang et al. reference."""
    return sk_ssim(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                   data_range=data_range, **kw)


# --------------------------------------------------------------------------
# Window
# --------------------------------------------------------------------------
def test_gaussian_window_matches_scipy_kernel():
    # scipy's own sampled, normalised Gaussian kernel (radius 5 -> 11 taps).
    delta = np.zeros(11)
    delta[5] = 1.0
    scipy_taps = ndi.gaussian_filter1d(delta, 1.5, radius=5, mode="constant")
    taps = ref.gaussian_window(11, 1.5)
    assert taps.dtype == np.float64 and taps.shape == (11,)
    np.testing.assert_allclose(taps, scipy_taps, rtol=0, atol=1e-16)
    assert abs(taps.sum() - 1.0) <= 1e-15


@pytest.mark.parametrize("win", [1, 4, 7, 11, 12])
def test_gaussian_window_is_symmetric_and_normalised(win):
    taps = ref.gaussian_window(win, 1.5)
    np.testing.assert_array_equal(taps, taps[::-1])
    assert abs(taps.sum() - 1.0) <= 1e-15
    assert np.argmax(taps) == (win - 1) // 2


def test_uniform_window():
    np.testing.assert_array_equal(ref.uniform_window(7), np.full(7, 1.0 / 7))


# --------------------------------------------------------------------------
# Cross-checks against scikit-image
# --------------------------------------------------------------------------
def test_ssim_matches_skimage_camera(camera_pair):
    cam, noisy = camera_pair
    expected = sk_gauss(cam, noisy, 255)
    got = ref.ssim(nchw(cam), nchw(noisy), data_range=255)
    assert abs(got["per_image"][0] - expected) <= 1e-12
    assert got["per_image"].dtype == np.float64


def test_ssim_map_matches_skimage_cropped_map(camera_pair):
    # skimage's full map is padded (scipy 'reflect'); its valid part is ours.
    cam, noisy = camera_pair
    _, sk_map = sk_gauss(cam, noisy, 255, full=True)
    got = ref.ssim(nchw(cam), nchw(noisy), data_range=255, return_map=True)["map"][0, 0]
    assert got.shape == (502, 502)
    np.testing.assert_allclose(got, sk_map[5:-5, 5:-5], rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(11, 11), (37, 53), (64, 48)])
def test_ssim_matches_skimage_random_float64(shape):
    rng = np.random.RandomState(3782407563)
    x = rng.rand(*shape)
    y = np.clip(x + 0.2 * rng.randn(*shape), 0, 1)
    got = ref.ssim(nchw(x), nchw(y), data_range=1.0)["per_image"][0]
    assert abs(got - sk_gauss(x, y, 1.0)) <= 1e-12


def test_ssim_multichannel_matches_skimage_channel_axis():
    rng = np.random.RandomState(11)
    x = rng.rand(3, 40, 45)
    y = np.clip(x + 0.1 * rng.randn(*x.shape), 0, 1)
    got = ref.ssim(x[None], y[None], data_range=1.0)
    assert abs(got["per_image"][0] - sk_gauss(x, y, 1.0, channel_axis=0)) <= 1e-12
    for c in range(3):
        assert abs(got["per_channel"][0, c] - sk_gauss(x[c], y[c], 1.0)) <= 1e-12


def test_ssim_sample_covariance_uniform7_matches_skimage_defaults():
    rng = np.random.RandomState(12)
    x = rng.rand(30, 41) * 255
    y = np.clip(x + 25 * rng.randn(*x.shape), 0, 255)
    expected = sk_ssim(x, y, win_size=7, gaussian_weights=False,
                       use_sample_covariance=True, data_range=255)
    got = ref.ssim(nchw(x), nchw(y), data_range=255, win_size=7, gaussian=False,
                   sample_covariance=True)["per_image"][0]
    assert abs(got - expected) <= 1e-12


def test_ssim_sample_covariance_gaussian_matches_skimage():
    rng = np.random.RandomState(13)
    x = rng.rand(33, 29)
    y = np.clip(x + 0.15 * rng.randn(*x.shape), 0, 1)
    expected = sk_ssim(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=True,
                       data_range=1.0)
    got = ref.ssim(nchw(x), nchw(y), data_range=1.0, sample_covariance=True)["per_image"][0]
    assert abs(got - expected) <= 1e-12


def test_ssim3d_matches_skimage_volume():
    rng = np.random.RandomState(14)
    x = rng.rand(13, 17, 19)
    y = np.clip(x + 0.2 * rng.randn(*x.shape), 0, 1)
    got = ref.ssim3d(x[None, None], y[None, None], data_range=1.0)["per_image"][0]
    assert abs(got - sk_gauss(x, y, 1.0)) <= 1e-12
    expected_u = sk_ssim(x, y, win_size=7, gaussian_weights=False,
                         use_sample_covariance=True, data_range=1.0)
    got_u = ref.ssim3d(x[None, None], y[None, None], data_range=1.0, win_size=7,
                       gaussian=False, sample_covariance=True)["per_image"][0]
    assert abs(got_u - expected_u) <= 1e-12


def test_rgb_to_luma_matches_skimage_rgb2ycbcr():
    rng = np.random.RandomState(15)
    rgb = rng.rand(2, 3, 9, 10)
    y = ref.rgb_to_luma(rgb, data_range=1.0)
    assert y.shape == (2, 1, 9, 10)
    sk_y = rgb2ycbcr(np.moveaxis(rgb, 1, -1))[..., 0] / 255.0  # skimage: Y in [16, 235]
    np.testing.assert_allclose(y[:, 0], sk_y, rtol=0, atol=1e-14)


# --------------------------------------------------------------------------
# Published values (conventions.md, "Published values to test against")
# --------------------------------------------------------------------------
def test_published_camera_ssim(camera_pair):
    cam, noisy = camera_pair
    got = ref.ssim(nchw(cam), nchw(noisy), data_range=255)["per_image"][0]
    assert abs(got - 0.3579642362) <= 1e-9


def test_published_camera_ssim_matlab_downsampling(camera_pair):
    cam, noisy = camera_pair
    got = ref.ssim(nchw(cam), nchw(noisy), data_range=255, downsample=True)["per_image"][0]
    assert abs(got - 0.6244639496) <= 1e-9


def test_published_camera_ms_ssim(camera_pair):
    # Reproduced by the plain 5-level pyramid (2x2 mean between levels, the
    # msssim.m / TensorFlow downsampling), WITHOUT ssim.m's automatic
    # pre-downsampling; with it the value would be ~0.92826, not the published one.
    cam, noisy = camera_pair
    got = ref.ms_ssim(nchw(cam), nchw(noisy), data_range=255)["per_image"][0]
    assert abs(got - 0.7933915443) <= 1e-9
    pre = ref.ms_ssim(nchw(cam), nchw(noisy), data_range=255, downsample=True)["per_image"][0]
    assert abs(pre - 0.7933915443) > 1e-2


def test_published_dm_pix_ramp_against_negation_is_minus_one():
    ramp = np.tile(np.linspace(-1.0, 1.0, 11), (11, 1))
    got = ref.ssim(nchw(ramp), nchw(-ramp), data_range=1.0, win_size=11, sigma=1.5,
                   k1=1e-5, k2=1e-5)["per_image"][0]
    assert abs(got - (-1.0)) <= 1e-6


def test_published_ramp_against_mirror_is_negative():
    ramp = np.tile(np.arange(16, dtype=np.float64) * 16.0, (16, 1))  # 0, 16, ..., 240
    got = ref.ssim(nchw(ramp), nchw(ramp[:, ::-1]), data_range=255)["per_image"][0]
    assert got < 0.0


# --------------------------------------------------------------------------
# Properties (style note S18)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("border", ["valid", "reflect", "zero"])
def test_ssim_identical_inputs_give_one(border, camera_pair):
    rng = np.random.RandomState(21)
    x = rng.rand(2, 3, 20, 23)
    got = ref.ssim(x, x, data_range=1.0, border=border)
    assert np.all(np.abs(got["per_channel"] - 1.0) <= 1e-15)
    assert np.all(np.abs(got["cs_per_channel"] - 1.0) <= 1e-15)
    cam = nchw(camera_pair[0])
    assert abs(ref.ssim(cam, cam, data_range=255, border=border)["per_image"][0] - 1.0) <= 1e-15


def test_ms_ssim_identical_inputs_give_one(camera_pair):
    cam = nchw(camera_pair[0])
    assert abs(ref.ms_ssim(cam, cam, data_range=255)["per_image"][0] - 1.0) <= 1e-15


def test_ssim3d_identical_inputs_give_one():
    x = np.random.RandomState(22).rand(1, 2, 12, 13, 14)
    assert np.all(np.abs(ref.ssim3d(x, x)["per_channel"] - 1.0) <= 1e-15)


@pytest.mark.parametrize("border", ["valid", "reflect", "zero"])
def test_ssim_symmetric(border):
    rng = np.random.RandomState(23)
    x = rng.rand(2, 2, 25, 19)
    y = np.clip(x + 0.3 * rng.randn(*x.shape), 0, 1)
    a = ref.ssim(x, y, border=border, return_map=True)
    b = ref.ssim(y, x, border=border, return_map=True)
    np.testing.assert_array_equal(a["map"], b["map"])
    np.testing.assert_array_equal(a["per_channel"], b["per_channel"])


def test_ms_ssim_symmetric(camera_pair):
    cam, noisy = (nchw(a) for a in camera_pair)
    a = ref.ms_ssim(cam, noisy, data_range=255)["per_image"]
    b = ref.ms_ssim(noisy, cam, data_range=255)["per_image"]
    np.testing.assert_array_equal(a, b)


def test_ssim_at_most_one():
    rng = np.random.RandomState(24)
    x = rng.rand(4, 1, 30, 30)
    y = rng.rand(4, 1, 30, 30)
    for border in ("valid", "reflect", "zero"):
        m = ref.ssim(x, y, border=border, return_map=True)["map"]
        assert m.max() <= 1.0 + 1e-15 and m.min() >= -1.0 - 1e-15


def test_ssim_multichannel_is_mean_of_channels():
    rng = np.random.RandomState(25)
    x = rng.rand(2, 3, 21, 22)
    y = rng.rand(2, 3, 21, 22)
    got = ref.ssim(x, y)
    for c in range(3):
        single = ref.ssim(x[:, c:c + 1], y[:, c:c + 1])["per_image"]
        np.testing.assert_array_equal(got["per_channel"][:, c], single)
    np.testing.assert_allclose(got["per_image"], got["per_channel"].mean(axis=1), rtol=1e-15)


def test_ssim_replicated_channels_match_grey():
    rng = np.random.RandomState(26)
    g = rng.rand(1, 1, 24, 24)
    h = rng.rand(1, 1, 24, 24)
    grey = ref.ssim(g, h)["per_image"][0]
    rgb = ref.ssim(np.repeat(g, 3, axis=1), np.repeat(h, 3, axis=1))["per_image"][0]
    assert abs(rgb - grey) <= 1e-15


def test_ssim_data_range_scaling():
    rng = np.random.RandomState(27)
    x = rng.rand(1, 2, 26, 27)
    y = np.clip(x + 0.2 * rng.randn(*x.shape), 0, 1)
    base = ref.ssim(x, y, data_range=1.0)["per_channel"]
    scaled = ref.ssim(255.0 * x, 255.0 * y, data_range=255.0)["per_channel"]
    np.testing.assert_allclose(scaled, base, rtol=0, atol=1e-12)
    ms_base = ref.ms_ssim(np.repeat(np.repeat(x, 7, 2), 7, 3), np.repeat(np.repeat(y, 7, 2), 7, 3))
    ms_scaled = ref.ms_ssim(255.0 * np.repeat(np.repeat(x, 7, 2), 7, 3),
                            255.0 * np.repeat(np.repeat(y, 7, 2), 7, 3), data_range=255.0)
    np.testing.assert_allclose(ms_scaled["per_channel"], ms_base["per_channel"], rtol=0, atol=1e-12)


def test_cs_is_ssim_without_luminance_term():
    # With a huge C1 the luminance factor is 1 - O(1/C1), so SSIM -> cs.
    rng = np.random.RandomState(28)
    x = rng.rand(1, 2, 20, 20)
    y = rng.rand(1, 2, 20, 20)
    got = ref.ssim(x, y, k1=1e6, return_cs=True, return_map=True)
    np.testing.assert_allclose(got["per_channel"], got["cs_per_channel"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(got["cs_map"].mean(axis=(2, 3)), got["cs_per_channel"], rtol=1e-15)
    # and with the usual constants the two differ
    plain = ref.ssim(x, y)
    assert np.all(np.abs(plain["per_channel"] - plain["cs_per_channel"]) > 1e-6)


# --------------------------------------------------------------------------
# Borders
# --------------------------------------------------------------------------
def _ssim_scipy(x, y, border, win=11, sigma=1.5, L=1.0):
    """Independent 'same'-size SSIM via scipy.ndimage (mirror = numpy 'reflect')."""
    taps = ref.gaussian_window(win, sigma)
    mode = {"reflect": "mirror", "zero": "constant"}[border]

    def f(a):
        a = ndi.correlate1d(a, taps, axis=0, mode=mode, cval=0.0)
        return ndi.correlate1d(a, taps, axis=1, mode=mode, cval=0.0)

    mx, my = f(x), f(y)
    vx, vy, vxy = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    return ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))


@pytest.mark.parametrize("border", ["reflect", "zero"])
@pytest.mark.parametrize("win", [7, 11])
def test_same_borders_match_scipy_padding(border, win):
    rng = np.random.RandomState(31)
    x = rng.rand(23, 31)
    y = np.clip(x + 0.2 * rng.randn(*x.shape), 0, 1)
    got = ref.ssim(nchw(x), nchw(y), border=border, win_size=win, return_map=True)
    expected = _ssim_scipy(x, y, border, win=win)
    assert got["map"].shape == (1, 1, 23, 31)
    np.testing.assert_allclose(got["map"][0, 0], expected, rtol=0, atol=1e-12)
    assert abs(got["per_image"][0] - expected.mean()) <= 1e-12


def test_reflect_pads_without_repeating_the_edge():
    # numpy 'reflect' (d c b | a b c d) differs from 'symmetric' (c b a | a b c d)
    # on a ramp: reflect makes the padded ramp a 'tent', so the borders differ.
    x = np.tile(np.arange(20.0), (20, 1)) / 19.0
    y = x ** 2
    got = ref.ssim(nchw(x), nchw(y), border="reflect", return_map=True)["map"][0, 0]
    np.testing.assert_allclose(got, _ssim_scipy(x, y, "reflect"), rtol=0, atol=1e-12)
    sym = _ssim_scipy(np.pad(x, 5, mode="symmetric"), np.pad(y, 5, mode="symmetric"), "zero")[5:-5, 5:-5]
    assert np.max(np.abs(got - sym)) > 1e-6


@pytest.mark.parametrize("border", ["reflect", "zero"])
def test_same_border_interior_equals_valid(border):
    rng = np.random.RandomState(32)
    x = rng.rand(1, 1, 30, 26)
    y = rng.rand(1, 1, 30, 26)
    valid = ref.ssim(x, y, return_map=True)["map"]
    same = ref.ssim(x, y, border=border, return_map=True)["map"]
    np.testing.assert_allclose(same[..., 5:-5, 5:-5], valid, rtol=0, atol=1e-14)


# --------------------------------------------------------------------------
# MATLAB ssim.m automatic downsampling
# --------------------------------------------------------------------------
@pytest.mark.parametrize("h,w,f", [(100, 100, 1), (255, 1000, 1), (383, 400, 1), (384, 384, 2),
                                   (512, 512, 2), (640, 700, 3), (639, 700, 2), (1024, 768, 3)])
def test_matlab_downsample_factor_rounds_half_away_from_zero(h, w, f):
    assert ref.matlab_downsample_factor(h, w) == f


def _matlab_downsample_loops(a, f):
    """imfilter(a, ones(f)/f^2, 'symmetric', 'same') then a(1:f:end, 1:f:end), by loops."""
    n, m = a.shape
    c = (f - 1) // 2  # 0-based origin of an f-tap kernel: floor((f+1)/2) - 1

    def sym(k, size):  # MATLAB/numpy 'symmetric': mirror with the edge repeated
        if k < 0:
            return -k - 1
        if k >= size:
            return 2 * size - 1 - k
        return k

    rows = range(0, n, f)
    cols = range(0, m, f)
    out = np.zeros((len(rows), len(cols)))
    for oi, i in enumerate(rows):
        for oj, j in enumerate(cols):
            s = 0.0
            for u in range(f):
                for v in range(f):
                    s += a[sym(i - c + u, n), sym(j - c + v, m)]
            out[oi, oj] = s / (f * f)
    return out


@pytest.mark.parametrize("shape,f", [((5, 7), 2), ((8, 6), 2), ((7, 8), 3), ((9, 10), 4)])
def test_matlab_downsample_matches_loops(shape, f):
    a = np.random.RandomState(41).rand(*shape)
    np.testing.assert_allclose(ref.matlab_downsample(a, f), _matlab_downsample_loops(a, f),
                               rtol=0, atol=1e-15)


def test_matlab_downsample_f2_even_is_block_mean(camera_pair):
    cam = camera_pair[0].astype(np.float64)
    block = cam.reshape(256, 2, 256, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(ref.matlab_downsample(cam), block, rtol=0, atol=1e-13)


def test_ssim_downsample_equals_ssim_of_downsampled():
    rng = np.random.RandomState(42)
    x = rng.rand(1, 2, 700, 660)  # f = round(660 / 256) = 3
    y = np.clip(x + 0.2 * rng.randn(*x.shape), 0, 1)
    got = ref.ssim(x, y, downsample=True, return_map=True)
    assert got["map"].shape == (1, 2, 234 - 10, 220 - 10)
    manual = ref.ssim(ref.matlab_downsample(x, 3), ref.matlab_downsample(y, 3))
    np.testing.assert_array_equal(got["per_channel"], manual["per_channel"])


# --------------------------------------------------------------------------
# Luma
# --------------------------------------------------------------------------
def test_luma_of_grey_pixels():
    v = np.array([0.0, 100.0, 255.0])
    rgb = np.broadcast_to(v[None, None, :, None], (1, 3, 3, 1))
    y = ref.rgb_to_luma(rgb, data_range=255.0)[0, 0, :, 0]
    np.testing.assert_allclose(y, 16.0 + v * 219.0 / 255.0, rtol=0, atol=1e-12)  # 16 ... 235
    y1 = ref.rgb_to_luma(rgb / 255.0, data_range=1.0)[0, 0, :, 0]
    np.testing.assert_allclose(y1, y / 255.0, rtol=0, atol=1e-15)


def test_ssim_luma_is_ssim_of_y_channel():
    rng = np.random.RandomState(43)
    x = rng.rand(2, 3, 20, 20) * 255
    y = np.clip(x + 20 * rng.randn(*x.shape), 0, 255)
    got = ref.ssim(x, y, data_range=255, luma=True)
    assert got["per_channel"].shape == (2, 1)
    yx = rgb2ycbcr(np.moveaxis(x / 255.0, 1, -1))[..., 0]
    yy = rgb2ycbcr(np.moveaxis(y / 255.0, 1, -1))[..., 0]
    for i in range(2):
        assert abs(got["per_image"][i] - sk_gauss(yx[i], yy[i], 255)) <= 1e-12


# --------------------------------------------------------------------------
# MS-SSIM
# --------------------------------------------------------------------------
def _pool_loops(a):
    """2x2 mean with the last row/column repeated for odd sides, by loops."""
    n, m = a.shape
    out = np.zeros(((n + 1) // 2, (m + 1) // 2))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.mean([a[min(2 * i + u, n - 1), min(2 * j + v, m - 1)]
                                 for u in (0, 1) for v in (0, 1)])
    return out


@pytest.mark.parametrize("shape", [(4, 6), (5, 3), (7, 8), (1, 1)])
def test_msssim_downsample_rounds_odd_sides_up(shape):
    a = np.random.RandomState(51).rand(*shape)
    np.testing.assert_allclose(ref.msssim_downsample(a), _pool_loops(a), rtol=0, atol=1e-15)


def test_min_side():
    assert ref.min_side(11, 5) == 161
    assert ref.min_side(11, 1) == 11
    for win in (3, 7, 11):
        for levels in (1, 2, 3, 4, 5):
            brute = next(s for s in range(1, 10000)
                         if ref.msssim_level_sizes(s, levels)[-1] >= win)
            assert ref.min_side(win, levels) == brute


def test_ms_ssim_too_small_raises_and_min_side_works():
    rng = np.random.RandomState(52)
    x = rng.rand(1, 1, 161, 175)
    y = np.clip(x + 0.1 * rng.randn(*x.shape), 0, 1)
    got = ref.ms_ssim(x, y)
    assert ref.msssim_level_sizes(161, 5) == [161, 81, 41, 21, 11]
    assert 0.0 < got["per_image"][0] < 1.0
    with pytest.raises(ValueError, match=r"needs both sides >= 161, got 160x175"):
        ref.ms_ssim(x[..., :160, :], y[..., :160, :])


def test_ms_ssim_levels_are_ssim_of_pyramid():
    rng = np.random.RandomState(53)
    x = rng.rand(2, 2, 45, 51)
    y = np.clip(x + 0.2 * rng.randn(*x.shape), 0, 1)
    got = ref.ms_ssim(x, y, weights=(0.5, 0.3, 0.2))
    xs, ys = x, y
    for j in range(3):
        s = ref.ssim(xs, ys)
        np.testing.assert_array_equal(got["ssim_levels"][..., j], s["per_channel"])
        np.testing.assert_array_equal(got["cs_levels"][..., j], s["cs_per_channel"])
        xs, ys = ref.msssim_downsample(xs), ref.msssim_downsample(ys)
    cs, ss = got["cs_levels"], got["ssim_levels"]
    expected = cs[..., 0] ** 0.5 * cs[..., 1] ** 0.3 * ss[..., 2] ** 0.2
    np.testing.assert_allclose(got["per_channel"], expected, rtol=1e-14)
    np.testing.assert_allclose(got["per_image"], expected.mean(axis=1), rtol=1e-14)


def test_ms_ssim_single_level_is_ssim():
    rng = np.random.RandomState(54)
    x = rng.rand(1, 3, 30, 30)
    y = np.clip(x + 0.2 * rng.randn(*x.shape), 0, 1)
    np.testing.assert_allclose(ref.ms_ssim(x, y, weights=(1.0,))["per_channel"],
                               ref.ssim(x, y)["per_channel"], rtol=1e-15)


def test_ms_ssim_relu_clamps_negative_terms():
    x = np.random.RandomState(55).rand(1, 1, 176, 176)
    y = 1.0 - x  # anti-correlated: cs at level 1 is close to -1
    with_relu = ref.ms_ssim(x, y)
    assert with_relu["cs_levels"][0, 0, 0] < -0.9
    assert with_relu["per_image"][0] == 0.0
    assert np.isnan(ref.ms_ssim(x, y, relu=False)["per_image"][0])


# --------------------------------------------------------------------------
# Errors (style note S25: messages are tested by their text)
# --------------------------------------------------------------------------
def test_error_messages():
    x = np.zeros((1, 1, 10, 12))
    with pytest.raises(ValueError, match=r"needs every spatial side >= win_size=11, got spatial shape \(10, 12\)"):
        ref.ssim(x, x)
    with pytest.raises(ValueError, match="same shape"):
        ref.ssim(x, x[..., :11])
    with pytest.raises(ValueError, match="rank 4"):
        ref.ssim(x[0], x[0])
    with pytest.raises(ValueError, match="border must be one of"):
        ref.ssim(x, x, border="symmetric", win_size=3)
    with pytest.raises(ValueError, match=r"luma needs input of shape \(N, 3, H, W\)"):
        ref.ssim(x, x, luma=True, win_size=3)
    with pytest.raises(ValueError, match="data_range must be > 0"):
        ref.ssim(x, x, data_range=0, win_size=3)
    with pytest.raises(ValueError, match="win_size must be a positive integer"):
        ref.gaussian_window(0)
    with pytest.raises(ValueError, match="only border='valid'"):
        ref.ssim3d(np.zeros((1, 1, 11, 11, 11)), np.zeros((1, 1, 11, 11, 11)), border="reflect")
