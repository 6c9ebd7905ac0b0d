"""Tests of the float64 cross-entropy reference (``cross_entropy_reference.py``).

The reference is the ground truth for the rest of the simloss Python suite, so
it is checked here against (a) small cases computed by hand with ``math.log`` /
``math.exp``, (b) central finite differences in float64 for every gradient and
option combination (weights + ignore_index + label smoothing, probability
targets, (N, C), (N, C, H, W) and channel-last (N, H, W, C) layouts, every
reduction), (c) extreme inputs (logits of +-1e4 and -inf, probabilities of
exactly 0 and 1, all targets ignored) and (d) identities between the losses
(one-hot probabilities vs indices, binary vs two-class, focal with gamma = 0,
channel-last vs channel-first).  PyTorch is not used.  Every random input comes
from a generator seeded in the test itself.

Run: cd /work/main && python3 -m pytest -q Tests/python/reference/test_cross_entropy_reference.py
"""

import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.special as sps

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cross_entropy_reference as ref  # noqa: E402

REDUCTIONS = ("none", "mean", "sum")
FD_REL_STEP = 1e-6
FD_RTOL = 1e-6


# --------------------------------------------------------------------------
# Finite-difference helpers
# --------------------------------------------------------------------------
def central_fd(f, x, rel_step=FD_REL_STEP):
    """Central differences of the scalar function f at x, step rel_step * max(1, |x_i|)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        h = rel_step * max(1.0, abs(x[i]))
        xp = x.copy()
        xm = x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (xp[i] - xm[i])  # the step actually taken
    return g


def check_grad(loss, grad, x, reduction, rng, rtol=FD_RTOL):
    """Compare grad(x, grad_output) with central differences of sum(grad_output * loss(x)).

    For 'none' a random grad_output is used (so the vector-Jacobian product is
    tested, not just the gradient of the sum).  Absolute tolerance: 1e-8 times
    the size of the objective's terms, which is ~50x the rounding noise of a
    central difference with step 1e-6 (eps * |f| / h ~ 2e-10 |f|).
    """
    if reduction == "none":
        go = rng.uniform(0.5, 1.5, size=np.shape(loss(x)))
        obj = lambda z: float(np.sum(go * loss(z)))  # noqa: E731
        scale = float(np.sum(np.abs(go * loss(x))))
        g = grad(x, go)
    else:
        obj = lambda z: float(loss(z))  # noqa: E731
        scale = abs(obj(x))
        g = grad(x, None)
    fd = central_fd(obj, x)
    assert g.shape == np.shape(x)
    assert g.dtype == np.float64
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, fd, rtol=rtol, atol=1e-8 * max(1.0, scale))
    return g


def random_soft(rng, shape, axis):
    t = rng.uniform(0.05, 1.0, size=shape)
    return t / t.sum(axis=axis, keepdims=True)


def make_ce_case(rng, layout, kind, use_ignore):
    """(logits, target, axis) for a layout: 'flat' (N, C), 'nchw', 'nhwc'."""
    n_classes = 4
    if layout == "flat":
        shape, axis = (5, n_classes), 1
    elif layout == "nchw":
        shape, axis = (2, n_classes, 3, 2), 1
    else:
        shape, axis = (2, 3, 2, n_classes), -1
    logits = 2.0 * rng.standard_normal(shape)
    pos_shape = tuple(np.delete(shape, axis % len(shape)))
    if kind == "soft":
        return logits, random_soft(rng, shape, axis), axis
    target = rng.integers(0, n_classes, size=pos_shape)
    if use_ignore:
        flat = target.reshape(-1)
        flat[::3] = -100  # every third position ignored (at least 2 in every layout)
    return logits, target, axis


# --------------------------------------------------------------------------
# log_softmax
# --------------------------------------------------------------------------
def test_log_softmax_hand_and_scipy():
    # [0, ln 3] -> p = [1/4, 3/4]
    lp = ref.log_softmax(np.array([[0.0, math.log(3.0)]]), axis=1)
    np.testing.assert_allclose(lp, [[math.log(0.25), math.log(0.75)]], rtol=1e-15)
    rng = np.random.default_rng(101)
    x = 5.0 * rng.standard_normal((3, 6, 4))
    for axis in (0, 1, 2, -1):
        np.testing.assert_allclose(ref.log_softmax(x, axis), sps.log_softmax(x, axis=axis),
                                   rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(ref.softmax(x, axis).sum(axis=axis), 1.0, rtol=1e-14)


def test_log_softmax_extremes():
    lp = ref.log_softmax(np.array([[1e4, -1e4, 0.0], [0.0, -np.inf, 0.0]]), axis=1)
    np.testing.assert_array_equal(lp[0], [0.0, -2e4, -1e4])
    assert lp[1, 1] == -np.inf
    np.testing.assert_allclose(lp[1, [0, 2]], -math.log(2.0), rtol=1e-15)
    # a row of all -inf has no distribution: NaN, as PyTorch
    assert np.all(np.isnan(ref.log_softmax(np.array([[-np.inf, -np.inf]]), axis=1)))


# --------------------------------------------------------------------------
# Softmax cross-entropy: hand-computed values
# --------------------------------------------------------------------------
def test_ce_two_equal_logits_is_log2():
    v, count = ref.cross_entropy_with_count(np.array([[0.0, 0.0]]), np.array([0]))
    assert isinstance(v, np.float64) and isinstance(count, np.float64)
    assert v == pytest.approx(math.log(2.0), rel=1e-15)
    assert count == 1.0
    np.testing.assert_allclose(ref.cross_entropy_grad(np.array([[0.0, 0.0]]), np.array([0])),
                               [[-0.5, 0.5]], rtol=1e-15)


def test_ce_three_classes_by_hand():
    x = np.array([[1.0, 2.0, 3.0]])
    s = math.exp(1) + math.exp(2) + math.exp(3)
    for y in range(3):
        expected = -((y + 1.0) - math.log(s))  # -log p_y
        assert ref.cross_entropy(x, np.array([y])) == pytest.approx(expected, rel=1e-14)
        p = [math.exp(k) / s for k in (1, 2, 3)]
        onehot = [1.0 if k == y else 0.0 for k in range(3)]
        np.testing.assert_allclose(ref.cross_entropy_grad(x, np.array([y])),
                                   [[p[k] - onehot[k] for k in range(3)]], rtol=1e-13)


def test_ce_weights_and_ignore_by_hand():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [3.0, 1.0, 0.5]])
    y = np.array([2, 1, -100])
    w = np.array([1.0, 2.0, 3.0])
    s0 = math.exp(1) + math.exp(2) + math.exp(3)
    l0 = 3.0 * (math.log(s0) - 3.0)  # w_2 * -log p_2
    l1 = 2.0 * math.log(3.0)  # w_1 * -log(1/3)
    none = ref.cross_entropy(x, y, weight=w, reduction="none")
    np.testing.assert_allclose(none, [l0, l1, 0.0], rtol=1e-14)
    assert ref.cross_entropy(x, y, weight=w, reduction="sum") == pytest.approx(l0 + l1, rel=1e-14)
    v, count = ref.cross_entropy_with_count(x, y, weight=w)
    assert count == 5.0  # w_2 + w_1; the ignored row is not counted
    assert v == pytest.approx((l0 + l1) / 5.0, rel=1e-14)
    # without weights 'mean' divides by the number of counted rows (2, not 3)
    v, count = ref.cross_entropy_with_count(x, y)
    assert count == 2.0
    assert v == pytest.approx((l0 / 3.0 + l1 / 2.0) / 2.0, rel=1e-14)


def test_ce_label_smoothing_by_hand():
    # PyTorch: (1-eps) * nll + eps/C * sum_c(-w_c log p_c); 'mean' divides both terms
    # by the same sum of w[y] over counted rows.
    x = np.array([[1.0, 2.0, 3.0], [5.0, -1.0, 0.0]])
    y = np.array([1, -100])
    w = np.array([1.0, 2.0, 3.0])
    eps = 0.1
    lse = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    lp = [1.0 - lse, 2.0 - lse, 3.0 - lse]
    nll = -w[1] * lp[1]
    smooth = -(w[0] * lp[0] + w[1] * lp[1] + w[2] * lp[2])
    row = (1 - eps) * nll + eps / 3 * smooth
    none = ref.cross_entropy(x, y, weight=w, label_smoothing=eps, reduction="none")
    np.testing.assert_allclose(none, [row, 0.0], rtol=1e-14)
    v, count = ref.cross_entropy_with_count(x, y, weight=w, label_smoothing=eps)
    assert count == 2.0
    assert v == pytest.approx(row / 2.0, rel=1e-14)
    # gradient: p * sum(a) - a with a = (1-eps) w_y onehot + eps/C w, divided by 2
    p = [math.exp(v_) for v_ in lp]
    a = [eps / 3 * w[0], (1 - eps) * w[1] + eps / 3 * w[1], eps / 3 * w[2]]
    g_row = [(p[k] * sum(a) - a[k]) / 2.0 for k in range(3)]
    g = ref.cross_entropy_grad(x, y, weight=w, label_smoothing=eps)
    np.testing.assert_allclose(g, [g_row, [0.0, 0.0, 0.0]], rtol=1e-13, atol=1e-16)


def test_ce_soft_targets_by_hand():
    # logits [0, ln 3] -> p = [1/4, 3/4]
    x = np.array([[0.0, math.log(3.0)], [0.0, 0.0]])
    t = np.array([[0.5, 0.5], [1.0, 0.0]])
    l0 = -(0.5 * math.log(0.25) + 0.5 * math.log(0.75))
    l1 = math.log(2.0)
    np.testing.assert_allclose(ref.cross_entropy(x, t, reduction="none"), [l0, l1], rtol=1e-14)
    v, count = ref.cross_entropy_with_count(x, t)
    assert count == 2.0
    assert v == pytest.approx((l0 + l1) / 2.0, rel=1e-14)
    # weights and smoothing: t' = 0.8 t + 0.1; l = -sum w_c t'_c log p_c; mean over rows (2)
    w = np.array([2.0, 0.5])
    tp = 0.8 * t + 0.1
    m0 = -(w[0] * tp[0, 0] * math.log(0.25) + w[1] * tp[0, 1] * math.log(0.75))
    m1 = -(w[0] * tp[1, 0] + w[1] * tp[1, 1]) * math.log(0.5)
    v, count = ref.cross_entropy_with_count(x, t, weight=w, label_smoothing=0.2)
    assert count == 2.0
    assert v == pytest.approx((m0 + m1) / 2.0, rel=1e-14)
    # ignore_index does not apply to probability targets
    assert ref.cross_entropy(x, t, ignore_index=0) == pytest.approx((l0 + l1) / 2.0, rel=1e-14)


def test_ce_segmentation_count_and_mean_is_sum_over_count():
    rng = np.random.default_rng(202)
    x = rng.standard_normal((2, 3, 4, 5))
    y = rng.integers(0, 3, size=(2, 4, 5))
    y[0, 0, :] = -100
    w = np.array([0.5, 1.0, 2.0])
    v, count = ref.cross_entropy_with_count(x, y, weight=w)
    assert count == pytest.approx(w[y[y != -100]].sum(), rel=1e-15)
    s = ref.cross_entropy(x, y, weight=w, reduction="sum")
    assert v == pytest.approx(s / count, rel=1e-14)
    none = ref.cross_entropy(x, y, weight=w, reduction="none")
    assert none.shape == (2, 4, 5) and none.dtype == np.float64
    assert np.all(none[0, 0, :] == 0.0)
    # soft targets: count is N*H*W
    _, count = ref.cross_entropy_with_count(x, random_soft(rng, x.shape, 1))
    assert count == 2 * 4 * 5


def test_ce_ignore_index_inside_class_range():
    x = np.array([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    y = np.array([0, 1, 1])
    v, count = ref.cross_entropy_with_count(x, y, ignore_index=1)
    assert count == 1.0
    assert v == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-14)


# --------------------------------------------------------------------------
# Softmax cross-entropy: gradients against finite differences, every combination
# --------------------------------------------------------------------------
INDEX_CASES = list(itertools.product(("flat", "nchw", "nhwc"), (False, True), (False, True),
                                     (0.0, 0.2), REDUCTIONS))


@pytest.mark.parametrize("layout,use_weight,use_ignore,eps,reduction", INDEX_CASES)
def test_ce_grad_fd_index_targets(layout, use_weight, use_ignore, eps, reduction):
    seed = 1000 + INDEX_CASES.index((layout, use_weight, use_ignore, eps, reduction))
    rng = np.random.default_rng(seed)
    logits, target, axis = make_ce_case(rng, layout, "index", use_ignore)
    w = rng.uniform(0.2, 2.0, size=4) if use_weight else None
    kw = dict(weight=w, label_smoothing=eps, reduction=reduction, axis=axis)
    g = check_grad(lambda z: ref.cross_entropy(z, target, **kw),
                   lambda z, go: ref.cross_entropy_grad(z, target, grad_output=go, **kw),
                   logits, reduction, rng)
    if use_ignore:  # ignored positions get exactly zero gradient
        ignored = np.broadcast_to(np.expand_dims(target == -100, axis), g.shape)
        assert np.all(g[ignored] == 0.0)


SOFT_CASES = list(itertools.product(("flat", "nchw", "nhwc"), (False, True), (0.0, 0.2),
                                    REDUCTIONS))


@pytest.mark.parametrize("layout,use_weight,eps,reduction", SOFT_CASES)
def test_ce_grad_fd_soft_targets(layout, use_weight, eps, reduction):
    seed = 2000 + SOFT_CASES.index((layout, use_weight, eps, reduction))
    rng = np.random.default_rng(seed)
    logits, target, axis = make_ce_case(rng, layout, "soft", False)
    w = rng.uniform(0.2, 2.0, size=4) if use_weight else None
    kw = dict(weight=w, label_smoothing=eps, reduction=reduction, axis=axis)
    check_grad(lambda z: ref.cross_entropy(z, target, **kw),
               lambda z, go: ref.cross_entropy_grad(z, target, grad_output=go, **kw),
               logits, reduction, rng)


def test_ce_grad_fd_unnormalised_soft_targets():
    rng = np.random.default_rng(303)
    x = rng.standard_normal((4, 3))
    t = rng.uniform(0.0, 2.0, size=(4, 3))  # rows need not sum to 1 (PyTorch does not check)
    check_grad(lambda z: ref.cross_entropy(z, t), lambda z, go: ref.cross_entropy_grad(z, t),
               x, "mean", rng)


# --------------------------------------------------------------------------
# Softmax cross-entropy: identities
# --------------------------------------------------------------------------
@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_ce_onehot_probabilities_equal_indices(eps):
    rng = np.random.default_rng(404)
    x = 3.0 * rng.standard_normal((6, 5))
    y = rng.integers(0, 5, size=6)
    onehot = np.eye(5)[y]
    w = rng.uniform(0.5, 2.0, size=5)
    for reduction in ("none", "sum"):  # identical with weights for none/sum ...
        a = ref.cross_entropy(x, y, weight=w, label_smoothing=eps, reduction=reduction)
        b = ref.cross_entropy(x, onehot, weight=w, label_smoothing=eps, reduction=reduction)
        np.testing.assert_allclose(a, b, rtol=1e-13)
        np.testing.assert_allclose(
            ref.cross_entropy_grad(x, y, weight=w, label_smoothing=eps, reduction=reduction),
            ref.cross_entropy_grad(x, onehot, weight=w, label_smoothing=eps, reduction=reduction),
            rtol=1e-13, atol=1e-16)
    # ... for 'mean' only without weights (sum of w[y] vs number of rows)
    assert ref.cross_entropy(x, y, label_smoothing=eps) == pytest.approx(
        ref.cross_entropy(x, onehot, label_smoothing=eps), rel=1e-13)
    a = ref.cross_entropy(x, y, weight=w, label_smoothing=eps)
    b = ref.cross_entropy(x, onehot, weight=w, label_smoothing=eps)
    assert a == pytest.approx(b * 6 / w[y].sum(), rel=1e-13)


@pytest.mark.parametrize("kind", ["index", "soft"])
def test_ce_channel_last_equals_channel_first(kind):
    rng = np.random.default_rng(505)
    x_first = 2.0 * rng.standard_normal((2, 4, 3, 5))  # (N, C, H, W)
    x_last = np.transpose(x_first, (0, 2, 3, 1))  # (N, H, W, C)
    if kind == "index":
        t_first = rng.integers(0, 4, size=(2, 3, 5))
        t_first[1, 2, :] = -100
        t_last = t_first
    else:
        t_first = random_soft(rng, x_first.shape, 1)
        t_last = np.transpose(t_first, (0, 2, 3, 1))
    w = np.array([0.5, 1.5, 1.0, 2.0])
    for reduction in REDUCTIONS:
        kw = dict(weight=w, label_smoothing=0.15, reduction=reduction)
        v1, c1 = ref.cross_entropy_with_count(x_first, t_first, axis=1, **kw)
        v2, c2 = ref.cross_entropy_with_count(x_last, t_last, axis=-1, **kw)
        np.testing.assert_allclose(v2, v1, rtol=1e-14, atol=0)
        assert c1 == c2
        g1 = ref.cross_entropy_grad(x_first, t_first, axis=1, **kw)
        g2 = ref.cross_entropy_grad(x_last, t_last, axis=-1, **kw)
        assert g2.shape == x_last.shape
        np.testing.assert_allclose(g2, np.transpose(g1, (0, 2, 3, 1)), rtol=1e-14, atol=1e-17)


def test_ce_grad_output_for_none_is_a_vjp():
    rng = np.random.default_rng(606)
    x = rng.standard_normal((3, 4, 2))
    y = rng.integers(0, 4, size=(3, 2))
    go = rng.standard_normal((3, 2))
    g = ref.cross_entropy_grad(x, y, reduction="none", grad_output=go)
    g_rows = ref.cross_entropy_grad(x, y, reduction="none")
    np.testing.assert_allclose(g, g_rows * go[:, None, :], rtol=1e-15)
    # default 'none' gradient == gradient of 'sum'
    np.testing.assert_array_equal(g_rows, ref.cross_entropy_grad(x, y, reduction="sum"))


# --------------------------------------------------------------------------
# Softmax cross-entropy: extreme inputs
# --------------------------------------------------------------------------
def test_ce_extreme_logits_finite():
    x = np.array([[1e4, -1e4, 0.0]])
    v = ref.cross_entropy(x, np.array([1]))
    assert v == 2e4  # -log p_1 = 1e4 - (-1e4) + log(1 + e^-1e4 + e^-2e4)
    np.testing.assert_array_equal(ref.cross_entropy_grad(x, np.array([1])), [[1.0, -1.0, 0.0]])
    assert ref.cross_entropy(x, np.array([0])) == 0.0
    # saturated softmax: p_0 rounds to 1, but the gradient keeps p_0 - 1 = -sigmoid(-50)
    e = math.exp(-50.0) / (1 + math.exp(-50.0))
    np.testing.assert_allclose(ref.cross_entropy_grad(np.array([[50.0, 0.0]]), np.array([0])),
                               [[-e, e]], rtol=1e-14)
    rng = np.random.default_rng(707)
    xs = rng.choice([-1e4, 1e4, 0.0, 3.0], size=(6, 5, 2))
    ys = rng.integers(0, 5, size=(6, 2))
    soft = random_soft(rng, xs.shape, 1)
    w = rng.uniform(0.5, 2.0, size=5)
    for t in (ys, soft):
        for reduction in REDUCTIONS:
            kw = dict(weight=w, label_smoothing=0.1, reduction=reduction)
            assert np.all(np.isfinite(ref.cross_entropy(xs, t, **kw)))
            assert np.all(np.isfinite(ref.cross_entropy_grad(xs, t, **kw)))
    # moderately large logits: the gradient still matches finite differences
    xm = 30.0 * rng.standard_normal((3, 4))
    ym = rng.integers(0, 4, size=3)
    check_grad(lambda z: ref.cross_entropy(z, ym, label_smoothing=0.1),
               lambda z, go: ref.cross_entropy_grad(z, ym, label_smoothing=0.1),
               xm, "mean", rng)


def test_ce_minus_inf_logits():
    x = np.array([[0.0, -np.inf, 0.0], [1.0, 2.0, -np.inf]])
    y = np.array([0, 1])
    v = ref.cross_entropy(x, y, reduction="none")
    np.testing.assert_allclose(v, [math.log(2.0), math.log(1 + math.exp(-1))], rtol=1e-15)
    g = ref.cross_entropy_grad(x, y, reduction="sum")
    p1 = 1 / (1 + math.e)
    np.testing.assert_allclose(g, [[-0.5, 0.0, 0.5], [p1, -p1, 0.0]], rtol=1e-14)
    # finite with class weights too, including a zero weight on the -inf class
    w = np.array([1.0, 0.0, 2.0])
    assert np.isfinite(ref.cross_entropy(x[:1], y[:1], weight=w))
    # probability targets that put 0 on the -inf class: finite (0 * log 0 := 0)
    t = np.array([[0.3, 0.0, 0.7]])
    assert ref.cross_entropy(x[:1], t) == pytest.approx(math.log(2.0), rel=1e-15)
    assert np.all(np.isfinite(ref.cross_entropy_grad(x[:1], t)))
    # target class at -inf: +inf
    assert ref.cross_entropy(x[:1], np.array([1])) == np.inf
    # label smoothing spreads mass onto the -inf class: +inf (as PyTorch)
    assert ref.cross_entropy(x[:1], np.array([0]), label_smoothing=0.1) == np.inf
    # an ignored row may hold anything, even -inf / NaN logits
    xi = np.array([[0.0, 0.0], [np.nan, -np.inf]])
    yi = np.array([1, -100])
    assert ref.cross_entropy(xi, yi) == pytest.approx(math.log(2.0), rel=1e-15)
    np.testing.assert_array_equal(ref.cross_entropy_grad(xi, yi)[1], [0.0, 0.0])


@pytest.mark.parametrize("use_weight,eps", [(False, 0.0), (True, 0.0), (True, 0.2)])
def test_ce_all_ignored_mean_is_zero(use_weight, eps):
    rng = np.random.default_rng(808)
    x = rng.standard_normal((2, 3, 4))
    y = np.full((2, 4), -100)
    w = np.array([1.0, 2.0, 3.0]) if use_weight else None
    v, count = ref.cross_entropy_with_count(x, y, weight=w, label_smoothing=eps)
    assert count == 0.0
    assert v == 0.0 and isinstance(v, np.float64)
    g = ref.cross_entropy_grad(x, y, weight=w, label_smoothing=eps)
    assert np.all(g == 0.0) and g.shape == x.shape
    assert ref.cross_entropy(x, y, weight=w, label_smoothing=eps, reduction="sum") == 0.0
    # zero-weight denominators are treated the same way
    v0 = ref.cross_entropy(x, rng.integers(0, 3, size=(2, 4)), weight=np.zeros(3))
    assert v0 == 0.0


# --------------------------------------------------------------------------
# Softmax cross-entropy: validation
# --------------------------------------------------------------------------
def test_ce_validation():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"\[3\]"):
        ref.cross_entropy(x, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"\[-1\]"):
        ref.cross_entropy(x, np.array([-1, 0]))
    with pytest.raises(ValueError, match="out of range"):
        ref.cross_entropy_grad(x, np.array([7, 0]))
    with pytest.raises(ValueError, match="integer"):
        ref.cross_entropy(x, np.array([0.0, 1.0]))  # float target of the index shape
    with pytest.raises(ValueError, match="shape"):
        ref.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="shape"):
        ref.cross_entropy(x, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="weight"):
        ref.cross_entropy(x, np.array([0, 1]), weight=np.ones(2))
    with pytest.raises(ValueError, match="label_smoothing"):
        ref.cross_entropy(x, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction"):
        ref.cross_entropy(x, np.array([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match="rank"):
        ref.cross_entropy(np.zeros(3), np.array(0))


# --------------------------------------------------------------------------
# H(P, Q) from probabilities
# --------------------------------------------------------------------------
def test_nll_from_probs_by_hand():
    q = np.array([[0.25, 0.75], [0.5, 0.5], [0.0, 1.0]])
    p = np.array([[0.5, 0.5], [1.0, 0.0], [1.0, 0.0]])
    rows = [-(0.5 * math.log(0.25) + 0.5 * math.log(0.75)), math.log(2.0), 100.0]
    np.testing.assert_allclose(ref.nll_from_probs(q, p, reduction="none"), rows, rtol=1e-14)
    assert ref.nll_from_probs(q, p) == pytest.approx(sum(rows) / 3, rel=1e-14)
    assert ref.nll_from_probs(q, p, reduction="sum") == pytest.approx(sum(rows), rel=1e-14)
    g = ref.nll_from_probs_grad(q, p, reduction="sum")
    # -P/Q where log Q > -100; 0 where clamped (Q = 0) or P = 0
    np.testing.assert_allclose(g, [[-2.0, -0.5 / 0.75], [-2.0, 0.0], [0.0, 0.0]], rtol=1e-15)
    # threshold: Q = exp(-99) is not clamped, Q = exp(-101) is
    qt = np.array([[math.exp(-99.0), 1.0], [math.exp(-101.0), 1.0]])
    pt = np.array([[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(ref.nll_from_probs(qt, pt, reduction="none"), [99.0, 100.0],
                               rtol=1e-14)
    gt = ref.nll_from_probs_grad(qt, pt, reduction="sum")
    assert gt[0, 0] == pytest.approx(-math.exp(99.0), rel=1e-14) and gt[1, 0] == 0.0
    # unclamped
    assert ref.nll_from_probs(q[2:], p[2:], clamp_log=None) == np.inf


def test_nll_from_probs_matches_cross_entropy():
    rng = np.random.default_rng(909)
    x = rng.standard_normal((3, 4, 5))
    y = rng.integers(0, 4, size=(3, 5))
    onehot = np.moveaxis(np.eye(4)[y], -1, 1)
    np.testing.assert_allclose(ref.nll_from_probs(ref.softmax(x, 1), onehot, reduction="none"),
                               ref.cross_entropy(x, y, reduction="none"), rtol=1e-13)


@pytest.mark.parametrize("reduction,axis", list(itertools.product(REDUCTIONS, (1, -1))))
def test_nll_from_probs_grad_fd(reduction, axis):
    rng = np.random.default_rng(1100 + 2 * REDUCTIONS.index(reduction) + (axis == -1))
    q = rng.uniform(0.05, 1.0, size=(2, 3, 4))
    p = random_soft(rng, q.shape, axis)
    kw = dict(reduction=reduction, axis=axis)
    check_grad(lambda z: ref.nll_from_probs(z, p, **kw),
               lambda z, go: ref.nll_from_probs_grad(z, p, grad_output=go, **kw),
               q, reduction, rng)


def test_nll_from_probs_validation():
    with pytest.raises(ValueError):
        ref.nll_from_probs(np.array([[-0.1, 1.1]]), np.array([[0.5, 0.5]]))
    with pytest.raises(ValueError):
        ref.nll_from_probs(np.array([[0.5, 0.5]]), np.array([[1.0, 0.0, 0.0]]))


# --------------------------------------------------------------------------
# Binary cross-entropy from logits
# --------------------------------------------------------------------------
def test_bce_logits_by_hand():
    x = np.array([0.0, 2.0, -3.0, 1.0])
    y = np.array([1.0, 0.0, 1.0, 0.25])
    rows = [math.log(2.0), math.log(1 + math.exp(2.0)), math.log(1 + math.exp(3.0)),
            -(0.25 * math.log(1 / (1 + math.exp(-1.0))) + 0.75 * math.log(1 / (1 + math.exp(1.0))))]
    np.testing.assert_allclose(ref.binary_cross_entropy_with_logits(x, y, reduction="none"), rows,
                               rtol=1e-14)
    assert ref.binary_cross_entropy_with_logits(x, y) == pytest.approx(sum(rows) / 4, rel=1e-14)
    # pos_weight q multiplies the positive term: x = 1, y = 1, q = 3 -> 3 log(1 + e^-1)
    q = np.array([3.0])
    assert ref.binary_cross_entropy_with_logits(np.array([1.0]), np.array([1.0]), pos_weight=q) == \
        pytest.approx(3 * math.log(1 + math.exp(-1.0)), rel=1e-14)
    # soft y = 0.5: (1-y) x + (1 + (q-1) y) log(1 + e^-x) = 0.5 + 2 log(1 + e^-1)
    assert ref.binary_cross_entropy_with_logits(np.array([1.0]), np.array([0.5]), pos_weight=q) == \
        pytest.approx(0.5 + 2 * math.log(1 + math.exp(-1.0)), rel=1e-14)
    # gradient by hand: (sigmoid(x) - y) w / n ; with q: ((1+(q-1)y) s - q y)
    s = 1 / (1 + math.exp(-1.0))
    g = ref.binary_cross_entropy_with_logits_grad(np.array([1.0, 1.0]), np.array([1.0, 0.0]),
                                                  weight=np.array([2.0, 0.5]), pos_weight=q)
    np.testing.assert_allclose(g, [(3 * s - 3) * 2.0 / 2, s * 0.5 / 2], rtol=1e-14)


def test_bce_logits_pos_weight_per_class_last_axis():
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]])
    y = np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    q = np.array([1.0, 2.0, 4.0])
    none = ref.binary_cross_entropy_with_logits(x, y, pos_weight=q, reduction="none")
    for i, j in np.ndindex(x.shape):
        sp = math.log(1 + math.exp(-x[i, j]))
        expected = (1 - y[i, j]) * x[i, j] + (1 + (q[j] - 1) * y[i, j]) * sp
        assert none[i, j] == pytest.approx(expected, rel=1e-14)


def test_bce_logits_equals_two_class_softmax():
    # sigmoid(x) = softmax([0, x])_1, so BCE(x, y) = CE([0, x], [1-y, y])
    rng = np.random.default_rng(1200)
    x = 3.0 * rng.standard_normal(7)
    y = rng.uniform(0, 1, size=7)
    two = ref.cross_entropy(np.stack([np.zeros(7), x], 1), np.stack([1 - y, y], 1), reduction="none")
    np.testing.assert_allclose(ref.binary_cross_entropy_with_logits(x, y, reduction="none"), two,
                               rtol=1e-13)
    np.testing.assert_allclose(
        ref.binary_cross_entropy_with_logits(x, y, reduction="none"),
        ref.binary_cross_entropy(sps.expit(x), y, reduction="none"), rtol=1e-12)


BCEL_CASES = list(itertools.product((False, True), (False, True), REDUCTIONS))


@pytest.mark.parametrize("use_weight,use_pos_weight,reduction", BCEL_CASES)
def test_bce_logits_grad_fd(use_weight, use_pos_weight, reduction):
    rng = np.random.default_rng(1300 + BCEL_CASES.index((use_weight, use_pos_weight, reduction)))
    x = 3.0 * rng.standard_normal((3, 2, 4))
    y = rng.integers(0, 2, size=x.shape).astype(np.float64)
    y[0] = rng.uniform(0, 1, size=(2, 4))  # some soft targets too
    kw = dict(weight=rng.uniform(0.2, 2.0, size=(2, 4)) if use_weight else None,
              pos_weight=rng.uniform(0.5, 4.0, size=4) if use_pos_weight else None,
              reduction=reduction)
    check_grad(lambda z: ref.binary_cross_entropy_with_logits(z, y, **kw),
               lambda z, go: ref.binary_cross_entropy_with_logits_grad(z, y, grad_output=go, **kw),
               x, reduction, rng)


def test_bce_logits_extreme():
    x = np.array([1e4, -1e4, 1e4, -1e4, 50.0, -50.0])
    y = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    none = ref.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(none, [0.0, 1e4, 1e4, 0.0, math.exp(-50.0), math.exp(-50.0)],
                               rtol=1e-14)
    g = ref.binary_cross_entropy_with_logits_grad(x, y, reduction="sum")
    np.testing.assert_allclose(g, [0.0, -1.0, 1.0, 0.0, -math.exp(-50.0), math.exp(-50.0)],
                               rtol=1e-14)
    q = np.full(6, 3.0)
    assert np.all(np.isfinite(ref.binary_cross_entropy_with_logits(x, y, pos_weight=q, reduction="none")))
    assert np.all(np.isfinite(ref.binary_cross_entropy_with_logits_grad(x, y, pos_weight=q)))
    assert ref.binary_cross_entropy_with_logits(x[1:2], y[1:2], pos_weight=q[:1]) == 3e4


# --------------------------------------------------------------------------
# Binary cross-entropy from probabilities
# --------------------------------------------------------------------------
def test_bce_by_hand():
    assert ref.binary_cross_entropy(np.array([0.9]), np.array([1.0])) == \
        pytest.approx(-math.log(0.9), rel=1e-14)  # ~0.105, the seed's example
    p = np.array([0.2, 0.7])
    y = np.array([0.0, 0.4])
    rows = [-math.log(0.8), -(0.4 * math.log(0.7) + 0.6 * math.log(0.3))]
    w = np.array([2.0, 3.0])
    np.testing.assert_allclose(ref.binary_cross_entropy(p, y, weight=w, reduction="none"),
                               [2 * rows[0], 3 * rows[1]], rtol=1e-14)
    assert ref.binary_cross_entropy(p, y, weight=w) == \
        pytest.approx((2 * rows[0] + 3 * rows[1]) / 2, rel=1e-14)
    g = ref.binary_cross_entropy_grad(p, y, reduction="sum")
    np.testing.assert_allclose(g, [1 / 0.8, -0.4 / 0.7 + 0.6 / 0.3], rtol=1e-14)


def test_bce_exact_zero_and_one_clamped():
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5])
    none = ref.binary_cross_entropy(p, y, reduction="none")
    np.testing.assert_array_equal(none, [100.0, 100.0, 0.0, 0.0, 50.0, 50.0])
    assert ref.binary_cross_entropy(p[:4], y[:4]) == 50.0
    # gradient of the clamped loss: clamped terms contribute 0;
    # p = 0: (1-y)/(1-0) = 1 - y ; p = 1: -y/1 = -y
    g = ref.binary_cross_entropy_grad(p, y, reduction="none")
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0, -1.0, 0.5, -0.5])
    np.testing.assert_array_equal(ref.binary_cross_entropy_grad(p, y), g / 6)
    # inside the clamp region (log p < -100) the first term's derivative is 0
    tiny = np.array([1e-50, 1e-50])
    np.testing.assert_allclose(ref.binary_cross_entropy(tiny, np.array([0.3, 1.0]), reduction="none"),
                               [30.0, 100.0], rtol=1e-14)
    np.testing.assert_allclose(ref.binary_cross_entropy_grad(tiny, np.array([0.3, 1.0]),
                                                             reduction="none"), [0.7, 0.0], rtol=1e-14)
    # just outside the clamp region (log p = -99) the usual -y/p + (1-y)/(1-p)
    p99 = np.array([math.exp(-99.0)])
    assert ref.binary_cross_entropy_grad(p99, np.array([1.0]), reduction="sum")[0] == \
        pytest.approx(-math.exp(99.0), rel=1e-14)


BCE_CASES = list(itertools.product((False, True), REDUCTIONS))


@pytest.mark.parametrize("use_weight,reduction", BCE_CASES)
def test_bce_grad_fd(use_weight, reduction):
    rng = np.random.default_rng(1400 + BCE_CASES.index((use_weight, reduction)))
    p = rng.uniform(0.05, 0.95, size=(3, 5))
    y = rng.uniform(0.0, 1.0, size=(3, 5))
    y[0] = rng.integers(0, 2, size=5)
    kw = dict(weight=rng.uniform(0.2, 2.0, size=5) if use_weight else None, reduction=reduction)
    check_grad(lambda z: ref.binary_cross_entropy(z, y, **kw),
               lambda z, go: ref.binary_cross_entropy_grad(z, y, grad_output=go, **kw),
               p, reduction, rng)


def test_bce_validation():
    for bad in (-0.1, 1.1, np.nan):
        with pytest.raises(ValueError, match="p must lie"):
            ref.binary_cross_entropy(np.array([0.5, bad]), np.array([1.0, 0.0]))
        with pytest.raises(ValueError):
            ref.binary_cross_entropy_grad(np.array([0.5, bad]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="y must lie"):
        ref.binary_cross_entropy(np.array([0.5]), np.array([2.0]))
    with pytest.raises(ValueError, match="shape"):
        ref.binary_cross_entropy(np.array([0.5, 0.5]), np.array([1.0]))


# --------------------------------------------------------------------------
# Sigmoid focal loss
# --------------------------------------------------------------------------
def naive_focal(x, y, alpha, gamma):
    """torchvision's formula literally (1 - p_t in float), and its naive derivative."""
    p = sps.expit(x)
    ce = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    p_t = p * y + (1 - p) * (1 - y)
    a_t = alpha * y + (1 - alpha) * (1 - y) if alpha >= 0 else 1.0
    loss = a_t * ce * (1 - p_t) ** gamma
    with np.errstate(divide="ignore", invalid="ignore"):
        du = (1 - 2 * y) * p * (1 - p)
        grad = a_t * ((p - y) * (1 - p_t) ** gamma + ce * gamma * (1 - p_t) ** (gamma - 1) * du)
    return loss, grad


