"""simloss: loss functions for image models, and their gradients.

Every loss reads its inputs in place through the buffer protocol (numpy
arrays, memoryviews, anything that exports float32 or float64 buffers, with
any strides) and never copies them. With ``grad=True`` it returns
``(value, gradient)``, the gradient of the returned value with respect to the
first argument, shaped like it and computed in the same pass. The gradient is
written into a new numpy array, or into ``out=``. The GIL is released while
the library computes, so threads calling simloss run in parallel.

Conventions (the C header ``simloss.h`` is the full manual):

- ``reduction="mean"`` (default), ``"sum"`` or ``"none"``; ``"none"`` returns
  a float64 array with one value per sample (index of dimension 0).
- Image losses take (N, C, H, W) arrays, or (N, H, W, C) with
  ``layout="NHWC"``.
- Bad arguments raise ``ValueError`` (shapes, values, options) or
  ``TypeError`` (element types, objects without the buffer protocol), with
  the library's message naming the argument and the offending values.
"""

from __future__ import annotations

import math as _math
import operator as _operator

import numpy as _np

from . import _simloss

__all__ = [
    "l1",
    "mse",
    "psnr",
    "tv",
    "cross_entropy",
    "cross_entropy_from_probs",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy",
    "sigmoid_focal_loss",
    "ssim",
    "ms_ssim",
    "ssim3d",
    "set_num_threads",
    "get_num_threads",
    "__version__",
    "VERSION",
    "RUNTIME_VERSION",
    "BUILD_INFO",
]

__version__ = _simloss.VERSION
#: The version of simloss.h this package was built with.
VERSION = _simloss.VERSION
#: The version of libsimloss.so that is loaded.
RUNTIME_VERSION = _simloss.RUNTIME_VERSION
#: The library's build description, e.g. "version=0.1.0 cpu=haswell ...".
BUILD_INFO = _simloss.BUILD_INFO

_REDUCTIONS = {
    "mean": _simloss.REDUCTION_MEAN,
    "sum": _simloss.REDUCTION_SUM,
    "none": _simloss.REDUCTION_NONE,
}
_TV_KINDS = {
    "anisotropic": _simloss.TV_ANISOTROPIC,
    "isotropic": _simloss.TV_ISOTROPIC,
    "squared": _simloss.TV_SQUARED,
}
_FLOAT_FORMATS = {"f": _np.float32, "d": _np.float64}


def _choice(name, value, table):
    try:
        return table[value]
    except (KeyError, TypeError):
        choices = ", ".join(repr(k) for k in table)
        raise ValueError(f"{name}: {value!r} is not one of {choices}") from None


def _integer(name, value, bits=64):
    """An integer argument the C API takes as a signed `bits`-bit integer,
    named when it is not one (the extension's own OverflowError named
    nothing, and int() truncated 7.9 to 7)."""
    try:
        v = _operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: {value!r} is not an integer") from None
    if not -2**(bits - 1) <= v < 2**(bits - 1):
        raise ValueError(f"{name}: {value!r} is outside the int{bits} range")
    return v


def _real(name, value):
    """A float argument, named when it is not a number. Strings are not
    numbers here (float() would parse "255")."""
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"{name}: {value!r} is not a real number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: {value!r} is not a real number") from None
    except OverflowError:  # an int beyond float64, 10**400
        raise ValueError(f"{name}: {value!r} is outside the float64 range") from None


def _positive(name, value):
    """A float argument that must be > 0. The C API reads 0 as "the
    default"; here the defaults are in the signatures, so an explicit 0 is
    a mistake, refused rather than silently replaced."""
    v = _real(name, value)
    if not (v > 0 and _math.isfinite(v)):
        raise ValueError(f"{name}: {v!r} must be finite and > 0")
    return v


def _layout(layout, first, name, second=None, second_name=None):
    """1 for NHWC, 0 for NCHW; NHWC needs a rank-4 array, or it would be
    silently read as something else. With NHWC, a second array of another
    shape is named here, in the caller's order (the library sees (N, C, H,
    W) views and would print those)."""
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layout: {layout!r} is not 'NCHW' or 'NHWC'")
    if layout == "NHWC":
        shape, _ = _shape_and_dtype(first, name)
        if len(shape) != 4:
            raise ValueError(f"{name}: layout 'NHWC' needs a rank-4 (N, H, W, C) array, got shape {tuple(shape)}")
        if second is not None:
            _require_shape(second, second_name, shape, name)
        return 1
    return 0


