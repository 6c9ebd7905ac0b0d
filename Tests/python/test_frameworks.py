"""simloss's cross-entropy family against a framework users swap it in for:
optax's losses, differentiated by JAX.

The other tests compare with float64 references this project wrote from the
formulas (reference/), and with central differences. This file adds what
neither gives: values computed by another project's code, and gradients
from automatic differentiation rather than from a formula derived by hand.
optax's losses are PyTorch's and TensorFlow's where they take the same
arguments (optax's focal loss weighs no class by default, torchvision's
alpha = 0.25: the tests pass alpha). optax has no class weights, ignore
index or pos_weight, nor the -100 clamp of the losses from probabilities:
those are PyTorch's definitions written in jax.numpy below, which JAX
differentiates. (PyTorch's own backward of the binary loss from
probabilities is not the derivative of that definition where p (1 - p) <
1e-12; simloss's is, see simloss_bce() in the header.)

Everything runs in float64 (jax_enable_x64). simloss's float64 kernels are
compared at 1e-12, its float32 kernels (on the same float32-rounded
inputs) at float32 rounding.

jax and optax come from scripts/bootstrap.sh (optax >= 0.2.5: the axis
arguments, and the focal loss's power taken in log space).
"""
import numpy as np
import pytest

import simloss
from comparisons import assert_close_scaled

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax", minversion="0.2.5")
jnp = jax.numpy

jax.config.update("jax_enable_x64", True)

# float32 results against float64 ones: rtol 1e-6, some 17 units of float32
# rounding (2^-24 = 6e-8), for results that are sums of rounded terms; the
# worst case measured is 0.59 of the allowance (float64: 0.003). The absolute floor is
# relative to the largest entry of the expected array, so that small
# gradient entries are checked too (a fixed 1e-7 let every entry below it
# be 0).
F32 = dict(rtol=1e-6, atol=1e-7)
F64 = dict(rtol=1e-12, atol=1e-14)


def scaled_logits(rng, shape, scale, dtype):
    return (rng.normal(0, 1, size=shape) * scale).astype(dtype)


def as_jax(a):
    """float64 JAX array of the exact values simloss was given."""
    return jnp.asarray(np.asarray(a, dtype=np.float64))


def check(actual, expected, dtype, what):
    assert_close_scaled(actual, expected, err_msg=what, **(F32 if dtype == np.float32 else F64))


def check_value_and_gradient(ours, loss, x, dtype, what):
    """`ours`, simloss's (value, gradient) at x, against the JAX function
    `loss` of x and its gradient by JAX."""
    expected, expected_grad = jax.value_and_grad(loss)(as_jax(x))
    value, grad = ours
    check(value, float(expected), dtype, what)
    check(grad, np.asarray(expected_grad), dtype, f"gradient of {what}")


# ---------------------------------------------------------------------------
# Categorical cross-entropy from logits


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
@pytest.mark.parametrize("classes", [2, 10, 1000])
def test_class_indices_match_optax(dtype, scale, classes):
    rng = np.random.default_rng(classes)
    x = scaled_logits(rng, (64, classes), scale, dtype)
    y = rng.integers(0, classes, size=64)
    per_position = optax.softmax_cross_entropy_with_integer_labels(as_jax(x), jnp.asarray(y))
    check(simloss.cross_entropy(x, y, reduction="none"), per_position, dtype, "reduction none")
    for reduction, reduce in (("mean", jnp.mean), ("sum", jnp.sum)):
        check_value_and_gradient(
            simloss.cross_entropy(x, y, reduction=reduction, grad=True),
            lambda z: reduce(optax.softmax_cross_entropy_with_integer_labels(z, jnp.asarray(y))), x, dtype, reduction)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [1, -1])
def test_segmentation_layouts_match_optax(dtype, axis):
    rng = np.random.default_rng(3)
    classes = 21
    shape = (2, classes, 9, 7) if axis == 1 else (2, 9, 7, classes)
    x = scaled_logits(rng, shape, 4.0, dtype)
    y = rng.integers(0, classes, size=(2, 9, 7))

    def loss(z):
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(z, jnp.asarray(y), axis=axis))

    check_value_and_gradient(simloss.cross_entropy(x, y, axis=axis, grad=True), loss, x, dtype, "mean")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minus_infinity_logits_off_the_target_match_optax(dtype):
    # A masked-out class (logit -inf) that no target names: a finite loss,
    # and a zero gradient there (its softmax is 0).
    rng = np.random.default_rng(4)
    x = scaled_logits(rng, (16, 6), 3.0, dtype)
    x[:, 5] = -np.inf
    x[::3, 2] = -np.inf
    y = rng.integers(0, 2, size=16)
    value, grad = simloss.cross_entropy(x, y, grad=True)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert np.all(grad[np.isneginf(x)] == 0)
    check_value_and_gradient(
        (value, grad), lambda z: jnp.mean(optax.softmax_cross_entropy_with_integer_labels(z, jnp.asarray(y))), x,
        dtype, "mean")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [1, -1])