def test_focal_by_hand():
    # x = 0, y = 1: p = 0.5, ce = log 2, p_t = 0.5 -> 0.25 * log 2 * 0.5^2
    assert ref.sigmoid_focal_loss(np.array([0.0]), np.array([1.0])) == \
        pytest.approx(0.25 * math.log(2.0) * 0.25, rel=1e-14)
    # x = ln 3 (p = 3/4), y = 0: ce = ln 4, 1 - p_t = 3/4, a_t = 0.75
    assert ref.sigmoid_focal_loss(np.array([math.log(3.0)]), np.array([0.0])) == \
        pytest.approx(0.75 * math.log(4.0) * 0.5625, rel=1e-14)
    # alpha < 0 disables the alpha factor
    assert ref.sigmoid_focal_loss(np.array([math.log(3.0)]), np.array([0.0]), alpha=-1) == \
        pytest.approx(math.log(4.0) * 0.5625, rel=1e-14)
    # gradient by hand at x = 0, y = 1, gamma = 2, alpha = 0.25:
    # a_t [ (p - y) u^2 + ce * 2 u * (-p(1-p)) ] = 0.25 [ -0.5 * 0.25 - log2 * 2 * 0.5 * 0.25 ]
    g = ref.sigmoid_focal_loss_grad(np.array([0.0]), np.array([1.0]))
    assert g[0] == pytest.approx(0.25 * (-0.125 - 0.25 * math.log(2.0)), rel=1e-14)


