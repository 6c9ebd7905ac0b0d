"""simloss.cross_entropy and the binary losses against the float64 numpy
references in reference/cross_entropy_reference.py (written from the
formulas), hand values, extreme inputs and central differences."""
import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import expit

import cross_entropy_reference as ref
import simloss

REDUCTIONS = ["mean", "sum", "none"]


def logits_and_targets(shape_positions, classes, axis, seed, dtype=np.float64, ignore=False):
    rng = np.random.default_rng(seed)
    n, *rest = shape_positions
    logits = rng.normal(0, 3, size=(n, classes, *rest) if axis == 1 else (n, *rest, classes)).astype(dtype)
    target = rng.integers(0, classes, size=shape_positions)
    if ignore:
        target[rng.random(shape_positions) < 0.3] = -100
    return logits, target


CASES = list(itertools.product(
    [(6,), (2, 5, 7)],          # (N,) and a segmentation (N, H, W)
    [1, -1],                    # classes second or last
    [False, True],              # class weights
    [False, True],              # ignore_index
    [0.0, 0.2],                 # label smoothing
    REDUCTIONS,
))


@pytest.mark.parametrize("positions, axis, weighted, ignore, smoothing, reduction", CASES)
def test_cross_entropy_indices_match_reference(positions, axis, weighted, ignore, smoothing, reduction):
    classes = 4
    x, y = logits_and_targets(positions, classes, axis, seed=len(positions) * 10 + classes, ignore=ignore)
    w = np.random.default_rng(1).uniform(0.2, 2.0, classes) if weighted else None
    kwargs = dict(weight=w, label_smoothing=smoothing, reduction=reduction, axis=axis)
    value, grad, (den, counted) = simloss.cross_entropy(x, y, grad=True, return_count=True, **kwargs)
    expected, expected_den = ref.cross_entropy_with_count(x, y, **kwargs)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-14)
    assert den == pytest.approx(expected_den, rel=1e-14)
    assert counted == int(np.sum(y != -100))
    np.testing.assert_allclose(grad, ref.cross_entropy_grad(x, y, **kwargs), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("positions, axis", [((6,), 1), ((2, 5, 7), 1), ((2, 5, 7), -1)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_soft_targets_match_reference(positions, axis, reduction, smoothing):
    x, _ = logits_and_targets(positions, 5, axis, seed=7)
    t = np.random.default_rng(8).random(x.shape)
    t /= t.sum(axis=axis, keepdims=True)
    w = np.random.default_rng(9).uniform(0.5, 1.5, 5)
    kwargs = dict(weight=w, label_smoothing=smoothing, reduction=reduction, axis=axis)
    value, grad = simloss.cross_entropy(x, t, grad=True, **kwargs)
    np.testing.assert_allclose(value, ref.cross_entropy(x, t, **kwargs), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, ref.cross_entropy_grad(x, t, **kwargs), rtol=1e-10, atol=1e-14)


# Class-contiguous logits ((N, C) and channels last) with many positions:
# up to 40 classes in float32 (32 in float64) they are staged, a row of up
# to 512 positions at a time, through class-major scratch for the kernel
# that vectorises positions; with more, one position at a time. 4099
# positions (a prime) end in a short row; 1000 of 40 classes are rows of
# 200, and 41 classes one position at a time (32 and 33 the same in
# float64); 1009 (a prime) of 50
# classes, one position at a time in rows of 327 and a last one of 28
# (per sample, for two samples; and staged, 5 classes).
# Each case against the float64 reference, with every option.
@pytest.mark.parametrize("positions, classes", [
    ((4096,), 2), ((4096,), 10), ((4096,), 16), ((4099,), 3), ((2, 16, 16), 7), ((2, 16, 16), 21),
    ((1000,), 32), ((1000,), 33), ((1000,), 40), ((1000,), 41), ((1009,), 50), ((2, 1009), 50), ((2, 1009), 5),
])
@pytest.mark.parametrize("weighted, ignore, smoothing", [(False, False, 0.0), (True, True, 0.1)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-5)])
def test_cross_entropy_class_contiguous_many_positions(positions, classes, weighted, ignore, smoothing,
                                                       reduction, dtype, rtol):
    x, y = logits_and_targets(positions, classes, -1, seed=classes, dtype=dtype, ignore=ignore)
    w = np.random.default_rng(2).uniform(0.2, 2.0, classes).astype(dtype) if weighted else None
    kwargs = dict(weight=w, label_smoothing=smoothing, reduction=reduction, axis=-1)
    value, grad = simloss.cross_entropy(x, y, grad=True, **kwargs)
    x64 = x.astype(np.float64)
    kw64 = dict(kwargs, weight=None if w is None else w.astype(np.float64))
    # A small float32 loss m + log(sum) - x_y keeps the rounding of m.
    atol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(value, ref.cross_entropy(x64, y, **kw64), rtol=rtol, atol=atol)
    expected = ref.cross_entropy_grad(x64, y, **kw64)
    np.testing.assert_allclose(grad, expected, rtol=rtol, atol=rtol * np.abs(expected).max())
    t = np.random.default_rng(3).random(x.shape)
    t = (t / t.sum(axis=-1, keepdims=True)).astype(dtype)
    value, grad = simloss.cross_entropy(x, t, grad=True, **kwargs)
    np.testing.assert_allclose(value, ref.cross_entropy(x64, t.astype(np.float64), **kw64), rtol=rtol, atol=atol)
    expected = ref.cross_entropy_grad(x64, t.astype(np.float64), **kw64)
    np.testing.assert_allclose(grad, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("axis", [1, -1])
def test_bad_class_index_is_named_in_the_callers_shape(axis):
    # The kernels read 16 x 16 positions as rows of 256; the message names
    # the position as the caller indexes it.
    x, y = logits_and_targets((2, 16, 16), 3, axis, seed=4)
    y[1, 5, 7] = 3
    with pytest.raises(ValueError, match=r"target: class index 3 at \(1, 5, 7\) is outside \[0, 3\)"):
        simloss.cross_entropy(x, y, axis=axis)


def test_cross_entropy_gradient_matches_central_differences():
    x, y = logits_and_targets((3, 4, 5), 6, 1, seed=11, ignore=True)
    w = np.random.default_rng(12).uniform(0.5, 2, 6)
    f = lambda z: simloss.cross_entropy(z, y, weight=w, label_smoothing=0.1)
    _, g = simloss.cross_entropy(x, y, weight=w, label_smoothing=0.1, grad=True)
    h = 1e-6
    flat = x.reshape(-1)
    for k in range(0, flat.size, 5):
        saved = flat[k]
        flat[k] = saved + h
        up = f(x)
        flat[k] = saved - h
        down = f(x)
        flat[k] = saved
        assert g.reshape(-1)[k] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)


def test_cross_entropy_hand_values():
    assert simloss.cross_entropy(np.array([[0.0, 0.0]]), np.array([0])) == pytest.approx(math.log(2), rel=1e-15)
    x = np.array([[1.0, 2.0, 3.0]])
    lse = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    for c in range(3):
        assert simloss.cross_entropy(x, np.array([c])) == pytest.approx(lse - x[0, c], rel=1e-15)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 3e-7), (np.float64, 1e-13)])
