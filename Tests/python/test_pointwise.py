"""simloss.l1, simloss.mse, simloss.psnr against float64 numpy references,
published values, and central differences."""
import numpy as np
import pytest
import skimage.metrics

import pointwise_reference as ref
import simloss

REDUCTIONS = ["mean", "sum", "none"]


def pair(shape, dtype, seed):
    rng = np.random.RandomState(seed)
    return rng.rand(*shape).astype(dtype), rng.rand(*shape).astype(dtype)


@pytest.mark.parametrize("kind", ["l1", "mse"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pointwise_matches_float64_reference(kind, reduction, dtype):
    x, y = pair((3, 2, 17, 19), dtype, 1)
    got = getattr(simloss, kind)(x, y, reduction=reduction)
    np.testing.assert_allclose(got, ref.pointwise(kind, x, y, reduction=reduction), rtol=1e-13)


@pytest.mark.parametrize("kind", ["l1", "mse"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_mask_broadcast(kind, reduction):
    x, y = pair((3, 2, 9, 11), np.float32, 2)
    mask = np.random.RandomState(3).rand(3, 1, 9, 11).astype(np.float32)
    mask[1] = 0  # a sample with no weight
    got = getattr(simloss, kind)(x, y, mask=mask, reduction=reduction)
    np.testing.assert_allclose(got, ref.pointwise(kind, x, y, mask, reduction), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", ["l1", "mse", "psnr"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_gradient_matches_central_differences(kind, reduction):
    x, y = pair((2, 3, 6, 5), np.float64, 4)
    mask = np.random.RandomState(5).rand(2, 1, 6, 5) + 0.1 if kind != "psnr" else None
    kwargs = {"reduction": reduction} if kind == "psnr" else {"mask": mask, "reduction": reduction}
    value, grad = getattr(simloss, kind)(x, y, grad=True, **kwargs)
    assert grad.shape == x.shape and grad.dtype == np.float64
    idx = range(0, x.size, 3)
    numeric = ref.central_difference(lambda z: getattr(simloss, kind)(z, y, **kwargs), x, idx)
    np.testing.assert_allclose(grad.reshape(-1)[list(idx)], numeric, rtol=1e-6, atol=1e-9)


# Samples of one short dense row ((N, 4) boxes) take a path of their own:
# blocks of samples per call, the gradient of a block as one run, short
# rows summed in registers. Lengths around its limit of 8 (lane sums in
# registers up to 8), N past one block (4096 samples of 4); against the
# reference, and bitwise against the same tensor read through strided views
# (the general path), for any thread count.
@pytest.mark.parametrize("kind", ["l1", "mse"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("n", [1, 3, 4, 8, 9, 17])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_short_dense_samples(kind, reduction, n, weighted, dtype):
    rows = 10007
    x, y = pair((rows, n), dtype, n)
    mask = np.random.RandomState(n + 1).rand(rows, n).astype(dtype) if weighted else None
    if weighted:
        mask[5] = 0  # a sample with no weight
    f = getattr(simloss, kind)
    value, grad = f(x, y, mask=mask, reduction=reduction, grad=True)
    np.testing.assert_allclose(value, ref.pointwise(kind, x, y, mask, reduction), rtol=1e-12, atol=1e-15)

    def strided(a):
        wide = np.zeros((rows, 2 * n), dtype)
        wide[:, ::2] = a
        return wide[:, ::2]

    sx, sy = strided(x), strided(y)
    smask = strided(mask) if weighted else None
    for threads in (1, 2):
        simloss.set_num_threads(threads)
        try:
            v2, g2 = f(sx, sy, mask=smask, reduction=reduction, grad=True)
            v3, g3 = f(x, y, mask=mask, reduction=reduction, grad=True)
        finally:
            simloss.set_num_threads(0)
        assert np.array_equal(np.asarray(v2), np.asarray(value)) and np.array_equal(g2, grad)
        assert np.array_equal(np.asarray(v3), np.asarray(value)) and np.array_equal(g3, grad)

# A bad weight in a later block of short dense rows is found and named.
@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_short_dense_samples_bad_weight(bad, reduction):
    x, y = pair((10007, 4), np.float32, 3)
    mask = np.ones((10007, 4), np.float32)
    mask[9001, 3] = bad
    with pytest.raises(ValueError, match=rf"weight: element \(9001, 3\) is {bad}; weights must be finite and >= 0"):
        simloss.mse(x, y, mask=mask, reduction=reduction, grad=True)

@pytest.mark.parametrize("kind", ["l1", "mse"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("layout", ["flat", "column", "reversed"])
def test_one_element_per_sample(kind, reduction, layout):
    # Rank 1 and (N, 1): with a reduction over samples the elements are read
    # in rows of 1024, the last one partial (N = 3 * 1024 + 77); for "none",
    # one row per sample. Weights with zeros and a broadcast scalar weight;
    # the gradient against its closed form.
    n = 3 * 1024 + 77
    x, y = pair((n,), np.float64, 11)
    w = np.random.RandomState(12).rand(n)
    w[::5] = 0
    if layout == "column":
        x, y, w = x[:, None], y[:, None], w[:, None]
    elif layout == "reversed":
        x, y, w = x[::-1], y[::-1], w[::-1]
    d = x - y
    f, df = (np.abs(d), np.sign(d)) if kind == "l1" else (d * d, 2 * d)
    fn = getattr(simloss, kind)
    for weight in (None, w, np.full((1,) * x.ndim, 0.5)):
        ww = np.ones_like(x) if weight is None else np.broadcast_to(weight, x.shape)
        value, grad = fn(x, y, mask=weight, reduction=reduction, grad=True)
        if reduction == "none":
            expected = np.where(ww > 0, ww * f / np.where(ww > 0, ww, 1), 0).reshape(-1)
            expected_grad = np.where(ww > 0, df, 0)
        elif reduction == "sum":
            expected, expected_grad = (ww * f).sum(), ww * df
        else:
            expected, expected_grad = (ww * f).sum() / ww.sum(), ww * df / ww.sum()
        np.testing.assert_allclose(value, expected, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-13, atol=1e-15)


def test_flat_float32_large():
    # 2^20 + 3 float32 elements, flat, against float64: rows of 1024 summed
    # in laneSum order, then in row order.
    x, y = pair((2**20 + 3,), np.float32, 13)
    d = x.astype(np.float64) - y
    np.testing.assert_allclose(simloss.l1(x, y), np.abs(d).mean(), rtol=1e-12)
    np.testing.assert_allclose(simloss.mse(x, y, reduction="sum"), (d * d).sum(), rtol=1e-12)


def test_l1_gradient_at_zero_difference_is_zero():
    x = np.array([[1.0, 2.0, 3.0]])
    _, g = simloss.l1(x, x.copy(), grad=True)
    assert np.all(g == 0)


def test_psnr_matches_skimage_per_image():
    x, y = pair((4, 3, 32, 32), np.float64, 6)
    got = simloss.psnr(x, y, reduction="none")
    expected = [skimage.metrics.peak_signal_noise_ratio(y[i], x[i], data_range=1.0) for i in range(4)]
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    assert simloss.psnr(x, y) == pytest.approx(np.mean(expected), rel=1e-13)


def test_psnr_data_range_scaling():
    x, y = pair((2, 1, 8, 8), np.float64, 7)
    a = simloss.psnr(x * 255, y * 255, data_range=255.0)
    assert a == pytest.approx(simloss.psnr(x, y), rel=1e-13)


def test_psnr_identical_images_are_infinite_with_zero_gradient():
    x, _ = pair((2, 1, 8, 8), np.float32, 8)
    v, g = simloss.psnr(x, x.copy(), reduction="none", grad=True)
    assert np.all(np.isinf(v)) and np.all(g == 0)


def test_mse_matches_skimage():
    x, y = pair((1, 3, 20, 30), np.float64, 9)
    assert simloss.mse(x, y) == pytest.approx(skimage.metrics.mean_squared_error(x, y), rel=1e-14)


def test_pointwise_properties():
    x, y = pair((2, 3, 8, 8), np.float64, 10)
    assert simloss.l1(x, x) == 0 and simloss.mse(x, x) == 0
    assert simloss.l1(x, y) == pytest.approx(simloss.l1(y, x), rel=1e-15)
    assert simloss.mse(x, y) == pytest.approx(simloss.mse(y, x), rel=1e-15)


def test_float32_close_to_float64():
    x, y = pair((2, 3, 16, 16), np.float32, 11)
    for f in (simloss.l1, simloss.mse, simloss.psnr):
        assert f(x, y) == pytest.approx(f(x.astype(np.float64), y.astype(np.float64)), rel=1e-14)
        _, g32 = f(x, y, grad=True)
        _, g64 = f(x.astype(np.float64), y.astype(np.float64), grad=True)
        np.testing.assert_allclose(g32, g64, rtol=1e-6, atol=1e-12)