def _require_shape(obj, name, shape, other_name):
    """Refuses `obj` unless it has `shape`, the shape of `other_name`, in
    the caller's terms (the library would name its own views)."""
    got, _ = _shape_and_dtype(obj, name)
    if tuple(got) != tuple(shape):
        raise ValueError(f"{name}: shape {tuple(got)} does not match {other_name} shape {tuple(shape)}")


def _shape_and_dtype(obj, name, expected="a float32 or float64 array"):
    """The shape and numpy dtype of a buffer, without copying it."""
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(
            f"{name}: expected {expected} with the buffer protocol "
            f"(numpy array, memoryview, ...), got {type(obj).__name__}"
        ) from None
    with view:
        fmt = view.format.lstrip("@=<")
        return view.shape, _FLOAT_FORMATS.get(fmt, _np.float64)


def _outputs(first, name, reduction, grad, out, samples_axis=0):
    """Allocates the values array and, when asked, the gradient array."""
    shape, _ = _shape_and_dtype(first, name)
    count = shape[samples_axis] if reduction == _simloss.REDUCTION_NONE and shape else 1
    values = _np.empty(max(count, 1), dtype=_np.float64)
    return values, _gradient(first, name, grad, out)


def _result(values, reduction, gradient):
    value = values if reduction == _simloss.REDUCTION_NONE else float(values[0])
    return (value, gradient) if gradient is not None else value


def l1(pred, target, *, mask=None, reduction="mean", layout="NCHW", grad=False, out=None):
    """Mean absolute error (L1 loss), as ``torch.nn.L1Loss``.

    Per sample n: ``sum_i w_i |pred_i - target_i| / sum_i w_i``. ``"mean"``
    is the (weighted) mean over every element of the batch, ``"sum"`` the
    weighted sum, ``"none"`` one value per sample. The derivative of |d| at
    d = 0 is taken as 0.

    Args:
        pred, target: float32 or float64 arrays of equal shape, any rank.
        mask: optional weights >= 0, broadcastable to pred (same rank, each
            dimension equal or 1, e.g. (N, 1, H, W)); the mean is then over
            the mask's weight. A sample whose weight is 0 gives 0. (The
            library's messages call it "weight", its name in the C API.)
        reduction: "mean", "sum" or "none".
        layout: "NCHW" or "NHWC" (only changes how a rank-4 mask broadcasts).
        grad: also return d value / d pred.
        out: optional writable array for the gradient (pred's shape, dtype).

    Returns:
        The value (a float, or a float64 array for "none"), or
        ``(value, gradient)`` with grad=True.
    """
    r = _choice("reduction", reduction, _REDUCTIONS)
    values, gradient = _outputs(pred, "pred", r, grad, out)
    _simloss.l1(pred, target, mask, values, gradient, r, _layout(layout, pred, "pred", target, "target"))
    return _result(values, r, gradient)


def mse(pred, target, *, mask=None, reduction="mean", layout="NCHW", grad=False, out=None):
    """Mean squared error (L2 loss), as ``torch.nn.MSELoss``.

    :func:`l1` with (pred - target)^2 in place of |pred - target|; the same
    arguments, masks and reductions.
    """
    r = _choice("reduction", reduction, _REDUCTIONS)
    values, gradient = _outputs(pred, "pred", r, grad, out)
    _simloss.mse(pred, target, mask, values, gradient, r, _layout(layout, pred, "pred", target, "target"))
    return _result(values, r, gradient)


def psnr(pred, target, *, data_range=1.0, reduction="mean", layout="NCHW", grad=False, out=None):
    """Peak signal-to-noise ratio in dB, per sample, as skimage's
    ``peak_signal_noise_ratio`` of each image.

    ``10 log10(data_range^2 / mse_n)`` for each sample n; ``"mean"`` averages
    over samples. Identical samples give ``inf`` and a zero gradient.

    Args:
        data_range: the span of the input units (1.0 for [0, 1] images, 255
            for 8-bit ones); never inferred from the data.
    """
    r = _choice("reduction", reduction, _REDUCTIONS)
    values, gradient = _outputs(pred, "pred", r, grad, out)
    _simloss.psnr(pred, target, values, gradient, r, _positive("data_range", data_range),
                  _layout(layout, pred, "pred", target, "target"))
    return _result(values, r, gradient)