def test_cross_entropy_float32_within_rounding(dtype, rtol):
    x, y = logits_and_targets((64,), 1000, 1, seed=13)
    x = x.astype(dtype)
    value, grad = simloss.cross_entropy(x, y, grad=True)
    expected = ref.cross_entropy(x.astype(np.float64), y)
    assert value == pytest.approx(expected, rel=rtol)
    np.testing.assert_allclose(grad, ref.cross_entropy_grad(x.astype(np.float64), y), rtol=1e-5 if dtype == np.float32 else 1e-10, atol=1e-9)


@pytest.mark.parametrize("dtype, unit", [(np.float32, 1.2e-7), (np.float64, 6e-16)])
def test_cross_entropy_per_position_error_within_the_headers_bound(dtype, unit):
    # simloss.h: a position's loss is within unit * (1 + |max logit| +
    # log C) absolute, the rounding of lse. The reference is lse in long
    # double of the same inputs. Many small logits over 5000 classes are
    # where the log C term dominates (the bound without it was exceeded
    # 7x in float32 and 16x in float64).
    rng = np.random.default_rng(17)
    worst = 0.0
    for classes in (2, 10, 33, 1000, 5000, 20000):
        for scale, shift in ((1e-3, 0.0), (1.0, 0.0), (30.0, -50.0), (1e3, 1e3)):
            x = (rng.standard_normal((8, classes)) * scale + shift).astype(dtype)
            y = rng.integers(0, classes, 8)
            xl = x.astype(np.longdouble)
            m = xl.max(axis=1, keepdims=True)
            lse = m[:, 0] + np.log(np.exp(xl - m).sum(axis=1))
            expected = (lse - xl[np.arange(8), y]).astype(np.float64)
            got = simloss.cross_entropy(x, y, reduction="none")
            bound = unit * (1 + np.abs(x.astype(np.float64)).max(axis=1) + math.log(classes))
            worst = max(worst, float((np.abs(got - expected) / bound).max()))
    assert worst <= 1.0
    assert worst > 0.02  # the comparison sees the rounding (not a vacuous bound)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_extreme_logits(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [0.0, -np.inf, 1.0]], dtype)
    y = np.array([0, 2, 0])
    v, g = simloss.cross_entropy(x, y, reduction="none", grad=True)
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(v, ref.cross_entropy(x.astype(np.float64), y, reduction="none"), rtol=1e-6, atol=1e-6)
    assert g[2, 1] == 0  # a -inf logit has probability 0
    v = simloss.cross_entropy(np.array([[0.0, -np.inf]], dtype), np.array([1]))
    assert v == np.inf
    nan = simloss.cross_entropy(np.array([[np.nan, 0.0]], dtype), np.array([1]))
    assert np.isnan(nan)


def test_cross_entropy_all_ignored_mean_is_zero():
    x, _ = logits_and_targets((4,), 3, 1, seed=14)
    y = np.full(4, -100)
    v, g, (den, n) = simloss.cross_entropy(x, y, grad=True, return_count=True)
    assert v == 0 and np.all(g == 0) and den == 0 and n == 0


def test_cross_entropy_channel_last_equals_channel_first():
    x, y = logits_and_targets((2, 6, 5), 7, 1, seed=15)
    last = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    a, ga = simloss.cross_entropy(x, y, grad=True)
    b, gb = simloss.cross_entropy(last, y, axis=-1, grad=True)
    assert a == pytest.approx(b, rel=1e-14)
    np.testing.assert_allclose(ga, np.moveaxis(gb, -1, 1), rtol=1e-13, atol=1e-16)


# Channels last with few classes is staged through class-major scratch for
# the kernel NCHW logits run on, and its gradient streamed when it is large
# (here 2 x 160 x 160 x 21 float32, 8.6 MB): per position, the same
# operations as NCHW, so the per-position losses and the gradient are
# bitwise those of the transposed NCHW call; the means differ only in the
# order of their sums. Float64 (32 classes or fewer staged) and a strided
# gradient (not streamed) take the other paths.
@pytest.mark.parametrize("dtype, classes, strided", [
    (np.float32, 21, False), (np.float32, 21, True), (np.float32, 40, False), (np.float64, 21, False),
    (np.float64, 32, False),
    # 2-7 classes are copied by loops of their own (Transpose.swift).
    (np.float32, 2, False), (np.float32, 5, False), (np.float64, 3, False), (np.float32, 7, True),
])
def test_staged_channel_last_matches_nchw_bitwise(dtype, classes, strided):
    rng = np.random.default_rng(classes)
    x = (rng.standard_normal((2, classes, 160, 160)) * 3).astype(dtype)
    y = rng.integers(0, classes, size=(2, 160, 160))
    y[:, ::5, ::3] = -100
    w = rng.uniform(0.5, 1.5, classes).astype(dtype)
    last = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    for kwargs in [{}, dict(weight=w, label_smoothing=0.1)]:
        a, ga = simloss.cross_entropy(x, y, grad=True, **kwargs)
        out = np.empty(last.shape[:-1] + (2 * classes,), dtype)[..., ::2] if strided else np.empty_like(last)
        b, gb = simloss.cross_entropy(last, y, axis=-1, grad=True, out=out, **kwargs)
        assert b == pytest.approx(a, rel=1e-12 if dtype == np.float64 else 1e-6)
        np.testing.assert_array_equal(np.moveaxis(gb, -1, 1), ga)
        np.testing.assert_array_equal(simloss.cross_entropy(last, y, axis=-1, reduction="none", **kwargs),
                                      simloss.cross_entropy(x, y, reduction="none", **kwargs))