def test_soft_targets_match_optax(dtype, axis):
    rng = np.random.default_rng(5)
    shape = (3, 7, 5, 4) if axis == 1 else (3, 5, 4, 7)
    x = scaled_logits(rng, shape, 3.0, dtype)
    t = rng.random(shape)
    t = (t / t.sum(axis=axis, keepdims=True)).astype(dtype)
    check(simloss.cross_entropy(x, t, axis=axis, reduction="none"),
          optax.softmax_cross_entropy(as_jax(x), as_jax(t), axis=axis), dtype, "reduction none")
    check_value_and_gradient(
        simloss.cross_entropy(x, t, axis=axis, grad=True),
        lambda z: jnp.mean(optax.softmax_cross_entropy(z, as_jax(t), axis=axis)), x, dtype, "mean")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("eps", [0.1, 0.5, 1.0])
def test_label_smoothing_matches_optax_smooth_labels(dtype, eps):
    # PyTorch's label_smoothing is cross-entropy against
    # (1 - eps) one_hot + eps / C, which is optax.smooth_labels.
    rng = np.random.default_rng(6)
    classes = 10
    x = scaled_logits(rng, (32, classes), 5.0, dtype)
    y = rng.integers(0, classes, size=32)
    smoothed = optax.smooth_labels(jax.nn.one_hot(y, classes, dtype=jnp.float64), eps)
    check_value_and_gradient(
        simloss.cross_entropy(x, y, label_smoothing=eps, grad=True),
        lambda z: jnp.mean(optax.softmax_cross_entropy(z, smoothed)), x, dtype, "mean")


def torch_weighted_cross_entropy(z, y, weight, ignore_index, eps, reduction):
    """torch.nn.functional.cross_entropy with class indices, written in
    jax.numpy from PyTorch's documentation: position i's loss is
    (1 - eps) w[y_i] (-log p[y_i]) + eps / C sum_c w[c] (-log p[c]),
    ignored positions count nothing, and "mean" divides by the sum of
    w[y_i] over the counted positions."""
    log_p = jax.nn.log_softmax(z, axis=1)
    counted = y != ignore_index
    safe_y = jnp.where(counted, y, 0)
    w_y = weight[safe_y] * counted
    picked = -jnp.take_along_axis(log_p, safe_y[:, None], axis=1)[:, 0]
    spread = -jnp.sum(log_p * weight[None, :], axis=1) / z.shape[1]
    per_position = jnp.where(counted, (1 - eps) * w_y * picked + eps * spread, 0.0)
    if reduction == "none":
        return per_position
    total = jnp.sum(per_position)
    return total / jnp.sum(w_y) if reduction == "mean" else total


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_weights_and_ignore_index_match_autodiff(dtype, eps, reduction):
    rng = np.random.default_rng(7)
    classes = 5
    x = scaled_logits(rng, (40, classes), 3.0, dtype)
    y = rng.integers(0, classes, size=40)
    y[rng.random(40) < 0.3] = -100
    w = rng.uniform(0.2, 3.0, classes).astype(dtype)
    args = (jnp.asarray(y), as_jax(w), -100, eps)
    check(simloss.cross_entropy(x, y, weight=w, label_smoothing=eps, reduction="none"),
          torch_weighted_cross_entropy(as_jax(x), *args, "none"), dtype, "reduction none")
    check_value_and_gradient(
        simloss.cross_entropy(x, y, weight=w, label_smoothing=eps, reduction=reduction, grad=True),
        lambda z: torch_weighted_cross_entropy(z, *args, reduction), x, dtype, reduction)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_from_probabilities_matches_autodiff(dtype):
    # H(P, Q) = -sum_c P_c max(log Q_c, -100), differentiated by JAX where
    # no log is clamped.
    rng = np.random.default_rng(8)
    q = rng.uniform(0.01, 1.0, size=(6, 5, 3, 4))
    q = (q / q.sum(axis=1, keepdims=True)).astype(dtype)
    p = rng.random(q.shape)
    p = (p / p.sum(axis=1, keepdims=True)).astype(dtype)

    def h(z):
        return jnp.mean(-jnp.sum(as_jax(p) * jnp.maximum(jnp.log(z), -100.0), axis=1))

    check_value_and_gradient(simloss.cross_entropy_from_probs(q, p, grad=True), h, q, dtype, "mean")