def tv(x, *, kind="anisotropic", eps=1e-8, reduction="mean", layout="NCHW", grad=False, out=None):
    """Total variation of each image, summed over channels, rows, columns.

    ``"anisotropic"``: sum |dx| + |dy| (TensorFlow's and kornia's
    total_variation); ``"isotropic"``: sum over pixels of
    sqrt(dx^2 + dy^2 + eps), differences past the last row and column taken
    as 0; ``"squared"``: sum dx^2 + dy^2. ``"mean"`` averages the per-image
    sums over the batch.

    Args:
        x: (N, C, H, W) float32 or float64, or (N, H, W, C) with
            layout="NHWC".
        eps: isotropic only, > 0.
    """
    r = _choice("reduction", reduction, _REDUCTIONS)
    k = _choice("kind", kind, _TV_KINDS)
    values, gradient = _outputs(x, "x", r, grad, out)
    # eps applies to the isotropic kind alone; the others ignore it, as C.
    eps = _positive("eps", eps) if k == _simloss.TV_ISOTROPIC else _real("eps", eps)
    _simloss.tv(x, values, gradient, r, k, eps, _layout(layout, x, "x"))
    return _result(values, r, gradient)


def _class_axis(axis, ndim, name):
    """1 (classes second) or -1 / ndim - 1 (classes last), as a flag."""
    axis = _integer("axis", axis)
    if axis == 1 and ndim >= 2:
        return 0
    if axis in (-1, ndim - 1) and ndim >= 2:
        return 1
    raise ValueError(f"axis: {axis!r} for {name} of rank {ndim}; the classes are on axis 1 or on the last axis (-1)")


def _positions_shape(shape, axis_last):
    shape = list(shape)
    del shape[-1 if axis_last else 1]
    return tuple(shape)


def _values_for(reduction, shape):
    """The values array: 1 for mean and sum, one per position for none."""
    count = 1
    if reduction == _simloss.REDUCTION_NONE:
        for n in shape:
            count *= n
    return _np.empty(max(count, 1), dtype=_np.float64)


def _reduced(values, reduction, shape):
    return values.reshape(shape) if reduction == _simloss.REDUCTION_NONE else float(values[0])


def _gradient(first, name, grad, out):
    """The gradient array: `out`, checked to have the shape of `first` (so
    that a mismatch names "out" and the caller's shapes, not the library's
    "grad" and, with layout="NHWC", its permuted ones), or a new array."""
    if out is not None and not grad:
        raise ValueError("out: given without grad=True")
    if not grad:
        return None
    shape, dtype = _shape_and_dtype(first, name)
    if out is None:
        return _np.empty(shape, dtype=dtype)
    _require_shape(out, "out", shape, name)
    return out


def _broadcastable(array, ndim, dtype):
    """A lower-rank weight as a same-rank view (numpy's leading 1s), no copy.
    A Python number or list, which has no dtype of its own, takes `dtype`
    (the logits'): np.asarray made float64 of it, refused with float32
    logits."""
    if array is None:
        return None
    try:
        memoryview(array).release()
        a = _np.asarray(array)
    except TypeError:
        a = _np.asarray(array, dtype=dtype)
    return a.reshape((1,) * (ndim - a.ndim) + a.shape) if a.ndim < ndim else a