# Staged rows read through any position stride: reversed, every other one.
@pytest.mark.parametrize("classes", [3, 10, 21])
@pytest.mark.parametrize("view", [np.s_[::-1], np.s_[::-2], np.s_[1::3]])
def test_staged_positions_through_any_stride(classes, view):
    rng = np.random.default_rng(classes)
    x = rng.normal(0, 3, (4099, classes)).astype(np.float32)
    y = rng.integers(0, classes, 4099)
    xv, yv = x[view], y[view]
    value, grad = simloss.cross_entropy(xv, yv, grad=True, label_smoothing=0.1)
    x64 = xv.astype(np.float64)
    assert value == pytest.approx(ref.cross_entropy(x64, yv, label_smoothing=0.1), rel=2e-6)
    expected = ref.cross_entropy_grad(x64, yv, label_smoothing=0.1)
    np.testing.assert_allclose(grad, expected, rtol=2e-5, atol=2e-5 * np.abs(expected).max())


def test_cross_entropy_int32_and_int64_targets_agree():
    x, y = logits_and_targets((9,), 4, 1, seed=16)
    assert simloss.cross_entropy(x, y.astype(np.int32)) == simloss.cross_entropy(x, y.astype(np.int64))


def test_cross_entropy_threads_bitwise_equal():
    x, y = logits_and_targets((4, 40, 40), 21, 1, seed=17, dtype=np.float32)
    results = []
    try:
        for n in (1, 2, 3):
            simloss.set_num_threads(n)
            results.append(simloss.cross_entropy(x, y, grad=True))
    finally:
        simloss.set_num_threads(0)
    for v, g in results[1:]:
        assert v == results[0][0] and np.array_equal(g, results[0][1])


@pytest.mark.parametrize("call, exc, message", [
    (lambda: simloss.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), ValueError,
     r"target: class index 3 at \(1\) is outside \[0, 3\) and is not ignore_index \(-100\)"),
    (lambda: simloss.cross_entropy(np.zeros((2, 3)), np.array([0, -1])), ValueError, r"class index -1 at \(1\)"),
    (lambda: simloss.cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])), ValueError,
     r"target: shape \(3\) does not match logits shape \(2, 3\) less its class dimension, \(2\)"),
    (lambda: simloss.cross_entropy(np.zeros((2, 0)), np.array([0, 1])), ValueError, r"logits: dimension 1"),
    (lambda: simloss.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), weight=np.array([1.0, np.nan, 1.0])),
     ValueError, r"weight: weight of class 1 is nan"),
    (lambda: simloss.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=1.5), ValueError,
     r"label_smoothing: 1.5 is outside \[0, 1\]"),
    (lambda: simloss.cross_entropy(np.zeros(3), np.array([0])), ValueError, r"axis: 1 for logits of rank 1"),
    (lambda: simloss.cross_entropy(np.zeros((2, 3), np.float32), np.zeros((2, 3))), TypeError,
     r"target: dtype float64 differs from the call's float32"),
    (lambda: simloss.binary_cross_entropy(np.array([0.5, 1.5]), np.array([0.0, 1.0])), ValueError,
     r"probs: element \(1\) is 1.5; it must be in \[0, 1\]"),
    (lambda: simloss.sigmoid_focal_loss(np.zeros(2), np.zeros(2), gamma=-1), ValueError, r"gamma: -1.0 must be finite and >= 0"),
    (lambda: simloss.cross_entropy_from_probs(np.array([[0.5, -0.5]]), np.array([[1.0, 0.0]])), ValueError,
     r"probs: element \(0, 1\) is -0.5"),
])
def test_cross_entropy_bad_input(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


# The indices are checked and counted before anything is written, in a tally
# of its own (vectorised for dense indices). A bad index anywhere, in either
# integer type, through a strided view, with or without weights: an error
# naming it; a good tensor's count and denominator against numpy.
@pytest.mark.parametrize("itype, bad", [(np.int64, 5), (np.int64, -1), (np.int64, 2**40), (np.int64, -(2**40)),
                                        (np.int32, 5), (np.int32, -(2**31)), (np.int32, 2**31 - 1)])
@pytest.mark.parametrize("where", [(0, 0, 0), (1, 18, 20), (2, 36, 40)])
@pytest.mark.parametrize("weighted, strided", [(False, False), (True, False), (False, True), (True, True)])
def test_cross_entropy_bad_index_found_anywhere(itype, bad, where, weighted, strided):
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (3, 5, 37, 41)).astype(np.float32)
    y = rng.integers(0, 5, (3, 37, 82) if strided else (3, 37, 41)).astype(itype)
    y[rng.random(y.shape) < 0.2] = -100
    view = y[:, :, ::2] if strided else y
    w = rng.uniform(0.5, 2, 5).astype(np.float32) if weighted else None
    value, (den, counted) = simloss.cross_entropy(x, view, weight=w, return_count=True)
    kept = view != -100
    assert counted == int(kept.sum())
    expected_den = (w.astype(np.float64)[np.where(kept, view, 0)] * kept).sum() if weighted else kept.sum()
    assert den == pytest.approx(expected_den, rel=1e-12)
    view[where] = bad
    with pytest.raises(ValueError, match=rf"class index {bad} at \({where[0]}, {where[1]}, {where[2]}\) is outside \[0, 5\)"):
        simloss.cross_entropy(x, view, weight=w)


