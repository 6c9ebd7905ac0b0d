"""simloss.tv against the published values, a float64 reference and central
differences."""
import numpy as np
import pytest

import pointwise_reference as ref
import simloss

KINDS = ["anisotropic", "isotropic", "squared"]


def test_tv_kornia_value():
    x = np.array([[[[0.09094203, 0.32630223, 0.8066123], [0.10921168, 0.09534764, 0.48588026]]]], np.float32)
    assert simloss.tv(x) == pytest.approx(1.6900232, rel=1e-7)


def test_tv_identity_is_36():
    assert simloss.tv(np.eye(10)[None, None]) == 36


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tv_matches_float64_reference(kind, reduction, dtype):
    x = np.random.RandomState(1).rand(3, 2, 13, 17).astype(dtype)
    got = simloss.tv(x, kind=kind, eps=1e-4, reduction=reduction)
    # Anisotropic float32 forms its differences in float32 (simloss.h): each
    # pixel's term carries at most three roundings, 2e-7 relative.
    rtol = 2e-7 if (kind == "anisotropic" and dtype == np.float32) else 1e-13
    np.testing.assert_allclose(got, ref.tv(x, kind, 1e-4, reduction), rtol=rtol)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_tv_gradient_matches_central_differences(kind, reduction):
    x = np.random.RandomState(2).rand(2, 2, 5, 6)
    _, g = simloss.tv(x, kind=kind, eps=1e-2, reduction=reduction, grad=True)
    idx = range(x.size)
    numeric = ref.central_difference(lambda z: simloss.tv(z, kind=kind, eps=1e-2, reduction=reduction), x, idx)
    np.testing.assert_allclose(g.reshape(-1), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", KINDS)
def test_tv_layouts_bitwise_equal(kind):
    x = np.random.RandomState(3).rand(2, 3, 16, 12).astype(np.float32)
    v1, g1 = simloss.tv(x, kind=kind, grad=True)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    v2, g2 = simloss.tv(nhwc, kind=kind, layout="NHWC", grad=True)
    big = np.zeros((2, 3, 32, 12), np.float32)
    big[:, :, ::2] = x
    v3, g3 = simloss.tv(big[:, :, ::2], kind=kind, grad=True)
    assert v1 == v2 == v3
    assert np.array_equal(g1, g2.transpose(0, 3, 1, 2)) and np.array_equal(g1, g3)


def test_tv_properties():
    x = np.random.RandomState(4).rand(2, 3, 10, 10)
    for kind in ("anisotropic", "squared"):
        assert simloss.tv(np.full((1, 1, 5, 5), 0.3), kind=kind) == 0
        assert simloss.tv(-x, kind=kind) == pytest.approx(simloss.tv(x, kind=kind), rel=1e-15)
        assert simloss.tv(x + 0.5, kind=kind) == pytest.approx(simloss.tv(x, kind=kind), rel=1e-12)


def test_tv_rejects_rank_3():
    with pytest.raises(ValueError, match=r"x: expected rank 4 \(N, C, H, W\), got rank 3"):
        simloss.tv(np.zeros((2, 3, 4)))


# Rows of more than 8 float32 pixels take an explicit 8-lane kernel whose
# last vector overlaps the one before it (widths 9, 33, 255 leave 0, 0 and
# 6 differences beyond a multiple of 8; 256 none).
@pytest.mark.parametrize("shape", [(2, 3, 7, 255), (1, 2, 5, 9), (2, 1, 6, 33), (1, 1, 4, 256), (1, 1, 1, 40)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_tv_anisotropic_wide_rows_value_and_gradient(shape, dtype, reduction):
    rng = np.random.default_rng(sum(shape))
    x = rng.random(shape).astype(dtype)
    for j in range(0, shape[-1] - 1, 5):  # equal neighbours: sign 0
        x[..., j + 1] = x[..., j]
    value, g = simloss.tv(x, reduction=reduction, grad=True)
    assert value == pytest.approx(ref.tv(x, "anisotropic", reduction=reduction), rel=2e-7 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(g, ref.tv_anisotropic_grad(x, reduction), rtol=1e-7, atol=0)
    # The same image through the strided (scalar) kernel: bitwise equal.
    wide = np.zeros(shape[:-1] + (2 * shape[-1],), dtype)
    wide[..., ::2] = x
    v2, g2 = simloss.tv(wide[..., ::2], reduction=reduction, grad=True)
    assert v2 == value and np.array_equal(g2, g)


# A block that starts inside an image (600 rows of 60: blocks of 273 rows)
# computes the row above its first row itself instead of carrying it.
@pytest.mark.parametrize("kind", KINDS)
def test_tv_gradient_across_block_boundaries(kind):
    x = np.random.default_rng(9).random((1, 2, 300, 60))
    value, g = simloss.tv(x, kind=kind, eps=1e-2, reduction="sum", grad=True)
    assert value == pytest.approx(ref.tv(x, kind, 1e-2, "sum"), rel=1e-13)
    idx = [np.ravel_multi_index((0, c, h, w), x.shape)
           for c, hs in ((0, (272, 273, 274)), (1, (245, 246, 247))) for h in hs for w in (0, 1, 30, 58, 59)]
    # h = 1e-4: the value is ~1e4, so a smaller step loses the difference
    # to rounding (1e-12 / 2h); the truncation error stays below 1e-8.
    numeric = ref.central_difference(lambda z: simloss.tv(z, kind=kind, eps=1e-2, reduction="sum"), x, idx, h=1e-4)
    np.testing.assert_allclose(g.reshape(-1)[idx], numeric, rtol=1e-6, atol=1e-8)
