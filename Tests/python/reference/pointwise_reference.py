"""float64 numpy references for the foundation losses (L1, MSE, PSNR, total
variation), written from the formulas in simloss.h and the seed documents,
independently of the library. Inputs are (N, ...) arrays; values per sample.
"""
import numpy as np


def _per_sample(a):
    return a.reshape(a.shape[0], -1)


def pointwise(kind, pred, target, weight=None, reduction="mean"):
    """L1 (kind="l1") or MSE (kind="mse"): sum w f(d) / sum w per sample;
    'mean' is the weighted mean over the batch; a zero weight gives 0."""
    d = np.asarray(pred, np.float64) - np.asarray(target, np.float64)
    f = np.abs(d) if kind == "l1" else d * d
    w = np.ones_like(d) if weight is None else np.broadcast_to(np.asarray(weight, np.float64), d.shape)
    s, ws = _per_sample(w * f).sum(axis=1), _per_sample(w).sum(axis=1)
    if reduction == "sum":
        return s.sum()
    if reduction == "mean":
        return s.sum() / ws.sum() if ws.sum() > 0 else 0.0
    return np.where(ws > 0, s / np.where(ws > 0, ws, 1), 0.0)


def psnr(pred, target, data_range=1.0, reduction="mean"):
    d = np.asarray(pred, np.float64) - np.asarray(target, np.float64)
    mse = _per_sample(d * d).mean(axis=1)
    with np.errstate(divide="ignore"):
        v = 10 * np.log10(data_range**2 / mse)
    return {"mean": v.mean(), "sum": v.sum(), "none": v}[reduction]


def tv(x, kind="anisotropic", eps=1e-8, reduction="mean"):
    """Total variation of (N, C, H, W) images, summed per image."""
    x = np.asarray(x, np.float64)
    dx = np.zeros_like(x)
    dy = np.zeros_like(x)
    dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    if kind == "anisotropic":
        t = np.abs(dx) + np.abs(dy)
    elif kind == "squared":
        t = dx * dx + dy * dy
    else:
        t = np.sqrt(dx * dx + dy * dy + eps)
    v = _per_sample(t).sum(axis=1)
    return {"mean": v.mean(), "sum": v.sum(), "none": v}[reduction]


def tv_anisotropic_grad(x, reduction="mean"):
    """The gradient of anisotropic TV: each forward difference d = b - a
    adds sign(d) to b and subtracts it from a (sign(0) = 0)."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    sx = np.sign(x[..., :, 1:] - x[..., :, :-1])
    sy = np.sign(x[..., 1:, :] - x[..., :-1, :])
    g[..., :, 1:] += sx
    g[..., :, :-1] -= sx
    g[..., 1:, :] += sy
    g[..., :-1, :] -= sy
    return g / x.shape[0] if reduction == "mean" else g


def central_difference(f, x, indices, h=1e-6):
    """d f / d x at the given flat indices, by central differences."""
    x = np.array(x, dtype=np.float64)
    flat = x.reshape(-1)
    out = []
    for i in indices:
        saved = flat[i]
        flat[i] = saved + h
        up = float(np.sum(f(x)))
        flat[i] = saved - h
        down = float(np.sum(f(x)))
        flat[i] = saved
        out.append((up - down) / (2 * h))
    return np.array(out)