def cross_entropy(logits, target, *, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean",
                  axis=1, grad=False, out=None, return_count=False):
    """Categorical cross-entropy from logits, as ``torch.nn.CrossEntropyLoss``.

    ``target`` holds class indices (int32 or int64, the logits' shape less
    the class axis) or probabilities (float, the logits' shape). With
    indices, ``"mean"`` divides by the sum of the weights of the counted
    targets; positions equal to ``ignore_index`` count nothing; if that sum
    is 0 (nothing counts, or the counted weights are 0 or cancel) the result
    is 0 with a zero gradient (PyTorch divides by 0: NaN or inf). With
    probabilities, ``"mean"`` divides by the number of positions.
    ``"none"`` returns one value per position: the logits' shape without
    the class axis (the shape of class-index targets).

    Args:
        logits: (N, C), (N, C, d1, ..., dk), or channel-last
            (N, d1, ..., dk, C) with ``axis=-1``.
        weight: optional (C,) class weights.
        label_smoothing: eps in [0, 1].
        return_count: also return ``(denominator, counted)``: what "mean"
            divided by and how many positions counted, to combine the "sum"
            of data-parallel shards exactly.

    Returns:
        value, ``(value, gradient)`` with grad=True, and a trailing
        ``(denominator, counted)`` with return_count=True.
    """
    r = _choice("reduction", reduction, _REDUCTIONS)
    shape, _ = _shape_and_dtype(logits, "logits")
    axis_last = _class_axis(axis, len(shape), "logits")
    _, target_dtype = _shape_and_dtype(target, "target", "int32 or int64 class indices or a float32 or float64 array")
    soft = _np.dtype(target_dtype).kind == "f" and memoryview(target).format.lstrip("@=<") in ("f", "d")
    values = _values_for(r, _positions_shape(shape, axis_last))
    gradient = _gradient(logits, "logits", grad, out)
    stats = _simloss.cross_entropy(logits, target, weight, values, gradient, r, axis_last,
                                   _integer("ignore_index", ignore_index),
                                   _real("label_smoothing", label_smoothing), soft)
    result = [_reduced(values, r, _positions_shape(shape, axis_last))]
    if gradient is not None:
        result.append(gradient)
    if return_count:
        result.append((stats[0], stats[1]))
    return result[0] if len(result) == 1 else tuple(result)


def cross_entropy_from_probs(probs, target, *, reduction="mean", axis=1, grad=False, out=None):
    """H(P, Q) = -sum_c P_c log Q_c per position, of predicted probabilities
    Q (``probs``, every value in [0, 1]) against target probabilities P, with
    each log clamped at -100 as PyTorch's BCELoss (so Q = 0 is finite). The
    gradient is d value / d probs. Prefer :func:`cross_entropy` on logits
    for training."""
    r = _choice("reduction", reduction, _REDUCTIONS)
    shape, _ = _shape_and_dtype(probs, "probs")
    axis_last = _class_axis(axis, len(shape), "probs")
    values = _values_for(r, _positions_shape(shape, axis_last))
    gradient = _gradient(probs, "probs", grad, out)
    _simloss.cross_entropy_probs(probs, target, values, gradient, r, axis_last)
    result = _reduced(values, r, _positions_shape(shape, axis_last))
    return (result, gradient) if gradient is not None else result


def _binary(kind, name, x, target, weight, pos_weight, reduction, grad, out, alpha=0.25, gamma=2.0):
    r = _choice("reduction", reduction, _REDUCTIONS)
    shape, dtype = _shape_and_dtype(x, name)
    values = _values_for(r, shape)
    gradient = _gradient(x, name, grad, out)
    _simloss.binary(kind, x, target, _broadcastable(weight, len(shape), dtype),
                    _broadcastable(pos_weight, len(shape), dtype),
                    values, gradient, r, _real("alpha", alpha), _real("gamma", gamma))
    result = _reduced(values, r, shape)
    return (result, gradient) if gradient is not None else result


def binary_cross_entropy_with_logits(logits, target, *, weight=None, pos_weight=None, reduction="mean",
                                     grad=False, out=None):
    """Binary cross-entropy from logits, the stable form of
    ``torch.nn.BCEWithLogitsLoss``: ``(1 - y) x + (1 + (q - 1) y) softplus(-x)``.

    ``weight`` and ``pos_weight`` broadcast against the logits as in numpy
    (a (C,) pos_weight applies per class on the last axis). ``"mean"`` is
    over all elements; ``"none"`` returns one value per element."""
    return _binary(0, "logits", logits, target, weight, pos_weight, reduction, grad, out)


