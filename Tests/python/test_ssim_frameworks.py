"""simloss's SSIM and MS-SSIM against JAX: SSIM against dm-pix's (Google
DeepMind's image library for JAX, modelled on tf.image.ssim), and MS-SSIM
against its definition written in jax.numpy below; gradients by JAX's
automatic differentiation of both.

test_ssim.py compares with this project's float64 references, scikit-image
and published values, and checks gradients by central differences at a few
pixels. Here every pixel's gradient comes from another derivation: the
chain rule through the filters, the SSIM formula, the pyramid and the
powers, done by JAX.

Everything runs in float64 (jax_enable_x64); simloss's float64 results are
compared at 1e-12, its float32 results (on the same float32-rounded
inputs) at float32 rounding.
"""
import numpy as np
import pytest

import simloss
from comparisons import assert_close_scaled

jax = pytest.importorskip("jax")
pix = pytest.importorskip("dm_pix")
jnp = jax.numpy

jax.config.update("jax_enable_x64", True)

# The absolute floor is relative to the largest expected entry, so that the
# gradient's small entries are compared too.
F32 = dict(rtol=1e-7, atol=1e-8)
F64 = dict(rtol=1e-12, atol=1e-12)
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def check(actual, expected, dtype, what):
    assert_close_scaled(actual, expected, err_msg=what, **(F32 if dtype == np.float32 else F64))


def image_pair(rng, shape, dtype):
    """A smooth image and a noisy, shifted copy: correlated enough that every
    contrast-structure term stays positive (no clamp in MS-SSIM)."""
    n, c, h, w = shape
    u, v = np.meshgrid(np.linspace(0, 4, w), np.linspace(0, 3, h))
    base = 0.5 + 0.3 * np.sin(u + v)[None, None] * rng.uniform(0.5, 1.0, (n, c, 1, 1))
    x = np.clip(base + 0.05 * rng.normal(size=shape), 0, 1)
    y = np.clip(0.9 * base + 0.05 + 0.08 * rng.normal(size=shape), 0, 1)
    return x.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 32, 40), (1, 1, 11, 11), (3, 2, 23, 17)])
def test_ssim_matches_dm_pix(dtype, shape):
    # dm-pix's defaults are simloss's: 11 x 11 Gaussian window, sigma 1.5,
    # K1 0.01, K2 0.03, valid borders, population statistics; it takes
    # (N, H, W, C) and averages each image's map over pixels and channels.
    x, y = image_pair(np.random.default_rng(shape[2]), shape, dtype)
    xj, yj = (jnp.asarray(np.moveaxis(a, 1, -1).astype(np.float64)) for a in (x, y))
    check(simloss.ssim(x, y, reduction="none"), pix.ssim(xj, yj), dtype, "per image")
    expected, expected_grad = jax.value_and_grad(lambda z: jnp.mean(pix.ssim(z, yj)))(xj)
    value, grad = simloss.ssim(x, y, grad=True)
    check(value, float(expected), dtype, "mean")
    check(grad, np.moveaxis(np.asarray(expected_grad), -1, 1), dtype, "gradient")


def gaussian_taps(size=11, sigma=1.5):
    k = jnp.arange(size) - (size - 1) / 2
    g = jnp.exp(-(k * k) / (2 * sigma * sigma))
    return g / jnp.sum(g)


def filter_valid(a, taps):
    """The separable Gaussian filter of (N, C, H, W), valid borders."""
    n, c, h, w = a.shape
    planes = a.reshape(n * c, 1, h, w)
    k = taps.size
    for kernel in (taps.reshape(1, 1, k, 1), taps.reshape(1, 1, 1, k)):
        planes = jax.lax.conv_general_dilated(planes, kernel, (1, 1), "VALID", precision=jax.lax.Precision.HIGHEST)
    return planes.reshape(n, c, planes.shape[2], planes.shape[3])


def ssim_and_cs_means(x, y, data_range=1.0, k1=0.01, k2=0.03):
    """Per image and channel, the means of the SSIM and cs maps (Wang et al.
    2004, population statistics)."""
    taps = gaussian_taps()
    mx, my = filter_valid(x, taps), filter_valid(y, taps)
    sxx = filter_valid(x * x, taps) - mx * mx
    syy = filter_valid(y * y, taps) - my * my
    sxy = filter_valid(x * y, taps) - mx * my
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim = (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
    return ssim.mean(axis=(2, 3)), cs.mean(axis=(2, 3))


def halve(a):
    """A 2x2 mean; an odd side first gets its last row or column repeated
    (MATLAB's msssim.m and TensorFlow)."""
    h, w = a.shape[2], a.shape[3]
    a = jnp.pad(a, ((0, 0), (0, 0), (0, h % 2), (0, w % 2)), mode="symmetric")
    return 0.25 * (a[:, :, 0::2, 0::2] + a[:, :, 1::2, 0::2] + a[:, :, 0::2, 1::2] + a[:, :, 1::2, 1::2])


def ms_ssim(x, y, weights=MS_SSIM_WEIGHTS, floor=1e-6):
    """MS-SSIM per image (Wang, Simoncelli, Bovik 2003): per channel,
    prod_{j<M} cs_j^w_j ssim_M^w_M, each term first clamped at `floor`
    (simloss's relu), then the mean over channels."""
    terms = []
    for j, _ in enumerate(weights):
        if j > 0:
            x, y = halve(x), halve(y)
        ssim, cs = ssim_and_cs_means(x, y)
        terms.append(ssim if j == len(weights) - 1 else cs)
    value = 1.0
    for t, w in zip(terms, weights):
        value = value * jnp.maximum(t, floor) ** w
    return value.mean(axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 161, 161), (1, 2, 163, 170)])
def test_ms_ssim_and_its_gradient_match_autodiff(dtype, shape):
    # 161 is the smallest side for 5 levels of an 11 x 11 window; 163 and
    # 170 take the odd-side padding at several levels.
    x, y = image_pair(np.random.default_rng(shape[3]), shape, dtype)
    xj, yj = jnp.asarray(x.astype(np.float64)), jnp.asarray(y.astype(np.float64))
    check(simloss.ms_ssim(x, y, reduction="none"), ms_ssim(xj, yj), dtype, "per image")
    expected, expected_grad = jax.value_and_grad(lambda z: jnp.mean(ms_ssim(z, yj)))(xj)
    value, grad = simloss.ms_ssim(x, y, grad=True)
    check(value, float(expected), dtype, "mean")
    check(grad, np.asarray(expected_grad), dtype, "gradient")