# --- binary -----------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_bce_with_logits_matches_reference(reduction, dtype, rtol):
    rng = np.random.default_rng(21)
    x = (rng.normal(0, 4, (6, 5))).astype(dtype)
    y = rng.random((6, 5)).astype(dtype)
    w = rng.uniform(0.5, 2, (6, 5)).astype(dtype)
    q = rng.uniform(0.5, 3, 5).astype(dtype)
    v, g = simloss.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=q, reduction=reduction, grad=True)
    args = (x.astype(np.float64), y.astype(np.float64))
    kw = dict(weight=w.astype(np.float64), pos_weight=q.astype(np.float64), reduction=reduction)
    np.testing.assert_allclose(v, ref.binary_cross_entropy_with_logits(*args, **kw), rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(g, ref.binary_cross_entropy_with_logits_grad(*args, **kw), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-13), (np.float32, 5e-7)])
@pytest.mark.parametrize("pos_weight", [None, 2.5])
def test_bce_with_logits_tiny_losses_keep_their_digits(dtype, rtol, pos_weight):
    # Well-classified elements on both sides: y = 0 with x << 0 and y = 1
    # with x >> 0. Each loss is log1p(exp(-|x|)) (times q for y = 1), far
    # below the rounding of |x|: (1 - y) x + softplus(-x) loses it all for
    # y = 0 (-30 + (30 + 9e-14) is 0 in float32).
    x = np.array([-30, -60, -80, -12.5, 30, 60, 80, 12.5], dtype)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype)
    q = 1.0 if pos_weight is None else pos_weight
    kw = {} if pos_weight is None else dict(pos_weight=np.array([pos_weight], dtype))
    v, g = simloss.binary_cross_entropy_with_logits(x, y, reduction="none", grad=True, **kw)
    xd = x.astype(np.float64)
    coefficient = np.where(y == 1, q, 1.0)
    np.testing.assert_allclose(v, coefficient * np.log1p(np.exp(-np.abs(xd))), rtol=rtol, atol=0)
    np.testing.assert_allclose(g, np.where(y == 1, -q * expit(-xd), expit(xd)), rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("pos_weight", [None, 2.5])
def test_bce_with_logits_infinite_logits(dtype, pos_weight):
    # A misclassified infinite logit costs an infinite loss; the gradient is
    # (1 + (q - 1) y) sigmoid(x) - q y, finite. NaN only where 0 * inf is
    # PyTorch's answer too: +inf with y = 1, -inf with y = 0.
    x = np.array([np.inf, np.inf, -np.inf, -np.inf, np.inf, -np.inf], dtype)
    y = np.array([0, 0.25, 1, 0.25, 1, 0], dtype)
    q = 1.0 if pos_weight is None else pos_weight
    kw = {} if pos_weight is None else dict(pos_weight=np.array([pos_weight], dtype))
    v, g = simloss.binary_cross_entropy_with_logits(x, y, reduction="none", grad=True, **kw)
    assert np.all(np.isposinf(v[:4])) and np.all(np.isnan(v[4:]))
    sigmoid = (x > 0).astype(np.float64)
    np.testing.assert_array_equal(g, (1 + (q - 1) * y) * sigmoid - q * y)


# Float32 logits without weights, summed: each row's log1p terms are summed
# as the logarithm of a product (log1pSum). Rows of 40000 logits near 0
# (factors 1 + e near 2; a column slice, so that they stay rows) overflow a
# product not rescaled every 8192 elements, as log1pSum does; 100003 leaves a
# tail of 3; logits from 12 to 90 in size put every e = exp(-|x|) below
# 2^-26, where the terms go to the linear part instead; 16 to 20 straddle
# that threshold. A constant logit (an untrained model's output) and a
# repeated pair of logits round every term the same way, so nothing cancels:
# where terms of elements 16 apart were summed in pairs in float32 (tried,
# not kept) these were 1.2e-7 and 1.8e-7 off. The references are float64
# from the same float32 inputs.
BCE_SUM_CASES = {
    "long rows": lambda rng: (rng.normal(0, 0.5, (2, 50000)).astype(np.float32)[:, :40000], rng.random((2, 40000))),
    "tail": lambda rng: (rng.normal(0, 4, 100003), rng.random(100003) > 0.5),
    "all tiny": lambda rng: signed(rng, rng.uniform(12, 90, 5000)),
    "threshold": lambda rng: signed(rng, rng.uniform(16, 20, 5000)),
    "mostly right": lambda rng: mostly_right(rng.normal(0, 20, (64, 1024))),
    "(N, 1)": lambda rng: (rng.normal(0, 4, (4099, 1)), rng.random((4099, 1)) > 0.5),
    "constant logit": lambda rng: (np.full(1 << 20, -15.939545), np.zeros(1 << 20)),
    "repeated pair": lambda rng: (np.tile(np.repeat([-5.2908835, -5.8811812], 16), 1024), np.zeros(32768)),
}


def signed(rng, magnitude):
    # Well-classified: y = 1 where x > 0, y = 0 where x < 0.
    sign = np.where(rng.random(magnitude.shape) < 0.5, -1.0, 1.0)
    return magnitude * sign, (sign > 0)


def mostly_right(x):
    y = x > 0
    y[::7] = ~y[::7]
    return x, y


@pytest.mark.parametrize("case", BCE_SUM_CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits_float32_sums_match_reference(case, reduction):
    x, y = BCE_SUM_CASES[case](np.random.default_rng(31))
    x, y = x.astype(np.float32, copy=False), y.astype(np.float32)
    v, g = simloss.binary_cross_entropy_with_logits(x, y, reduction=reduction, grad=True)
    args = (x.astype(np.float64), y.astype(np.float64))
    # Measured: 6.5e-8 at most ("repeated pair"; "constant logit" 5.9e-8),
    # the float32 exponential's rounding, the same in every term; 2.2e-9 on
    # the other cases.
    np.testing.assert_allclose(v, ref.binary_cross_entropy_with_logits(*args, reduction=reduction), rtol=1e-7, atol=0)
    # The gradient (unchanged by log1pSum) cancels where a soft target is
    # near sigmoid(x): float32 rounding of the scale of the largest element.
    rg = ref.binary_cross_entropy_with_logits_grad(*args, reduction=reduction)
    np.testing.assert_allclose(g, rg, rtol=2e-6, atol=1e-7 * np.abs(rg).max())
    # The same sum as the per-element losses (computed without log1pSum).
    each = simloss.binary_cross_entropy_with_logits(x, y, reduction="none").astype(np.float64)
    expected = each.sum() / (x.size if reduction == "mean" else 1)
    np.testing.assert_allclose(v, expected, rtol=1e-7, atol=0)


def test_bce_with_logits_float32_sums_propagate_nan_and_infinity():
    x = np.linspace(-5, 5, 3000).astype(np.float32)
    y = (x > 0).astype(np.float32)
    y[::3] = 1 - y[::3]
    for position in [0, 1500, 2999]:
        bad = x.copy()
        bad[position] = np.nan
        assert np.isnan(simloss.binary_cross_entropy_with_logits(bad, y))
        bad[position] = np.inf
        wrong = y.copy()
        wrong[position] = 0
        assert np.isposinf(simloss.binary_cross_entropy_with_logits(bad, wrong))
        # +inf with y = 1 is 0 * inf, NaN, as in test_bce_with_logits_infinite_logits.
        wrong[position] = 1
        assert np.isnan(simloss.binary_cross_entropy_with_logits(bad, wrong))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_losses_on_thin_and_strided_shapes(dtype, reduction):
    # Operands whose dimensions merge ((N, 1), (N, 3) dense) and ones whose
    # do not (a column slice, a transposed view, a broadcast weight), all
    # against the reference on the same logical values.
    rng = np.random.default_rng(32)
    base = rng.normal(0, 3, (40, 9)).astype(dtype)
    target = (rng.random((40, 9)) > 0.5).astype(dtype)
    views = {
        "(N, 1)": (base[:, :1].copy(), target[:, :1].copy()),
        "(N, 3)": (base[:, :3].copy(), target[:, :3].copy()),
        "sliced": (base[:, ::3], target[:, 1::3]),
        "transposed": (base.T, target.T),
        "(N, 1, 3, 1)": (base[:, :3].reshape(40, 1, 3, 1).copy(), target[:, :3].reshape(40, 1, 3, 1).copy()),
    }
    for name, (x, y) in views.items():
        args = (np.array(x, np.float64), np.array(y, np.float64))
        v, g = simloss.binary_cross_entropy_with_logits(x, y, reduction=reduction, grad=True)
        np.testing.assert_allclose(v, ref.binary_cross_entropy_with_logits(*args, reduction=reduction),
                                   rtol=2e-6, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(g, ref.binary_cross_entropy_with_logits_grad(*args, reduction=reduction),
                                   rtol=2e-6, atol=1e-12, err_msg=name)
        q = np.full(x.shape[1:], 2.0, dtype)
        v = simloss.binary_cross_entropy_with_logits(x, y, pos_weight=q, reduction=reduction)
        np.testing.assert_allclose(
            v, ref.binary_cross_entropy_with_logits(*args, pos_weight=q.astype(np.float64), reduction=reduction),
            rtol=2e-6, atol=1e-12, err_msg=name)
        p = expit(args[0]).astype(dtype)
        v = simloss.binary_cross_entropy(p, y, reduction=reduction)
        np.testing.assert_allclose(
            v, ref.binary_cross_entropy(p.astype(np.float64), args[1], reduction=reduction),
            rtol=2e-6, atol=1e-12, err_msg=name)


def test_bad_probability_is_named_by_its_index_in_the_callers_shape():
    # The kernels read (2, 3, 1) as 6 elements in a row; the message names
    # the element as the caller indexes it.
    p = np.full((2, 3, 1), 0.5)
    p[1, 2, 0] = 1.5
    with pytest.raises(ValueError, match=r"probs: element \(1, 2, 0\) is 1.5; it must be in \[0, 1\]"):
        simloss.binary_cross_entropy(p, np.zeros((2, 3, 1)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_bce_matches_reference_including_0_and_1(reduction, dtype, rtol):
    rng = np.random.default_rng(22)
    p = rng.random((4, 6)).astype(dtype)
    p[0, :3] = [0.0, 1.0, 0.0]
    y = (rng.random((4, 6)) > 0.5).astype(dtype)
    y[0, :3] = [1.0, 0.0, 0.0]
    v, g = simloss.binary_cross_entropy(p, y, reduction=reduction, grad=True)
    np.testing.assert_allclose(v, ref.binary_cross_entropy(p.astype(np.float64), y.astype(np.float64), reduction=reduction), rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(g, ref.binary_cross_entropy_grad(p.astype(np.float64), y.astype(np.float64), reduction=reduction), rtol=rtol, atol=1e-12)
    if reduction == "none":
        assert v[0, 0] == 100 and v[0, 1] == 100 and v[0, 2] == 0


@pytest.mark.parametrize("gamma", [0.0, 0.25, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("alpha", [0.25, -1.0])
def test_sigmoid_focal_matches_reference(gamma, alpha):
    rng = np.random.default_rng(23)
    x = rng.normal(0, 3, (5, 7))
    x[0, :4] = [50.0, -50.0, 1e4, -1e4]
    y = (rng.random((5, 7)) > 0.5).astype(np.float64)
    v, g = simloss.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction="none", grad=True)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(v, ref.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction="none"), rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(g, ref.sigmoid_focal_loss_grad(x, y, alpha=alpha, gamma=gamma, reduction="none"), rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-14), (np.float32, 3e-6)])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_sigmoid_focal_tiny_losses_keep_their_digits(dtype, rtol, gamma):
    # As test_bce_with_logits_tiny_losses_keep_their_digits: the focal loss
    # of a well-classified negative is its cross-entropy times p^gamma, and
    # was 0 when that cross-entropy was.
    x = np.array([-8, -12, -15, 8, 12, 15], dtype)
    y = np.array([0, 0, 0, 1, 1, 1], dtype)
    v, g = simloss.sigmoid_focal_loss(x, y, gamma=gamma, reduction="none", grad=True)
    args = (x.astype(np.float64), y.astype(np.float64))
    np.testing.assert_allclose(v, ref.sigmoid_focal_loss(*args, gamma=gamma, reduction="none"), rtol=rtol, atol=0)
    np.testing.assert_allclose(g, ref.sigmoid_focal_loss_grad(*args, gamma=gamma, reduction="none"), rtol=rtol, atol=0)


@pytest.mark.parametrize("gamma", [1.5, 2.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sigmoid_focal_float32_matches_reference(gamma, reduction):
    # gamma = 2 takes u * u, any other gamma exp(gamma log u); both within
    # float32 rounding of the float64 reference.
    rng = np.random.default_rng(25)
    x = rng.normal(0, 4, (64, 33)).astype(np.float32)
    y = (rng.random((64, 33)) > 0.5).astype(np.float32)
    v, g = simloss.sigmoid_focal_loss(x, y, gamma=gamma, reduction=reduction, grad=True)
    args = (x.astype(np.float64), y.astype(np.float64))
    expected = ref.sigmoid_focal_loss(*args, gamma=gamma, reduction=reduction)
    np.testing.assert_allclose(v, expected, rtol=3e-6, atol=1e-6 * np.abs(expected).max())
    expected = ref.sigmoid_focal_loss_grad(*args, gamma=gamma, reduction=reduction)
    np.testing.assert_allclose(g, expected, rtol=3e-6, atol=1e-6 * np.abs(expected).max())


def test_cross_entropy_float32_many_classes_not_contiguous():
    # A language model's (N, vocabulary, T) logits: 50000 classes 3 apart.
    # The float32 per-position sums go to double every 32 classes; summed
    # whole in float32 they were 6.4e-6 off. And 2^25 broadcast classes
    # (stride 0): log(2^25), where a float32 sum stopped at 2^24 (log 2 off).
    rng = np.random.default_rng(5)
    x = rng.normal(0, 3, (2, 50000, 3)).astype(np.float32)
    y = rng.integers(0, 50000, (2, 3))
    v, g = simloss.cross_entropy(x, y, reduction="none", grad=True)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(v, ref.cross_entropy(x64, y, reduction="none"), rtol=1e-7)
    # softmax - one_hot in float64 (the reference's gradient forms a C x C
    # matrix, 20 GB here)
    expected = np.exp(x64 - x64.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    n, t = np.meshgrid(np.arange(2), np.arange(3), indexing="ij")
    expected[n, y, t] -= 1
    np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-12)
    flat = np.broadcast_to(np.float32(0), (1, 2**25))
    assert simloss.cross_entropy(flat, np.array([0])) == pytest.approx(25 * math.log(2), rel=1e-7)


@pytest.mark.parametrize("weight", [[0.0, 0.0, 1.0], [1.0, -1.0, 1.0]])
def test_cross_entropy_mean_over_a_zero_weight_sum_is_zero(weight):
    # The targets' weights sum to 0 (zero, or cancelling): "mean" gives 0
    # and a zero gradient, as with nothing counted; the count is still 2.
    x = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    y = np.array([0, 1])
    w = np.array(weight)
    v, g, (den, counted) = simloss.cross_entropy(x, y, weight=w, label_smoothing=0.2, grad=True, return_count=True)
    assert v == 0 and den == 0 and counted == 2
    assert np.all(g == 0)
    assert simloss.cross_entropy(x, y, weight=w, label_smoothing=0.2, reduction="sum") != 0


@pytest.mark.parametrize("ignore_index", [2**70, -2**63 - 1])
def test_cross_entropy_ignore_index_outside_int64_is_named(ignore_index):
    with pytest.raises(ValueError, match="ignore_index: .* is outside the int64 range"):
        simloss.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), ignore_index=ignore_index)


def test_sigmoid_focal_float32_gradient_finite():
    x = np.array([50, -50, 1e4, -1e4, 30, -30], np.float32)
    for y in (np.ones(6, np.float32), np.zeros(6, np.float32)):
        for gamma in (0.25, 0.5):
            _, g = simloss.sigmoid_focal_loss(x, y, gamma=gamma, grad=True)
            assert np.all(np.isfinite(g))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma", [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0])
def test_sigmoid_focal_nan_gives_nan_gradient(dtype, gamma):
    # A NaN logit or target: NaN loss and NaN gradient there, the other
    # elements untouched (for gamma other than 0 and 2 the gradient was 0).
    x = np.array([0.5, np.nan, -1.0, 2.0], dtype)
    y = np.array([1.0, 1.0, np.nan, 0.0], dtype)
    v, g = simloss.sigmoid_focal_loss(x, y, gamma=gamma, reduction="none", grad=True)
    np.testing.assert_array_equal(np.isnan(v), [False, True, True, False])
    np.testing.assert_array_equal(np.isnan(g), [False, True, True, False])


@pytest.mark.parametrize("axis", [1, -1])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_from_probs_matches_reference(axis, reduction):
    rng = np.random.default_rng(24)
    q = rng.random((3, 4, 5))
    q[0, 0, 0] = 0.0
    q /= q.sum(axis=axis, keepdims=True)
    p = rng.random((3, 4, 5))
    p /= p.sum(axis=axis, keepdims=True)
    v, g = simloss.cross_entropy_from_probs(q, p, axis=axis, reduction=reduction, grad=True)
    np.testing.assert_allclose(v, ref.nll_from_probs(q, p, axis=axis, reduction=reduction), rtol=1e-13)
    np.testing.assert_allclose(g, ref.nll_from_probs_grad(q, p, axis=axis, reduction=reduction), rtol=1e-13)



# The kernel's three loops: classes contiguous ((N, C), channels last; 37
# classes leave a tail after laneSum's 16 lanes), positions contiguous
# (NCHW), and strided views of either; clamped logs (Q = 0 and a Q whose log
# is below -100) and P = 0 terms included; float32 and float64.
@pytest.mark.parametrize("shape, axis, view", [
    ((300, 37), 1, np.s_[...]), ((3, 9, 31), -1, np.s_[...]), ((3, 7, 13, 29), 1, np.s_[...]),
    ((3, 7, 13, 29), 1, np.s_[:, :, ::2, ::-3]), ((300, 37), 1, np.s_[::-2, ::3]),
])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_from_probs_layouts_match_reference(shape, axis, view, dtype, rtol, reduction):
    rng = np.random.default_rng(len(shape) + shape[-1])
    q = rng.random(shape)
    q[(0,) * len(shape)] = 0.0
    q[(1,) * len(shape)] = 1e-44 if dtype == np.float64 else 0.0
    q /= q.sum(axis=axis, keepdims=True)
    p = rng.random(shape)
    p[(2,) * len(shape)] = 0.0
    p /= p.sum(axis=axis, keepdims=True)
    q, p = q.astype(dtype)[view], p.astype(dtype)[view]
    v, g = simloss.cross_entropy_from_probs(q, p, axis=axis, reduction=reduction, grad=True)
    q64, p64 = q.astype(np.float64), p.astype(np.float64)
    expected = ref.nll_from_probs(q64, p64, axis=axis, reduction=reduction)
    np.testing.assert_allclose(v, expected, rtol=rtol, atol=1e-300)
    expected_g = ref.nll_from_probs_grad(q64, p64, axis=axis, reduction=reduction)
    np.testing.assert_allclose(g, expected_g, rtol=rtol, atol=rtol * 1e-30 * np.abs(expected_g).max())

# From probabilities, a position's float32 terms are summed in float32 32
# classes at a time, those sums in double: with thousands of classes the
# values stay within a few float32 ulp of float64's (one float32 sum of
# 4000 terms was 1.8e-6 off; 32 at a time, 1.5e-8).
@pytest.mark.parametrize("classes", [300, 4000])
def test_cross_entropy_from_probs_many_classes_float32(classes):
    rng = np.random.default_rng(classes)
    q, p = rng.random((2, classes, 5, 7)), rng.random((2, classes, 5, 7))
    q, p = (q / q.sum(axis=1, keepdims=True)).astype(np.float32), (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    values = simloss.cross_entropy_from_probs(q, p, reduction="none")
    expected = ref.nll_from_probs(q.astype(np.float64), p.astype(np.float64), reduction="none")
    np.testing.assert_allclose(values, expected, rtol=3e-7)


# Up to 40 float32 classes (32 float64) contiguous, from probabilities: each
# row of positions is copied class-major and run through the NCHW loop, so
# values and gradients are bitwise those of the same data laid out NCHW.
# (N, C) rows are cut at 1024 positions and staged in stretches of
# 8192 / C (at least 64): 2500 x 21 is three rows of 1024, 1024, 452, in
# stretches of 390; 7 x 9 positions leave a last 8 x 8 tile that overlaps;
# 1 x 200 x 260 x 21 (over 4 MiB of gradient) streams the gradient back;
# rows of 1000 positions of 21 classes are staged in three stretches. For
# rank 3 or more the rows are the same in both layouts, and so are the
# mean and sum.
@pytest.mark.parametrize("shape, dtype", [
    (shape, dtype)
    for shape in [(2500, 21), (700, 3), (130, 40), (5, 7, 9, 10), (2, 33, 17, 32), (1, 200, 260, 21),
                  (1, 2, 1000, 21), (3, 1000, 5)]
    for dtype in (np.float32, np.float64)
    if dtype == np.float32 or shape[-1] <= 32  # float64 stages up to 32 classes
])
def test_cross_entropy_from_probs_channels_last_is_nchw_bitwise(shape, dtype):
    rng = np.random.default_rng(2)  # (1, 2, 1000, 21) float64: stretch-wise totals differed in the sum
    q, p = rng.random(shape).astype(dtype), rng.random(shape).astype(dtype)
    q.reshape(-1)[::97] = 0.0
    p.reshape(-1)[::89] = 0.0
    last = simloss.cross_entropy_from_probs(q, p, axis=-1, reduction="none", grad=True)
    # The same positions NCHW: (N, C) as (1, C, N), (N, H, W, C) as (N, C, H, W).
    to_nchw = (lambda a: np.ascontiguousarray(a.T[None])) if len(shape) == 2 else \
        (lambda a: np.ascontiguousarray(np.moveaxis(a, -1, 1)))
    nchw = simloss.cross_entropy_from_probs(to_nchw(q), to_nchw(p), axis=1, reduction="none", grad=True)
    assert last[0].tobytes() == nchw[0].reshape(last[0].shape).tobytes()
    back = nchw[1][0].T if len(shape) == 2 else np.moveaxis(nchw[1], 1, -1)
    assert last[1].tobytes() == np.ascontiguousarray(back).tobytes()
    expected = ref.nll_from_probs(q.astype(np.float64), p.astype(np.float64), axis=-1, reduction="none")
    np.testing.assert_allclose(last[0], expected, rtol=2e-6 if dtype == np.float32 else 1e-12)
    if len(shape) >= 3:
        for reduction in ("mean", "sum"):
            a = simloss.cross_entropy_from_probs(q, p, axis=-1, reduction=reduction)
            b = simloss.cross_entropy_from_probs(to_nchw(q), to_nchw(p), axis=1, reduction=reduction)
            assert a == b, (reduction, a - b)


# Large segmentation batches take the class-strided kernel's other paths:
# dense planes cut into rows of up to 512 positions (1600 -> 4 rows of 400;
# 300 x 301 -> 210 rows of 430, several rows to a block and several blocks
# to an image, each row's maxima taken during the sweep of the row before),
# and a strided view that keeps image rows. Positions with no divisor
# from 256 to 512 are cut into rows of 512 and a shorter last row per
# sample: 1031 (a prime) -> 512, 512, 7; 2 x 1031 -> 4 x 512 + 14; and
# 3 x 100003 float32 positions of 21 classes, 25 MiB of gradient, streamed.
@pytest.mark.parametrize("shape, view", [
    ((2, 5, 40, 40), np.s_[...]),
    ((1, 3, 300, 301), np.s_[...]),
    ((2, 6, 40, 66), np.s_[:, :, ::2, 1::2]),
    ((2, 4, 1031), np.s_[...]),
    ((3, 3, 2, 1031), np.s_[...]),
    ((3, 21, 100003), np.s_[...]),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted, smoothing", [(False, 0.0), (True, 0.1)])
def test_cross_entropy_large_segmentation(shape, view, dtype, weighted, smoothing):
    rng = np.random.default_rng(sum(shape))
    x = rng.normal(0, 3, size=shape).astype(dtype)[view]
    n, c, *rest = x.shape
    y = rng.integers(0, c, size=(n, *rest))
    y[rng.random(y.shape) < 0.2] = -100
    # NaN logits of ignored positions reach neither the loss nor the gradient.
    plane0 = x[:, 0]
    plane0[y == -100] = np.nan
    w = rng.uniform(0.2, 2.0, c).astype(dtype) if weighted else None
    kwargs = dict(weight=w, label_smoothing=smoothing)
    value, grad = simloss.cross_entropy(x, y, grad=True, **kwargs)
    per = simloss.cross_entropy(x, y, reduction="none", **kwargs)
    kwargs["weight"] = None if w is None else w.astype(np.float64)
    xc = np.where(np.isnan(x), 0.0, x).astype(np.float64)
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    assert value == pytest.approx(ref.cross_entropy(xc, y, **kwargs), rel=rtol)
    np.testing.assert_allclose(per, ref.cross_entropy(xc, y, reduction="none", **kwargs), rtol=rtol, atol=1e-6)
    expected_grad = ref.cross_entropy_grad(xc, y, **kwargs)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10 if dtype == np.float64 else 1e-4,
                               atol=1e-16 if dtype == np.float64 else 1e-9)
    assert np.all(grad[np.broadcast_to((y == -100)[:, None], grad.shape)] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_streamed_gradient_equals_the_strided_kernel(dtype, smoothing):
    # A dense gradient of at least 4 MiB is streamed (non-temporal stores,
    # exponentials in scratch); a gradient view with a W stride of 2, or one
    # whose buffer starts off a 64-byte line, takes the other paths. All are
    # the same computation per element, so the gradients are bitwise equal;
    # the values are summed over rows of other lengths (tiles of 2048
    # positions against image rows of 128), so equal to rounding.
    # (4, 21, 128, 128) float32 and (8, 8, 128, 128) float64: 5.5 and 8 MiB
    # of gradient, 168 and 128 KiB of exponentials per row of 2048.
    n, c = (4, 21) if dtype == np.float32 else (8, 8)
    rng = np.random.RandomState(21)
    x = (rng.randn(n, c, 128, 128) * 3).astype(dtype)
    t = rng.randint(0, c, size=(n, 128, 128)).astype(np.int64)
    t[:, ::7, ::3] = -100
    w = (rng.rand(c) + 0.5).astype(dtype)
    kwargs = dict(weight=w, label_smoothing=smoothing, grad=True)
    dense = np.empty_like(x)
    v_dense, _ = simloss.cross_entropy(x, t, out=dense, **kwargs)
    wide = np.empty(x.shape[:3] + (256,), dtype)
    v_wide, _ = simloss.cross_entropy(x, t, out=wide[..., ::2], **kwargs)
    shifted = np.empty(x.size + 3, dtype)[3:].reshape(x.shape)
    v_shifted, _ = simloss.cross_entropy(x, t, out=shifted, **kwargs)
    assert v_dense == v_shifted
    np.testing.assert_allclose(v_wide, v_dense, rtol=1e-14)
    np.testing.assert_array_equal(dense, wide[..., ::2])
    np.testing.assert_array_equal(dense, shifted)
    expected = ref.cross_entropy(x, t, weight=w, label_smoothing=smoothing)
    np.testing.assert_allclose(v_dense, expected, rtol=1e-6 if dtype == np.float32 else 1e-12)


# A thread that writes the class indices while another computes with them
# (Python releases the GIL during the call). The library checks every index
# in one pass and reads them again in the next: an index changed between the
# two was followed out of the logits and the gradient (SIGSEGV within a
# second). Now it is taken as ignored, or the call fails with a message; the
# values are whatever the race gives, but the process lives. Run in a child
# process, so that a crash fails this test rather than the suite.
_RACE = r"""
import ast, sys, threading, time
import numpy as np, simloss
shape, axis, itype, weighted, grad = ast.literal_eval(sys.argv[1])
itype = np.dtype(itype)
rng = np.random.default_rng(0)
x = rng.standard_normal(shape).astype(np.float32)
classes = shape[axis]
positions = shape[:axis] + shape[axis + 1:] if axis >= 0 else shape[:-1]
t = np.zeros(positions, itype)
bad = np.full(positions, np.iinfo(itype).max, itype)
good = np.zeros(positions, itype)
weight = np.linspace(0.5, 2, classes).astype(np.float32) if weighted else None
stop = False
def writer():
    while not stop:
        t[...] = bad
        t[...] = good
threading.Thread(target=writer, daemon=True).start()
calls = refused = 0
end = time.time() + 2
while time.time() < end:
    try:
        simloss.cross_entropy(x, t, axis=axis, weight=weight, grad=grad)
        calls += 1
    except ValueError as e:
        assert "class index" in str(e), e
        refused += 1
stop = True
print(calls, refused)
"""


@pytest.mark.parametrize("case", [
    ((1 << 16, 8), 1, np.int64, False, True),
    ((1 << 16, 8), 1, np.int32, True, False),
    ((4, 21, 64, 64), 1, np.int64, True, True),
    ((4, 64, 64, 21), -1, np.int64, False, True),
])
def test_targets_written_during_the_call_do_not_crash(case):
    shape, axis, itype, weighted, grad = case
    arg = repr((shape, axis, np.dtype(itype).name, weighted, grad))
    proc = subprocess.run([sys.executable, "-c", _RACE, arg], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    calls, refused = map(int, proc.stdout.split())
    assert calls + refused > 10