def test_focal_matches_naive_formula_and_bce():
    rng = np.random.default_rng(1500)
    x = 4.0 * rng.standard_normal(20)
    y = rng.integers(0, 2, size=20).astype(np.float64)
    y[:5] = rng.uniform(0, 1, size=5)
    for alpha, gamma in [(0.25, 2.0), (-1.0, 0.5), (0.6, 0.25), (0.25, 1.0), (0.25, 0.0)]:
        loss_n, grad_n = naive_focal(x, y, alpha, gamma)
        np.testing.assert_allclose(ref.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma,
                                                          reduction="none"), loss_n, rtol=1e-11)
        np.testing.assert_allclose(ref.sigmoid_focal_loss_grad(x, y, alpha=alpha, gamma=gamma,
                                                               reduction="sum"), grad_n,
                                   rtol=1e-10, atol=1e-15)
    # gamma = 0, alpha < 0 is plain BCE with logits
    np.testing.assert_allclose(ref.sigmoid_focal_loss(x, y, alpha=-1, gamma=0, reduction="none"),
                               ref.binary_cross_entropy_with_logits(x, y, reduction="none"), rtol=1e-15)
    np.testing.assert_allclose(ref.sigmoid_focal_loss_grad(x, y, alpha=-1, gamma=0),
                               ref.binary_cross_entropy_with_logits_grad(x, y), rtol=1e-15)