def binary_cross_entropy(probs, target, *, weight=None, reduction="mean", grad=False, out=None):
    """Binary cross-entropy from probabilities, as ``torch.nn.BCELoss``: each
    log clamped at -100, so probabilities of exactly 0 and 1 are finite; a
    clamped log contributes 0 to the gradient. Probabilities and targets
    outside [0, 1] raise ValueError."""
    return _binary(1, "probs", probs, target, weight, None, reduction, grad, out)


def sigmoid_focal_loss(logits, target, *, alpha=0.25, gamma=2.0, reduction="mean", grad=False, out=None):
    """Sigmoid focal loss, as ``torchvision.ops.sigmoid_focal_loss`` (whose
    default reduction is "none"; simloss's, like its other losses, "mean").
    ``alpha < 0`` weighs both classes 1. The gradient stays finite for
    ``gamma < 1`` and saturated logits."""
    return _binary(2, "logits", logits, target, None, None, reduction, grad, out, alpha, gamma)


_BORDERS = {"valid": _simloss.SSIM_VALID, "reflect": _simloss.SSIM_REFLECT, "zero": _simloss.SSIM_ZERO}


def _window_size(value):
    """win_size as the C API's int32; 0 (which C reads as 11) refused."""
    v = _integer("win_size", value, 32)
    if v < 1:
        raise ValueError(f"win_size: {value!r} must be an odd size >= 1")
    return v


def _ssim_options(reduction, win_size, data_range, sigma, gaussian, k1, k2, border, sample_covariance,
                  downsample, luma):
    return dict(reduction=_choice("reduction", reduction, _REDUCTIONS), window_size=_window_size(win_size),
                data_range=_positive("data_range", data_range),
                sigma=_positive("sigma", sigma) if gaussian else _real("sigma", sigma),
                k1=_real("k1", k1), k2=_real("k2", k2),
                border=_choice("border", border, _BORDERS), uniform_window=0 if gaussian else 1,
                sample_covariance=1 if sample_covariance else 0, matlab_downsample=1 if downsample else 0,
                luma=1 if luma else 0)


def _nchw_shape(x, name, layout):
    shape, dtype = _shape_and_dtype(x, name)
    if len(shape) != 4:
        raise ValueError(f"{name}: expected rank 4 ({layout}), got shape {tuple(shape)}")
    return ((shape[0], shape[3], shape[1], shape[2]) if layout == "NHWC" else tuple(shape)), dtype


def ssim(x, y, *, data_range=1.0, win_size=11, sigma=1.5, gaussian=True, k1=0.01, k2=0.03, border="valid",
         sample_covariance=False, downsample=False, luma=False, reduction="mean", layout="NCHW",
         full=False, channels=False, grad=False, out=None):
    """Structural similarity (Wang et al. 2004) of each image, averaged.

    The defaults are the reference's (11x11 Gaussian window, sigma 1.5,
    K1 0.01, K2 0.03, valid borders, population covariance) and match
    ``skimage.metrics.structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=...)``. Set
    ``gaussian=False, win_size=7, sample_covariance=True`` for
    scikit-image's own defaults, ``border="reflect"`` for kornia and
    torchmetrics, ``downsample=True`` (with data_range 255) for the MATLAB
    ssim.m numbers of papers, ``luma=True`` for SSIM of the BT.601 Y of RGB.
    ``data_range`` is never inferred from the data. The loss ``1 - ssim``
    has the negated gradient.

    Args:
        x, y: (N, C, H, W), or (N, H, W, C) with layout="NHWC".
        reduction: "mean" over images, "sum", or "none" (one per image).
        full: also return the SSIM map, (N, C', H', W') (C' = 1 for luma).
        channels: also return ``(per_channel, cs)``, each (N, C'): each
            image's and channel's mean SSIM and contrast-structure term.
        grad: also return d value / d x, shaped like x.

    Returns:
        value, then the gradient (grad=True), the map (full=True) and
        ``(per_channel, cs)`` (channels=True), in that order.
    """
    lay = _layout(layout, x, "x", y, "y")
    options = _ssim_options(reduction, win_size, data_range, sigma, gaussian, k1, k2, border,
                            sample_covariance, downsample, luma)
    shape, dtype = _nchw_shape(x, "x", layout)
    r = options["reduction"]
    values = _values_for(r, shape[:1])
    gradient = _gradient(x, "x", grad, out)
    map_ = None
    if full:
        map_ = _np.empty(_simloss.ssim_map_shape(shape, **options), dtype=dtype)
    planes = 1 if luma else shape[1]
    pc = _np.empty(shape[0] * planes) if channels else None
    cs = _np.empty(shape[0] * planes) if channels else None
    _simloss.ssim(x, y, values, gradient, map_, pc, cs, lay, **options)
    result = [_reduced(values, r, shape[:1])]
    if gradient is not None:
        result.append(gradient)
    if full:
        result.append(map_)
    if channels:
        result.append((pc.reshape(shape[0], planes), cs.reshape(shape[0], planes)))
    return result[0] if len(result) == 1 else tuple(result)