# ---------------------------------------------------------------------------
# Binary losses


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 20.0, 1e4])
def test_binary_with_logits_matches_optax(dtype, scale):
    rng = np.random.default_rng(9)
    x = scaled_logits(rng, (8, 33), scale, dtype)
    y = rng.uniform(0, 1, size=x.shape).astype(dtype)  # soft labels
    y[::2] = np.round(y[::2])
    per_element = optax.sigmoid_binary_cross_entropy(as_jax(x), as_jax(y))
    check(simloss.binary_cross_entropy_with_logits(x, y, reduction="none"), per_element, dtype, "reduction none")
    check_value_and_gradient(
        simloss.binary_cross_entropy_with_logits(x, y, grad=True),
        lambda z: jnp.mean(optax.sigmoid_binary_cross_entropy(z, as_jax(y))), x, dtype, "mean")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_weights_and_pos_weight_match_autodiff(dtype):
    # torch.nn.BCEWithLogitsLoss: -w (q y log sigmoid(x) + (1 - y) log sigmoid(-x)),
    # pos_weight q per class (the last axis).
    rng = np.random.default_rng(10)
    x = scaled_logits(rng, (12, 6), 4.0, dtype)
    y = np.round(rng.random(x.shape)).astype(dtype)
    w = rng.uniform(0.5, 2.0, size=(12, 1)).astype(dtype)
    q = rng.uniform(0.5, 4.0, size=6).astype(dtype)

    def loss(z):
        yj, wj, qj = as_jax(y), as_jax(w), as_jax(q)
        return jnp.mean(-wj * (qj * yj * jax.nn.log_sigmoid(z) + (1 - yj) * jax.nn.log_sigmoid(-z)))

    check_value_and_gradient(
        simloss.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=q, grad=True), loss, x, dtype, "mean")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (-1.0, 2.0), (0.25, 0.5), (0.6, 3.0), (0.25, 0.0)])
def test_sigmoid_focal_loss_matches_optax(dtype, alpha, gamma):
    # Saturated logits too (+-40, +-100), where 1 - p_t rounds to 0 in
    # the textbook formula and its gradient for gamma < 1 is NaN; optax
    # (>= 0.2.5) takes the power in log space, as simloss keeps it finite.
    rng = np.random.default_rng(11)
    x = scaled_logits(rng, (10, 30), 4.0, dtype)
    x[0, :8] = [40, -40, 100, -100, 40, -40, 100, -100]
    y = np.round(rng.random(x.shape)).astype(dtype)
    optax_alpha = None if alpha < 0 else alpha

    def loss(z, reduce=jnp.mean):
        return reduce(optax.sigmoid_focal_loss(z, as_jax(y), alpha=optax_alpha, gamma=gamma))

    check(simloss.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction="none"),
          loss(as_jax(x), lambda v: v), dtype, "reduction none")
    check_value_and_gradient(
        simloss.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, grad=True), loss, x, dtype, "mean")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_from_probabilities_matches_autodiff(dtype):
    # torch.nn.BCELoss: -w (y max(log p, -100) + (1 - y) max(log(1 - p), -100)).
    rng = np.random.default_rng(12)
    p = rng.uniform(0.001, 0.999, size=(9, 11)).astype(dtype)
    y = rng.uniform(0, 1, size=p.shape).astype(dtype)
    w = rng.uniform(0.5, 2.0, size=p.shape).astype(dtype)

    def loss(z):
        yj = as_jax(y)
        return jnp.sum(-as_jax(w) * (yj * jnp.maximum(jnp.log(z), -100.0)
                                     + (1 - yj) * jnp.maximum(jnp.log1p(-z), -100.0)))

    check_value_and_gradient(
        simloss.binary_cross_entropy(p, y, weight=w, reduction="sum", grad=True), loss, p, dtype, "sum")
