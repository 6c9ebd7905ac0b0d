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

import numpy as _np

from . import _simloss

__all__ = [
    "l1",
    "mse",
    "psnr",
    "tv",
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


def _layout(layout):
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layout: {layout!r} is not 'NCHW' or 'NHWC'")
    return 1 if layout == "NHWC" else 0


def _shape_and_dtype(obj, name):
    """The shape and numpy dtype of a buffer, without copying it."""
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError(
            f"{name}: expected a float32 or float64 array with the buffer protocol "
            f"(numpy array, memoryview, ...), got {type(obj).__name__}"
        ) from None
    with view:
        fmt = view.format.lstrip("@=<")
        return view.shape, _FLOAT_FORMATS.get(fmt, _np.float64)


def _outputs(first, name, reduction, grad, out, samples_axis=0):
    """Allocates the values array and, when asked, the gradient array."""
    shape, dtype = _shape_and_dtype(first, name)
    count = shape[samples_axis] if reduction == _simloss.REDUCTION_NONE and shape else 1
    values = _np.empty(max(count, 1), dtype=_np.float64)
    if out is not None and not grad:
        raise ValueError("out: given without grad=True")
    gradient = None
    if grad:
        gradient = out if out is not None else _np.empty(shape, dtype=dtype)
    return values, gradient


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
            the mask's weight. A sample whose weight is 0 gives 0.
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
    _simloss.l1(pred, target, mask, values, gradient, r, _layout(layout))
    return _result(values, r, gradient)


def mse(pred, target, *, mask=None, reduction="mean", layout="NCHW", grad=False, out=None):
    """Mean squared error (L2 loss), as ``torch.nn.MSELoss``.

    :func:`l1` with (pred - target)^2 in place of |pred - target|; the same
    arguments, masks and reductions.
    """
    r = _choice("reduction", reduction, _REDUCTIONS)
    values, gradient = _outputs(pred, "pred", r, grad, out)
    _simloss.mse(pred, target, mask, values, gradient, r, _layout(layout))
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
    _simloss.psnr(pred, target, values, gradient, r, float(data_range), _layout(layout))
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
    _simloss.tv(x, values, gradient, r, k, float(eps), _layout(layout))
    return _result(values, r, gradient)


def set_num_threads(n: int) -> None:
    """Sets the number of threads simloss uses (0: SIMLOSS_NUM_THREADS or
    the number of processors). Results never depend on it."""
    _simloss.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads simloss uses now."""
    return _simloss.get_num_threads()