FOCAL_CASES = list(itertools.product((0.0, 0.25, 0.5, 1.0, 2.0), (0.25, -1.0), REDUCTIONS))


@pytest.mark.parametrize("gamma,alpha,reduction", FOCAL_CASES)
def test_focal_grad_fd(gamma, alpha, reduction):
    rng = np.random.default_rng(1600 + FOCAL_CASES.index((gamma, alpha, reduction)))
    x = 3.0 * rng.standard_normal((3, 6))
    y = rng.integers(0, 2, size=x.shape).astype(np.float64)
    y[0] = rng.uniform(0.05, 0.95, size=6)  # soft targets (torchvision allows them)
    kw = dict(alpha=alpha, gamma=gamma, reduction=reduction)
    check_grad(lambda z: ref.sigmoid_focal_loss(z, y, **kw),
               lambda z, go: ref.sigmoid_focal_loss_grad(z, y, grad_output=go, **kw),
               x, reduction, rng)


@pytest.mark.parametrize("gamma", [0.5, 0.25])
def test_focal_grad_finite_at_saturated_logits(gamma):
    x = np.array([50.0, -50.0, 1e4, -1e4] * 2)
    y = np.array([1.0] * 4 + [0.0] * 4)
    alpha = 0.25
    loss = ref.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction="none")
    g = ref.sigmoid_focal_loss_grad(x, y, alpha=alpha, gamma=gamma, reduction="none")
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(g))
    # the naive formula is NaN exactly where 1 - p_t rounds to 0 (the reason for the rewrite)
    _, g_naive = naive_focal(x, y, alpha, gamma)
    assert not np.isfinite(g_naive[[0, 2, 5, 7]]).any()
    # closed-form limits, written independently with math:
    #   y = 1: u = sigmoid(-x), r = p:   g = a u^gamma [(p - 1) - gamma r ce]
    #   y = 0: u = sigmoid(x),  r = 1-p: g = (1-a) u^gamma [p + gamma r ce]
    def sig(v):
        return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))

    def softplus(v):
        return max(v, 0.0) + math.log1p(math.exp(-abs(v)))

    expected = []
    for xi, yi in zip(x, y):
        p = sig(xi)
        if yi == 1.0:
            ce, log_u, r, a = softplus(-xi), -softplus(xi), p, alpha
            expected.append(a * math.exp(gamma * log_u) * (-sig(-xi) - gamma * r * ce))
        else:
            ce, log_u, r, a = softplus(xi), -softplus(-xi), 1 - p, 1 - alpha
            expected.append(a * math.exp(gamma * log_u) * (p + gamma * r * ce))
    np.testing.assert_allclose(g, expected, rtol=1e-13, atol=0)
    # spot values: confident-correct -> 0; confident-wrong -> -alpha / (1 - alpha)
    assert g[2] == 0.0 and g[7] == 0.0
    assert g[3] == pytest.approx(-alpha, rel=1e-15) and g[6] == pytest.approx(1 - alpha, rel=1e-15)
    assert loss[3] == pytest.approx(alpha * 1e4, rel=1e-15)
    # and at +-50 the analytic gradient still matches finite differences (relative step)
    rng = np.random.default_rng(1700)
    for reduction in REDUCTIONS:
        kw = dict(alpha=alpha, gamma=gamma, reduction=reduction)
        check_grad(lambda z: ref.sigmoid_focal_loss(z, y, **kw),
                   lambda z, go: ref.sigmoid_focal_loss_grad(z, y, grad_output=go, **kw),
                   x, reduction, rng)