def ssim3d(x, y, *, data_range=1.0, win_size=11, sigma=1.5, gaussian=True, k1=0.01, k2=0.03,
           sample_covariance=False, reduction="mean", channels=False, grad=False, out=None):
    """SSIM of volumes (N, C, D, H, W) with a win x win x win window (the
    separable Gaussian, or uniform), over the valid region: :func:`ssim`'s
    conventions in three dimensions, for medical imaging.

    Returns:
        value, then the gradient (grad=True) and ``(per_channel, cs)``
        (channels=True).
    """
    options = _ssim_options(reduction, win_size, data_range, sigma, gaussian, k1, k2, "valid",
                            sample_covariance, False, False)
    shape, _ = _shape_and_dtype(x, "x")
    if len(shape) != 5:
        raise ValueError(f"x: expected rank 5 (N, C, D, H, W), got shape {tuple(shape)}")
    r = options["reduction"]
    values = _values_for(r, shape[:1])
    gradient = _gradient(x, "x", grad, out)
    pc = _np.empty(shape[0] * shape[1]) if channels else None
    cs = _np.empty(shape[0] * shape[1]) if channels else None
    _simloss.ssim3d(x, y, values, gradient, pc, cs, **options)
    result = [_reduced(values, r, shape[:1])]
    if gradient is not None:
        result.append(gradient)
    if channels:
        result.append((pc.reshape(shape[0], shape[1]), cs.reshape(shape[0], shape[1])))
    return result[0] if len(result) == 1 else tuple(result)


def ms_ssim(x, y, *, data_range=1.0, win_size=11, sigma=1.5, gaussian=True, k1=0.01, k2=0.03, weights=None,
            relu=True, floor=1e-6, sample_covariance=False, downsample=False, luma=False, reduction="mean",
            layout="NCHW", grad=False, out=None):
    """Multi-scale SSIM (Wang et al. 2003): prod_{j<M} cs_j^w_j * ssim_M^w_M.

    5 levels with weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333) by
    default; between levels a 2x2 average, odd sides mirror-padded at their
    end (MATLAB, TensorFlow). ``relu`` clamps each term at ``floor`` before
    its power (TensorFlow and pytorch-msssim clamp at 0; the default 1e-6
    keeps the gradient finite, where relu then a fractional power gives the
    NaN of many trainings). Too-small images raise ValueError naming the
    minimum side (161 for window 11 and 5 levels)."""
    lay = _layout(layout, x, "x", y, "y")
    options = _ssim_options(reduction, win_size, data_range, sigma, gaussian, k1, k2, "valid",
                            sample_covariance, downsample, luma)
    shape, _ = _nchw_shape(x, "x", layout)
    r = options["reduction"]
    values = _values_for(r, shape[:1])
    gradient = _gradient(x, "x", grad, out)
    w = None
    if weights is not None:
        w = _np.ascontiguousarray(weights, dtype=_np.float64)
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"weights: shape {w.shape}; MS-SSIM takes one weight per level, at least one")
    _simloss.ms_ssim(x, y, values, gradient, lay, w, 0 if relu else 1, _real("floor", floor), **options)
    result = _reduced(values, r, shape[:1])
    return (result, gradient) if gradient is not None else result


def set_num_threads(n: int) -> None:
    """Sets the number of threads simloss uses (0: SIMLOSS_NUM_THREADS or
    the number of processors). Results never depend on it."""
    _simloss.set_num_threads(_integer("num_threads", n, 32))


def get_num_threads() -> int:
    """The number of threads simloss uses now."""
    return _simloss.get_num_threads()
