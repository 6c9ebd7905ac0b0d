"""Float64 reference implementation of the cross-entropy family for the simloss test suite.

Provenance
----------
Written for simloss from the formulas below, not translated from any other
project's code.  The semantics are PyTorch's (``torch.nn.functional.cross_entropy``,
``nll_loss``, ``binary_cross_entropy``, ``binary_cross_entropy_with_logits``)
and torchvision's (``torchvision.ops.sigmoid_focal_loss``), as summarised in
/work/shared/notes/conventions.md ("Cross-entropy (PyTorch semantics)"); every
place where this module deliberately differs from them is marked
**[differs from PyTorch]** below.  Only numpy and scipy.special are used, and
every computation is done in float64.  Gradients are analytic (closed form);
the tests in ``test_cross_entropy_reference.py`` check them against central
finite differences.

Formulas
--------
Softmax cross-entropy, per position n (a row of (N, C), or a pixel of
(N, C, d1..dk)), with log p = log_softmax(x_n) over the class axis::

    class indices y_n:    l_n = -w[y_n] log p[y_n]                      (0 if y_n == ignore_index)
    with smoothing eps:   l_n = (1-eps) (-w[y_n] log p[y_n]) + eps/C sum_c (-w_c log p_c)
    probability targets:  l_n = -sum_c w_c t'_nc log p_c,  t' = (1-eps) t + eps/C

Both index forms are the same thing as l_n = -sum_c a_nc log p_c with the
coefficients a_nc = (1-eps) w[y_n] [c == y_n] + (eps/C) w_c (zero on ignored
positions), and for probability targets a_nc = w_c t'_nc.  Since
d(-log p_c)/dx_k = p_k - [c == k], the gradient of l_n is

    dl_n / dx_nk = p_k * sum_c a_nc - a_nk        (softmax minus smoothed target, weighted).

Reductions: 'none' -> per position (target's shape without the class axis);
'sum' -> sum; 'mean' -> sum / D with D = sum of w[y_n] over counted (not
ignored) positions for class indices (the same D for both smoothing terms,
as PyTorch's ``cross_entropy_loss_label_smoothing``) and D = number of
positions N * d1 * ... * dk for probability targets.

Binary cross-entropy, elementwise::

    from logits:  l = max(x, 0) - x y + log1p(exp(-|x|))
    pos_weight q: l = (1-y) x + (1 + (q-1) y) (log1p(exp(-|x|)) + max(-x, 0))
                  [the last factor is softplus(-x) = -log sigmoid(x)]
    gradient:     (sigmoid(x) - y) w,    with q: ((1 + (q-1) y) sigmoid(x) - q y) w
    from probabilities:  l = -(y max(log p, -100) + (1-y) max(log1p(-p), -100))

Sigmoid focal loss (torchvision): l = a_t * ce * (1 - p_t)^gamma, see
``sigmoid_focal_loss`` for the stable gradient.

Conventions chosen for simloss (and the peer each one matches)
--------------------------------------------------------------
* Layout: the class axis is ``axis`` (1 = channel-first (N, C, d1..dk), as
  PyTorch; -1 = channel-last (N, d1..dk, C)); any valid axis of an array of
  rank >= 2 is accepted.  Internally the class axis is moved last.
* Target kind: an integer-dtype target of the logits' shape without the class
  axis holds class indices; a floating-dtype target of the logits' full shape
  holds probabilities (PyTorch decides the same way: Long -> indices, floating
  of the input's shape -> probabilities).  Anything else is a ValueError.
  Probability targets are not required to sum to 1 (PyTorch does not check).
* ``ignore_index`` applies to class indices only (PyTorch ignores it for
  probability targets).  It may lie inside [0, C), then that class is ignored.
  Any other index outside [0, C) raises ValueError naming the offending values
  (PyTorch raises an index error / device assert).
* 'mean' with a zero denominator (every position ignored, all counted weights
  zero, or an empty batch) returns 0.0 and a zero gradient.
  **[differs from PyTorch]**, which returns NaN (0/0); Keras returns 0.
* Zero coefficients contribute exactly 0: a term a_nc log p_c with a_nc == 0 is
  0 even when log p_c = -inf, so a -inf logit on a class that is neither the
  target nor smoothed-into gives a finite loss.  **[differs from PyTorch]** only
  for a -inf logit whose coefficient is exactly 0 although the position counts
  (zero class weight, or a probability target of exactly 0), where PyTorch
  computes 0 * -inf = NaN.  A -inf logit on the target class gives +inf; with
  label smoothing eps > 0 every class with w_c != 0 has a nonzero coefficient,
  so any -inf logit then gives +inf, as in PyTorch.
* log_softmax subtracts the row maximum (a row of all -inf gives NaN, a +inf
  logit gives NaN, as PyTorch).
* ``weight`` (class weights, shape (C,)) is not validated beyond its shape;
  negative weights are allowed as in PyTorch.
* Gradients: each ``*_grad`` function returns d(sum(grad_output * value))/d(input),
  i.e. the vector-Jacobian product of the loss with ``grad_output`` (default 1;
  for reduction='none' an array broadcastable to the per-position loss).
  For 'mean'/'sum' this is simply d value / d input.
* All results are float64: numpy float64 scalars for 'mean'/'sum', float64
  arrays for 'none' and for gradients.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = [
    "REDUCTIONS",
    "log_softmax",
    "softmax",
    "cross_entropy",
    "cross_entropy_with_count",
    "cross_entropy_grad",
    "nll_from_probs",
    "nll_from_probs_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
]

REDUCTIONS = ("none", "mean", "sum")

#: PyTorch's clamp of log(p) in binary_cross_entropy (``std::max(log(p), -100)``).
LOG_CLAMP = -100.0


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def _norm_axis(axis, ndim, what="logits"):
    if isinstance(axis, bool) or int(axis) != axis:
        raise ValueError(f"axis must be an integer, got {axis!r}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for {what} of rank {ndim}")
    return axis % ndim


def _f64(a, name):
    a = np.asarray(a)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise ValueError(f"{name} must be a numeric array, got dtype {a.dtype}")
    if np.iscomplexobj(a):
        raise ValueError(f"{name} must be real, got dtype {a.dtype}")
    return a.astype(np.float64)


def _safe_mul(coef, logv):
    """coef * logv, with exactly 0 wherever coef == 0 (so 0 * -inf == 0)."""
    with np.errstate(invalid="ignore"):
        return np.where(coef == 0.0, 0.0, coef * logv)


def _reduce(per, reduction, denom):
    """Apply a reduction to per-position losses ``per`` with 'mean' denominator ``denom``."""
    if reduction == "none":
        return per.astype(np.float64)
    total = np.float64(per.sum())
    if reduction == "sum":
        return total
    if denom == 0.0:
        return np.float64(0.0)  # simloss convention (PyTorch: NaN)
    return np.float64(total / denom)


def _scale(reduction, denom, grad_output, per_shape):
    """Upstream factor for every position: grad_output / denom for 'mean'."""
    if reduction == "none":
        go = np.ones(per_shape) if grad_output is None else _f64(grad_output, "grad_output")
        try:
            return np.broadcast_to(go, per_shape).astype(np.float64)
        except ValueError:
            raise ValueError(
                f"grad_output of shape {go.shape} does not broadcast to the loss shape {per_shape}"
            ) from None
    go = 1.0 if grad_output is None else _f64(grad_output, "grad_output")
    if np.ndim(go) != 0:
        raise ValueError(f"grad_output must be a scalar for reduction={reduction!r}")
    go = float(go)
    if reduction == "sum":
        return np.full(per_shape, go)
    if denom == 0.0:
        return np.zeros(per_shape)
    return np.full(per_shape, go / denom)


# --------------------------------------------------------------------------
# (log-)softmax
# --------------------------------------------------------------------------
def log_softmax(x, axis):
    """log softmax of ``x`` along ``axis``: (x - m) - log(sum(exp(x - m))), m = max.

    Subtracting the maximum makes logits of +-1e4 safe.  A -inf entry gives
    log p = -inf (p = 0) for that class and leaves the others finite.  If the
    maximum itself is not finite (a row of all -inf, or a +inf entry) the row
    is NaN, as in PyTorch.
    """
    x = _f64(x, "x")
    axis = _norm_axis(axis, x.ndim, "x")
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        z = x - m
        lse = np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
        return z - lse


def softmax(x, axis):
    """exp(log_softmax(x, axis))."""
    return np.exp(log_softmax(x, axis))


# --------------------------------------------------------------------------
# Softmax cross-entropy
# --------------------------------------------------------------------------
def _ce_prepare(logits, target, weight, ignore_index, label_smoothing, axis):
    """Common part of the cross-entropy functions, everything with classes last.

    Returns (axis, logp (P..., C), coef (P..., C), counted mask (P...), denom,
    soft flag) where coef are the a_nc of the module docstring.
    """
    x = _f64(logits, "logits")
    if x.ndim < 2:
        raise ValueError(
            f"logits must have rank >= 2 ((N, C) or (N, C, d1..dk)), got shape {x.shape}"
        )
    ax = _norm_axis(axis, x.ndim)
    xl = np.moveaxis(x, ax, -1)
    n_classes = xl.shape[-1]
    pos_shape = xl.shape[:-1]
    if n_classes < 1:
        raise ValueError("logits must have at least one class")

    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")

    if weight is None:
        w = np.ones(n_classes)
    else:
        w = _f64(weight, "weight")
        if w.shape != (n_classes,):
            raise ValueError(
                f"weight must have shape ({n_classes},) (one per class), got {w.shape}"
            )

    t = np.asarray(target)
    logp = log_softmax(xl, -1)

    if np.issubdtype(t.dtype, np.floating):
        # ---- probability (soft) targets: the logits' full shape
        if t.shape != x.shape:
            raise ValueError(
                f"probability targets must have the logits' shape {x.shape}, got {t.shape} "
                "(class-index targets must have an integer dtype)"
            )
        tl = np.moveaxis(t.astype(np.float64), ax, -1)
        if eps > 0.0:
            tl = (1.0 - eps) * tl + eps / n_classes
        coef = w * tl
        counted = np.ones(pos_shape, dtype=bool)
        denom = float(np.prod(pos_shape, dtype=np.float64))
        return ax, logp, coef, counted, denom, True

    if not np.issubdtype(t.dtype, np.integer):
        raise ValueError(
            f"target must hold integer class indices or floating probabilities, got dtype {t.dtype}"
        )
    # ---- class indices: the logits' shape without the class axis
    if t.shape != pos_shape:
        raise ValueError(
            f"class-index targets must have shape {pos_shape} (the logits' shape without the "
            f"class axis), got {t.shape}"
        )
    if isinstance(ignore_index, bool) or int(ignore_index) != ignore_index:
        raise ValueError(f"ignore_index must be an integer, got {ignore_index!r}")
    ignored = t == int(ignore_index)
    bad = (~ignored) & ((t < 0) | (t >= n_classes))
    if np.any(bad):
        vals = sorted({int(v) for v in t[bad]})
        raise ValueError(
            f"target class index out of range [0, {n_classes}): {vals[:10]} "
            f"(ignore_index={int(ignore_index)})"
        )
    counted = ~ignored
    y = np.where(counted, t, 0).astype(np.intp)
    onehot = np.zeros(pos_shape + (n_classes,))
    np.put_along_axis(onehot, y[..., None], 1.0, axis=-1)
    w_y = np.where(counted, w[y], 0.0)
    coef = (1.0 - eps) * w_y[..., None] * onehot + (eps / n_classes) * w
    coef = np.where(counted[..., None], coef, 0.0)
    denom = float(w_y.sum())
    return ax, logp, coef, counted, denom, False


def cross_entropy_with_count(logits, target, *, weight=None, ignore_index=-100,
                             label_smoothing=0.0, reduction="mean", axis=1):
    """Softmax cross-entropy and its 'mean' denominator: returns (value, denominator).

    ``denominator`` is what 'mean' divides by, returned for every reduction:
    the sum of w[y_n] over counted (not ignored) positions for class-index
    targets (the number of counted positions when ``weight`` is None), and the
    number of positions N * d1 * ... * dk for probability targets, as a numpy
    float64.  See ``cross_entropy`` for the value.
    """
    reduction = _check_reduction(reduction)
    _, logp, coef, counted, denom, _ = _ce_prepare(
        logits, target, weight, ignore_index, label_smoothing, axis)
    per = -np.sum(_safe_mul(coef, logp), axis=-1)
    per = np.where(counted, per, 0.0)  # ignored positions are exactly 0, whatever the logits
    return _reduce(per, reduction, denom), np.float64(denom)


def cross_entropy(logits, target, *, weight=None, ignore_index=-100, label_smoothing=0.0,
                  reduction="mean", axis=1):
    """Softmax cross-entropy with PyTorch semantics (``F.cross_entropy``).

    Parameters
    ----------
    logits : (N, C) or (N, C, d1..dk) with classes on ``axis`` (1; or -1 for
        channel-last (N, d1..dk, C)).
    target : integer class indices of the logits' shape without the class axis,
        or floating probabilities of the logits' shape.
    weight : optional (C,) class weights w.
    ignore_index : class-index value whose positions contribute 0 and are not
        counted (indices only; default -100 as PyTorch).
    label_smoothing : eps in [0, 1].  Indices: (1-eps) nll + eps/C sum_c(-w_c log p_c),
        both masked and (for 'mean') both divided by the same sum of w[y]
        (PyTorch).  Probabilities: t' = (1-eps) t + eps/C.
    reduction : 'none' (per position, shape of the target without the class
        axis), 'mean' (indices: / sum of w[y] over counted positions;
        probabilities: / number of positions) or 'sum'.

    'mean' with a zero denominator returns 0.0 (simloss; PyTorch returns NaN).
    """
    return cross_entropy_with_count(
        logits, target, weight=weight, ignore_index=ignore_index,
        label_smoothing=label_smoothing, reduction=reduction, axis=axis)[0]


def cross_entropy_grad(logits, target, *, weight=None, ignore_index=-100, label_smoothing=0.0,
                       reduction="mean", axis=1, grad_output=None):
    """Analytic gradient of ``cross_entropy`` with respect to the logits (same shape).

    Per position: (p * sum_c a_c - a) * s, where p = softmax(x), a are the
    weighted (smoothed) target coefficients of the module docstring
    (a_c = (1-eps) w_y [c == y] + eps/C w_c for indices, w_c t'_c for
    probabilities) and s = grad_output / D for 'mean' (D the denominator of
    ``cross_entropy_with_count``), grad_output for 'sum', and the per-position
    grad_output for 'none' (default ones: the gradient of the sum of the
    per-position losses).  Ignored positions, and everything when a 'mean'
    denominator is 0, get exactly 0.  Without smoothing and with indices this
    is s * w_y * (softmax - onehot), PyTorch's backward.

    Evaluated as p_k sum_{c != k} a_c - a_k sum_{c != k} p_c (equal because the
    p_c sum to 1), so that p_y - 1 = -sum_{c != y} p_c keeps its full relative
    accuracy when p_y rounds to 1 (e.g. logits [50, 0], target 0 gives
    -sigmoid(-50), not 0).
    """
    reduction = _check_reduction(reduction)
    ax, logp, coef, counted, denom, _ = _ce_prepare(
        logits, target, weight, ignore_index, label_smoothing, axis)
    p = np.exp(logp)
    s = _scale(reduction, denom, grad_output, counted.shape)
    # p_k sum_c a_c - a_k  ==  p_k sum_{c != k} a_c - a_k sum_{c != k} p_c  (sum_c p_c = 1);
    # the right-hand side has no cancellation in p_y - 1 when p_y rounds to 1.
    off = 1.0 - np.eye(p.shape[-1])
    with np.errstate(invalid="ignore"):
        g = p * (coef @ off) - coef * (p @ off)
        g = g * s[..., None]
    g = np.where(counted[..., None] & (s[..., None] != 0.0), g, 0.0)
    return np.moveaxis(g, -1, ax)


# --------------------------------------------------------------------------
# Cross-entropy between probability vectors H(P, Q)
# --------------------------------------------------------------------------
def _nll_prepare(probs, target_probs, clamp_log, axis):
    q = _f64(probs, "probs")
    pt = _f64(target_probs, "target_probs")
    if q.shape != pt.shape:
        raise ValueError(f"probs and target_probs must have the same shape, got {q.shape} and {pt.shape}")
    if q.ndim < 1:
        raise ValueError("probs must have a class axis")
    ax = _norm_axis(axis, q.ndim, "probs")
    if not np.all((q >= 0.0) & (q <= 1.0)):
        raise ValueError("probs (Q) must lie in [0, 1]")
    with np.errstate(divide="ignore"):
        logq = np.log(q)
    if clamp_log is None:
        active = np.ones(q.shape, dtype=bool)  # no clamp: the raw log everywhere
        used = logq
    else:
        c = float(clamp_log)
        active = logq > c  # where the log is not clamped
        used = np.where(active, logq, c)
    n_pos = float(np.prod([n for i, n in enumerate(q.shape) if i != ax], dtype=np.float64))
    return ax, q, pt, used, active, n_pos


def nll_from_probs(probs, target_probs, *, clamp_log=LOG_CLAMP, reduction="mean", axis=1):
    """H(P, Q) = -sum_c P_c max(log Q_c, clamp_log) along ``axis``, per position.

    ``probs`` is Q (predicted probabilities, must lie in [0, 1]: ValueError
    otherwise), ``target_probs`` is P (same shape, not validated).  The log is
    clamped at ``clamp_log`` (default -100, PyTorch's BCE convention), so
    Q = 0 gives a finite 100 * P_c; ``clamp_log=None`` disables the clamp.
    A term with P_c == 0 is exactly 0 (also unclamped with Q_c = 0).
    'mean' divides by the number of positions (Q.size / C); 'none' returns the
    per-position values (shape without ``axis``); empty input with 'mean' -> 0.0.
    """
    reduction = _check_reduction(reduction)
    ax, q, pt, used, active, n_pos = _nll_prepare(probs, target_probs, clamp_log, axis)
    per = -np.sum(_safe_mul(pt, used), axis=ax)
    return _reduce(per, reduction, n_pos)


def nll_from_probs_grad(probs, target_probs, *, clamp_log=LOG_CLAMP, reduction="mean", axis=1,
                        grad_output=None):
    """Gradient of ``nll_from_probs`` with respect to Q (``probs``).

    -P/Q where log Q > clamp_log (i.e. Q > exp(clamp_log)), else 0: the clamp
    makes the loss constant in Q there (at the kink log Q == clamp_log the
    clamped branch, 0, is taken).  Multiplied by 1/(number of positions) for
    'mean' and by ``grad_output``.  Without a clamp, Q = 0 with P > 0 gives -inf
    and Q = 0 with P = 0 gives 0.
    """
    reduction = _check_reduction(reduction)
    ax, q, pt, used, active, n_pos = _nll_prepare(probs, target_probs, clamp_log, axis)
    per_shape = tuple(np.delete(q.shape, ax))
    s = np.expand_dims(_scale(reduction, n_pos, grad_output, per_shape), ax)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(active & (pt != 0.0), -pt / np.where(active, q, 1.0), 0.0)
        g = np.where(s != 0.0, g * s, 0.0)
    return g


# --------------------------------------------------------------------------
# Binary cross-entropy from logits
# --------------------------------------------------------------------------
def _bcel_prepare(x, y, weight, pos_weight):
    x = _f64(x, "x")
    y = _f64(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")

    def bcast(a, name):
        if a is None:
            return None
        a = _f64(a, name)
        try:
            return np.broadcast_to(a, x.shape)
        except ValueError:
            raise ValueError(f"{name} of shape {a.shape} does not broadcast to {x.shape}") from None

    return x, y, bcast(weight, "weight"), bcast(pos_weight, "pos_weight")


def _softplus_neg(x):
    """softplus(-x) = log(1 + exp(-x)) = log1p(exp(-|x|)) + max(-x, 0), stable."""
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0.0)


def _bce_logits_elementwise(x, y, pos_weight):
    if pos_weight is None:
        return np.maximum(x, 0.0) - x * y + np.log1p(np.exp(-np.abs(x)))
    return (1.0 - y) * x + (1.0 + (pos_weight - 1.0) * y) * _softplus_neg(x)


def binary_cross_entropy_with_logits(x, y, *, weight=None, pos_weight=None, reduction="mean"):
    """PyTorch's ``F.binary_cross_entropy_with_logits``, elementwise then reduced.

    l = max(x, 0) - x y + log1p(exp(-|x|)); with ``pos_weight`` q:
    l = (1-y) x + (1 + (q-1) y) (log1p(exp(-|x|)) + max(-x, 0)).
    ``y`` must have x's shape (not range-checked, as PyTorch); ``weight`` and
    ``pos_weight`` broadcast to x's shape by numpy rules, so a (C,) pos_weight
    applies per class along the last axis (PyTorch).  ``weight`` multiplies each
    element.  'mean' is the mean over all elements (x.size; empty -> 0.0).
    """
    reduction = _check_reduction(reduction)
    x, y, w, q = _bcel_prepare(x, y, weight, pos_weight)
    loss = _bce_logits_elementwise(x, y, q)
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction, float(x.size))


def binary_cross_entropy_with_logits_grad(x, y, *, weight=None, pos_weight=None, reduction="mean",
                                          grad_output=None):
    """d/dx of ``binary_cross_entropy_with_logits``: (sigmoid(x) - y) * weight.

    With pos_weight q: ((1 + (q-1) y) sigmoid(x) - q y) * weight.  Times
    1/x.size for 'mean' and ``grad_output``.  Evaluated in the algebraically
    equal form (1-y) sigmoid(x) - q y sigmoid(-x) (q = 1 without pos_weight),
    sigmoid being scipy's ``expit``, which keeps full relative accuracy for
    saturated logits with y in {0, 1}.
    """
    reduction = _check_reduction(reduction)
    x, y, w, q = _bcel_prepare(x, y, weight, pos_weight)
    # (1 + (q-1) y) s(x) - q y  ==  (1-y) s(x) - q y s(-x)  (s(x) + s(-x) = 1): no
    # cancellation when s(x) rounds to y in {0, 1} (x = 50, y = 1 gives -s(-50), not 0).
    qq = 1.0 if q is None else q
    g = (1.0 - y) * expit(x) - qq * y * expit(-x)
    if w is not None:
        g = g * w
    return g * _scale(reduction, float(x.size), grad_output, x.shape)


# --------------------------------------------------------------------------
# Binary cross-entropy from probabilities
# --------------------------------------------------------------------------
def _bce_prepare(p, y, weight):
    p = _f64(p, "p")
    y = _f64(y, "y")
    if p.shape != y.shape:
        raise ValueError(f"p and y must have the same shape, got {p.shape} and {y.shape}")
    bad = ~((p >= 0.0) & (p <= 1.0))
    if np.any(bad):
        raise ValueError(f"all elements of p must lie in [0, 1]; got e.g. {p[bad].ravel()[:5].tolist()}")
    bad = ~((y >= 0.0) & (y <= 1.0))
    if np.any(bad):
        raise ValueError(f"all elements of y must lie in [0, 1]; got e.g. {y[bad].ravel()[:5].tolist()}")
    w = None
    if weight is not None:
        w = _f64(weight, "weight")
        try:
            w = np.broadcast_to(w, p.shape)
        except ValueError:
            raise ValueError(f"weight of shape {w.shape} does not broadcast to {p.shape}") from None
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
        log_1mp = np.log1p(-p)
    return p, y, w, log_p, log_1mp


def binary_cross_entropy(p, y, *, weight=None, reduction="mean"):
    """PyTorch's ``F.binary_cross_entropy``: -(y max(log p, -100) + (1-y) max(log1p(-p), -100)).

    Each log is clamped at -100 (PyTorch), so p = 0 with y = 1 and p = 1 with
    y = 0 cost exactly 100, and p = y in {0, 1} costs 0 (the clamped log is
    multiplied by a zero coefficient).  p (and y, as recent PyTorch) outside
    [0, 1], or NaN, raises ValueError.  ``weight`` broadcasts to p's shape and
    multiplies each element; 'mean' is over all elements (empty -> 0.0).
    """
    reduction = _check_reduction(reduction)
    p, y, w, log_p, log_1mp = _bce_prepare(p, y, weight)
    # "+ 0.0" turns the -0.0 of p = y in {0, 1} into +0.0
    loss = -(y * np.maximum(log_p, LOG_CLAMP) + (1.0 - y) * np.maximum(log_1mp, LOG_CLAMP)) + 0.0
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction, float(p.size))


def binary_cross_entropy_grad(p, y, *, weight=None, reduction="mean", grad_output=None):
    """Exact derivative of the clamped ``binary_cross_entropy`` with respect to p.

    d/dp [-y max(log p, -100)]        = -y / p        if log p > -100, else 0
    d/dp [-(1-y) max(log1p(-p), -100)] = (1-y) / (1-p) if log1p(-p) > -100, else 0

    (at the kink log == -100 the clamped branch, 0, is taken).  So at p = 0 the
    first term is 0 (clamp active; no 0/0) and the gradient is (1-y)/(1-0) = 1-y:
    finite, 1 for y = 0, 0 for y = 1.  At p = 1 it is -y/1 = -y.  Times weight,
    1/p.size for 'mean' and ``grad_output``.

    **[differs from PyTorch]**: PyTorch's backward is (p - y) / max(p (1-p), 1e-12),
    which ignores the clamp (e.g. it gives 0 at p = 0, y = 0 and -1e12 at
    p = 0, y = 1); away from the clamp and from p(1-p) < 1e-12 the two agree.
    """
    reduction = _check_reduction(reduction)
    p, y, w, log_p, log_1mp = _bce_prepare(p, y, weight)
    act1 = log_p > LOG_CLAMP
    act2 = log_1mp > LOG_CLAMP
    g1 = np.where(act1, -y / np.where(act1, p, 1.0), 0.0)
    g2 = np.where(act2, (1.0 - y) / np.where(act2, 1.0 - p, 1.0), 0.0)
    g = g1 + g2
    if w is not None:
        g = g * w
    return g * _scale(reduction, float(p.size), grad_output, p.shape)


# --------------------------------------------------------------------------
# Sigmoid focal loss (torchvision)
# --------------------------------------------------------------------------
def _focal_parts(x, y, alpha, gamma):
    x = _f64(x, "x")
    y = _f64(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if not np.all((y >= 0.0) & (y <= 1.0)):
        raise ValueError("focal-loss targets y must lie in [0, 1]")
    gamma = float(gamma)
    if not gamma >= 0.0:
        raise ValueError(f"gamma must be >= 0, got {gamma!r}")
    alpha = float(alpha)
    sp_pos = np.logaddexp(0.0, x)  # softplus(x)  = -log sigmoid(-x) = -log(1-p)
    sp_neg = np.logaddexp(0.0, -x)  # softplus(-x) = -log sigmoid(x)  = -log p
    ce = np.maximum(x, 0.0) - x * y + np.log1p(np.exp(-np.abs(x)))
    with np.errstate(divide="ignore"):
        # u = 1 - p_t = y (1-p) + (1-y) p, in log space (both terms >= 0, no cancellation)
        log_u = np.logaddexp(np.log(y) - sp_pos, np.log1p(-y) - sp_neg)
    u_gamma = np.ones_like(x) if gamma == 0.0 else np.exp(gamma * log_u)
    # r = p (1-p) / u, in [0, 1]; equals p for y = 1 and 1-p for y = 0
    r = np.exp(-sp_neg - sp_pos - log_u)
    p = expit(x)
    a_t = alpha * y + (1.0 - alpha) * (1.0 - y) if alpha >= 0.0 else np.ones_like(x)
    return x, y, gamma, ce, u_gamma, r, p, a_t


def sigmoid_focal_loss(x, y, *, alpha=0.25, gamma=2.0, reduction="mean"):
    """torchvision's ``sigmoid_focal_loss`` (Lin et al., 2017).

    p = sigmoid(x); ce = BCE-with-logits(x, y) elementwise;
    p_t = p y + (1-p)(1-y); loss = ce (1 - p_t)^gamma; if alpha >= 0 the loss is
    multiplied by a_t = alpha y + (1-alpha)(1-y).  'mean' over all elements
    (empty -> 0.0), 'sum', or 'none'.

    1 - p_t is evaluated as u = y sigmoid(-x) + (1-y) sigmoid(x) (equal to
    1 - p_t for every y), in log space: log u = logaddexp(log y - softplus(x),
    log(1-y) - softplus(-x)), and u^gamma = exp(gamma log u) (u^0 = 1).  This
    is exact where torchvision's float 1 - p_t rounds to 0 (|x| > ~37 in
    float64); the loss values there differ from torchvision's only by
    underflow-sized amounts.  y must lie in [0, 1] (soft targets allowed, as
    torchvision) and gamma >= 0, else ValueError (torchvision does not check).
    """
    reduction = _check_reduction(reduction)
    x, y, gamma, ce, u_gamma, r, p, a_t = _focal_parts(x, y, alpha, gamma)
    return _reduce(a_t * ce * u_gamma, reduction, float(x.size))


def sigmoid_focal_loss_grad(x, y, *, alpha=0.25, gamma=2.0, reduction="mean", grad_output=None):
    """Analytic d/dx of ``sigmoid_focal_loss``, finite for every gamma >= 0 and x.

    With u = 1 - p_t = y (1-p) + (1-y) p and a_t constant in x:

        dL/dx = a_t [ (p - y) u^gamma + ce * gamma u^(gamma-1) du/dx ],
        du/dx = (1 - 2y) p (1 - p).

    The naive form evaluates u^(gamma-1), infinite when u underflows to 0 for
    gamma < 1 (and 0 * inf = NaN where p(1-p) underflows too).  But
    p (1-p) = r u with r = p (1-p) / u bounded: r = p for y = 1 (u = 1-p),
    r = 1-p for y = 0 (u = p), and in general r <= min(p/y, (1-p)/(1-y)) <= 1.
    Hence u^(gamma-1) du/dx = (1-2y) r u^gamma and

        dL/dx = a_t u^gamma [ (p - y) + gamma (1 - 2y) r ce ],

    a product of finite factors: u^gamma in [0, 1], r in [0, 1], ce <= |x| + log 2.
    r is computed in log space, log r = -softplus(-x) - softplus(x) - log u,
    so it never forms 0/0, and p - y is evaluated as (1-y) sigmoid(x) - y sigmoid(-x).
    Times 1/x.size for 'mean' and ``grad_output``.
    """
    reduction = _check_reduction(reduction)
    x, y, gamma, ce, u_gamma, r, p, a_t = _focal_parts(x, y, alpha, gamma)
    # p - y evaluated as (1-y) sigmoid(x) - y sigmoid(-x) (no cancellation for y in {0, 1})
    p_minus_y = (1.0 - y) * p - y * expit(-x)
    g = a_t * u_gamma * (p_minus_y + gamma * (1.0 - 2.0 * y) * r * ce)
    return g * _scale(reduction, float(x.size), grad_output, x.shape)