def test_focal_validation():
    with pytest.raises(ValueError):
        ref.sigmoid_focal_loss(np.array([0.0]), np.array([1.5]))
    with pytest.raises(ValueError):
        ref.sigmoid_focal_loss(np.array([0.0]), np.array([1.0]), gamma=-1.0)
    with pytest.raises(ValueError):
        ref.sigmoid_focal_loss(np.array([0.0]), np.array([1.0]), reduction="batchmean")


# --------------------------------------------------------------------------
# Output types
# --------------------------------------------------------------------------
def test_outputs_are_float64():
    x = np.array([[0.5, -0.5]], dtype=np.float32)
    for reduction in ("mean", "sum"):
        assert isinstance(ref.cross_entropy(x, np.array([1]), reduction=reduction), np.float64)
        assert isinstance(ref.binary_cross_entropy_with_logits(x, np.ones_like(x),
                                                               reduction=reduction), np.float64)
        assert isinstance(ref.sigmoid_focal_loss(x, np.ones_like(x), reduction=reduction), np.float64)
    assert ref.cross_entropy(x, np.array([1]), reduction="none").dtype == np.float64
    assert ref.cross_entropy_grad(x, np.array([1])).dtype == np.float64
    assert ref.binary_cross_entropy_grad(np.array([0.5], np.float32), np.array([1.0])).dtype == np.float64
