"""Float64 reference implementation of SSIM and MS-SSIM for the simloss test suite.

Provenance
----------
Written for simloss from the published formulas, not translated from any other
project's code:

* SSIM: Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality
  assessment: from error visibility to structural similarity", IEEE TIP 13(4),
  2004.  With C3 = C2 / 2 the product l * c * s collapses to

      SSIM = ((2 mu_x mu_y + C1) (2 sigma_xy + C2))
             / ((mu_x^2 + mu_y^2 + C1) (sigma_x^2 + sigma_y^2 + C2)),
      cs   = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2),

  C1 = (k1 L)^2, C2 = (k2 L)^2, L = data_range; the local statistics are
  weighted means under a separable window (sampled Gaussian 11 x 11,
  sigma 1.5, normalised to sum 1, by default), with the variances written as
  E[x^2] - mu_x^2 (population covariance).
* MS-SSIM: Z. Wang, E. P. Simoncelli, A. C. Bovik, "Multi-scale structural
  similarity for image quality assessment", Asilomar 2003:
  prod_{j<M} cs_j^{w_j} * ssim_M^{w_M} with 2x2 average pooling between levels.
* The automatic downsampling of the authors' MATLAB ``ssim.m`` (2009,
  "SSIM Index with automatic downsampling, Version 1.0"):
  f = max(1, round(min(H, W) / 256)); if f > 1 the image is filtered with
  ``imfilter(img, ones(f)/f^2, 'symmetric', 'same')`` and every f-th pixel is
  kept starting with the first (``img(1:f:end, 1:f:end)``).  See
  ``matlab_downsample`` for the exact index conventions.

scikit-image (``skimage.metrics.structural_similarity``) is used only by the
tests in ``test_ssim_reference.py`` as an independent cross-check.  Everything
here uses numpy only; every computation is done in float64.

Conventions (and the peer each one matches)
-------------------------------------------
* Inputs are arrays of shape (N, C, H, W) (``ssim``, ``ms_ssim``) or
  (N, C, D, H, W) (``ssim3d``); they are converted to float64.
* ``border="valid"``: only window positions lying fully inside the image, as the
  MATLAB reference, TensorFlow, pytorch-msssim, piq and dm-pix; scikit-image
  computes a padded map but crops its mean to this same region.
* ``border="reflect"``: same-size output, image padded by reflection *without*
  repeating the edge sample (numpy ``mode="reflect"`` = torch ``'reflect'``),
  which is the padding kornia and torchmetrics use; the mean is over every
  output position, padded borders included.
* ``border="zero"``: same-size output, zero padding, mean over every position.
* For the 'same' borders an even window gets (win-1)//2 samples of padding
  before and win//2 after.
* ``sample_covariance=True`` multiplies the variances and the covariance by
  NP / (NP - 1) with NP = win_size ** (number of spatial dimensions), as
  scikit-image does (also with Gaussian weights).
* Multichannel: SSIM is computed per channel; ``per_image`` is the mean of the
  channel values (scikit-image ``channel_axis``, pytorch-msssim, TensorFlow).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "gaussian_window",
    "uniform_window",
    "matlab_downsample_factor",
    "matlab_downsample",
    "rgb_to_luma",
    "msssim_downsample",
    "msssim_level_sizes",
    "min_side",
    "ssim",
    "ms_ssim",
    "ssim3d",
    "MS_SSIM_WEIGHTS",
]

#: Wang, Simoncelli, Bovik (2003), Table 1 / the MATLAB ``msssim.m`` weights.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

_BORDERS = ("valid", "reflect", "zero")


# --------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------
def _check_win_size(win_size):
    if isinstance(win_size, bool) or int(win_size) != win_size or win_size < 1:
        raise ValueError(f"win_size must be a positive integer, got {win_size!r}")
    return int(win_size)


def gaussian_window(win_size=11, sigma=1.5):
    """1-D taps g[k] = exp(-(k - (win_size-1)/2)^2 / (2 sigma^2)), normalised to sum 1.

    The 2-D window is the outer product of these taps, which equals MATLAB's
    ``fspecial('gaussian', win_size, sigma)`` (normalised to sum 1) up to
    rounding.  An even ``win_size`` is centred between two samples.
    """
    win_size = _check_win_size(win_size)
    sigma = float(sigma)
    if not sigma > 0.0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    k = np.arange(win_size, dtype=np.float64) - (win_size - 1) / 2.0
    g = np.exp(-(k * k) / (2.0 * sigma * sigma))
    return g / g.sum()


def uniform_window(win_size=7):
    """1-D uniform taps 1 / win_size (the box window of scikit-image's default)."""
    win_size = _check_win_size(win_size)
    return np.full(win_size, 1.0 / win_size, dtype=np.float64)


# --------------------------------------------------------------------------
# Filtering helpers
# --------------------------------------------------------------------------
def _correlate_valid(a, taps, axis):
    """Valid correlation of ``a`` with 1-D ``taps`` along ``axis``.

    out[..., i, ...] = sum_k taps[k] * a[..., i + k, ...]  (length n - len(taps) + 1).
    """
    windows = np.lib.stride_tricks.sliding_window_view(a, taps.shape[0], axis=axis)
    return windows @ taps  # the window index is the last axis of the view


def _filter_valid(a, taps, axes):
    """Separable valid correlation with the same taps along every axis in ``axes``."""
    for ax in axes:
        a = _correlate_valid(a, taps, ax)
    return a


def _pad_same(a, win_size, axes, border):
    """Pad the spatial ``axes`` so that a valid filter of ``win_size`` keeps the size."""
    before = (win_size - 1) // 2
    after = win_size - 1 - before
    widths = [(0, 0)] * a.ndim
    for ax in axes:
        widths[ax] = (before, after)
    if border == "reflect":
        return np.pad(a, widths, mode="reflect")
    if border == "zero":
        return np.pad(a, widths, mode="constant", constant_values=0.0)
    raise AssertionError(border)


# --------------------------------------------------------------------------
# MATLAB ssim.m automatic downsampling
# --------------------------------------------------------------------------
def matlab_downsample_factor(height, width):
    """f = max(1, round(min(H, W) / 256)) with MATLAB's round (halves away from zero).

    Python's built-in ``round`` rounds halves to even (round(2.5) == 2), so the
    integer form floor((m + 128) / 256) is used: e.g. min side 640 gives f = 3.
    """
    m = int(min(height, width))
    return max(1, (m + 128) // 256)


def matlab_downsample(a, f=None):
    """ssim.m (2009) pre-processing of the last two axes of ``a`` (..., H, W).

    MATLAB: ``lpf = ones(f)/f^2; img = imfilter(img, lpf, 'symmetric', 'same');
    img = img(1:f:end, 1:f:end)``.  imfilter correlates, and for 'same' output
    puts the kernel origin at element floor((f+1)/2) (1-based), i.e. at
    c = (f-1)//2 (0-based): out[i] = mean(a[i-c : i-c+f]).  Samples outside
    the image come from 'symmetric' padding (mirror with the edge repeated,
    numpy ``mode="symmetric"``).  Every f-th output is kept starting at 0.

    For even f and even sizes the padding is never read (e.g. f = 2 on 512 x 512
    is plain 2x2 block averaging); it matters for odd f (f >= 3) or odd sizes.
    ``f=None`` selects ``matlab_downsample_factor(H, W)``; f == 1 returns ``a``.
    """
    a = np.asarray(a, dtype=np.float64)
    if f is None:
        f = matlab_downsample_factor(a.shape[-2], a.shape[-1])
    f = int(f)
    if f <= 1:
        return a
    c = (f - 1) // 2
    widths = [(0, 0)] * (a.ndim - 2) + [(c, f - 1 - c)] * 2
    p = np.pad(a, widths, mode="symmetric")
    box = np.ones(f, dtype=np.float64)
    s = _filter_valid(p, box, (a.ndim - 2, a.ndim - 1))  # f x f window sums
    s = s / float(f * f)
    return s[..., ::f, ::f]


# --------------------------------------------------------------------------
# Luma (ITU-R BT.601 Y as MATLAB rgb2ycbcr)
# --------------------------------------------------------------------------
def rgb_to_luma(x, data_range=1.0):
    """Y of BT.601 YCbCr as MATLAB ``rgb2ycbcr``, for R, G, B in [0, data_range].

    For data_range 255 this is Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255
    (MATLAB's uint8 formula without the final rounding to integers); for a
    general range L it is scaled by L / 255:
    Y = (16 / 255) L + (65.481 R + 128.553 G + 24.966 B) / 255, so Y lies in
    [16 L / 255, 235 L / 255].  Input (N, 3, H, W); output (N, 1, H, W).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"luma needs input of shape (N, 3, H, W), got {x.shape}")
    L = float(data_range)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    y = (16.0 / 255.0) * L + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    return y[:, None]


# --------------------------------------------------------------------------
# SSIM core (any number of trailing spatial dimensions)
# --------------------------------------------------------------------------
def _as_pair(x, y, ndim):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if x.ndim != ndim:
        raise ValueError(f"expected an array of rank {ndim}, got shape {x.shape}")
    return x, y


def _check_common(data_range, k1, k2):
    data_range = float(data_range)
    if not data_range > 0.0:
        raise ValueError(f"data_range must be > 0, got {data_range!r}")
    return data_range, float(k1), float(k2)


def _ssim_maps(x, y, taps, spatial_axes, data_range, k1, k2, cov_norm):
    """SSIM and cs maps from valid filtering of already padded inputs."""
    mu_x = _filter_valid(x, taps, spatial_axes)
    mu_y = _filter_valid(y, taps, spatial_axes)
    e_xx = _filter_valid(x * x, taps, spatial_axes)
    e_yy = _filter_valid(y * y, taps, spatial_axes)
    e_xy = _filter_valid(x * y, taps, spatial_axes)
    sigma_x2 = cov_norm * (e_xx - mu_x * mu_x)
    sigma_y2 = cov_norm * (e_yy - mu_y * mu_y)
    sigma_xy = cov_norm * (e_xy - mu_x * mu_y)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    a1 = 2.0 * mu_x * mu_y + c1
    a2 = 2.0 * sigma_xy + c2
    b1 = mu_x * mu_x + mu_y * mu_y + c1
    b2 = sigma_x2 + sigma_y2 + c2
    ssim_map = (a1 * a2) / (b1 * b2)
    cs_map = a2 / b2
    return ssim_map, cs_map


def _ssim_nd(x, y, *, n_spatial, data_range, win_size, sigma, gaussian, k1, k2,
             border, sample_covariance, return_map, return_cs):
    win_size = _check_win_size(win_size)
    if border not in _BORDERS:
        raise ValueError(f"border must be one of {_BORDERS}, got {border!r}")
    data_range, k1, k2 = _check_common(data_range, k1, k2)
    taps = gaussian_window(win_size, sigma) if gaussian else uniform_window(win_size)
    spatial_axes = tuple(range(x.ndim - n_spatial, x.ndim))
    if border == "valid":
        small = [x.shape[a] for a in spatial_axes if x.shape[a] < win_size]
        if small:
            raise ValueError(
                f"border='valid' needs every spatial side >= win_size={win_size}, "
                f"got spatial shape {tuple(x.shape[a] for a in spatial_axes)}")
    else:
        x = _pad_same(x, win_size, spatial_axes, border)
        y = _pad_same(y, win_size, spatial_axes, border)
    npix = win_size ** n_spatial
    if sample_covariance:
        if npix < 2:
            raise ValueError("sample_covariance needs a window of at least 2 samples")
        cov_norm = npix / (npix - 1.0)
    else:
        cov_norm = 1.0
    ssim_map, cs_map = _ssim_maps(x, y, taps, spatial_axes, data_range, k1, k2, cov_norm)
    per_channel = ssim_map.mean(axis=spatial_axes)
    out = {
        "per_channel": per_channel,
        "per_image": per_channel.mean(axis=1),
        "cs_per_channel": cs_map.mean(axis=spatial_axes),
    }
    if return_map:
        out["map"] = ssim_map
    if return_cs:
        out["cs_map"] = cs_map
    return out


def ssim(x, y, *, data_range=1.0, win_size=11, sigma=1.5, gaussian=True, k1=0.01,
         k2=0.03, border="valid", sample_covariance=False, downsample=False,
         luma=False, return_map=False, return_cs=False):
    """SSIM of (N, C, H, W) arrays, float64.

    Order of operations: ``luma`` (RGB -> BT.601 Y, see ``rgb_to_luma``), then
    ``downsample`` (MATLAB ssim.m automatic downsampling, see
    ``matlab_downsample``; the factor is chosen per call from H, W), then
    border handling, local statistics with the separable window (Gaussian
    ``gaussian_window(win_size, sigma)`` or uniform 1/win_size taps), and the
    SSIM / cs maps (module docstring).  ``border``: "valid" (no padding),
    "reflect" (numpy ``mode="reflect"``, edge sample not repeated -- torch
    'reflect' as in kornia/torchmetrics) or "zero"; the mean is over every
    output position.

    Returns a dict:
      "per_channel"    (N, C) mean SSIM per image and channel ((N, 1) for luma),
      "per_image"      (N,)   mean over channels,
      "cs_per_channel" (N, C) mean of the cs map,
      "map"            (N, C, H', W') if ``return_map``,
      "cs_map"         (N, C, H', W') if ``return_cs``.

    To match scikit-image: ``structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=L)`` equals
    ``ssim(..., data_range=L)``; its defaults equal
    ``ssim(..., gaussian=False, win_size=7, sample_covariance=True)``.
    To match MATLAB ssim.m (2009): ``downsample=True, data_range=255``.
    """
    x, y = _as_pair(x, y, 4)
    if luma:
        x = rgb_to_luma(x, data_range)
        y = rgb_to_luma(y, data_range)
    if downsample:
        f = matlab_downsample_factor(x.shape[-2], x.shape[-1])
        x = matlab_downsample(x, f)
        y = matlab_downsample(y, f)
    return _ssim_nd(x, y, n_spatial=2, data_range=data_range, win_size=win_size,
                    sigma=sigma, gaussian=gaussian, k1=k1, k2=k2, border=border,
                    sample_covariance=sample_covariance, return_map=return_map,
                    return_cs=return_cs)


def ssim3d(x, y, *, data_range=1.0, win_size=11, sigma=1.5, gaussian=True, k1=0.01,
           k2=0.03, border="valid", sample_covariance=False, return_map=False,
           return_cs=False):
    """Volumetric SSIM of (N, C, D, H, W) arrays: separable window along D, H, W.

    Same formulas and return dict as ``ssim`` (maps are (N, C, D', H', W')).
    Only ``border="valid"`` is supported; sample covariance uses
    NP = win_size ** 3 (as scikit-image for 3-D input).
    """
    x, y = _as_pair(x, y, 5)
    if border != "valid":
        raise ValueError(f"ssim3d supports only border='valid', got {border!r}")
    return _ssim_nd(x, y, n_spatial=3, data_range=data_range, win_size=win_size,
                    sigma=sigma, gaussian=gaussian, k1=k1, k2=k2, border="valid",
                    sample_covariance=sample_covariance, return_map=return_map,
                    return_cs=return_cs)


# --------------------------------------------------------------------------
# MS-SSIM
# --------------------------------------------------------------------------
def msssim_downsample(a):
    """One pyramid step on the last two axes: 2x2 mean, odd sides rounded up.

    An odd side is first extended at its end by one mirrored sample (the last
    row/column repeated: numpy ``mode="symmetric"`` with widths (0, 1)), as the
    MATLAB ``msssim.m`` (``imfilter(img, ones(2)/4, 'symmetric', 'same')`` then
    ``img(1:2:end, 1:2:end)``) and TensorFlow do.  Output side ceil(n / 2).
    """
    a = np.asarray(a, dtype=np.float64)
    h, w = a.shape[-2], a.shape[-1]
    widths = [(0, 0)] * (a.ndim - 2) + [(0, h % 2), (0, w % 2)]
    if h % 2 or w % 2:
        a = np.pad(a, widths, mode="symmetric")
    return 0.25 * (a[..., 0::2, 0::2] + a[..., 1::2, 0::2]
                   + a[..., 0::2, 1::2] + a[..., 1::2, 1::2])


def msssim_level_sizes(side, levels):
    """Side lengths at levels 1..levels under the round-up rule n -> ceil(n / 2)."""
    sizes = [int(side)]
    for _ in range(levels - 1):
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def min_side(win_size=11, levels=5):
    """Smallest side whose coarsest pyramid level still holds the window.

    With n -> ceil(n / 2) the side at level M is ceil(n / 2^(M-1)) (nested
    ceilings of halvings compose), which is >= win_size exactly when
    n > (win_size - 1) 2^(M-1); hence (win_size - 1) * 2^(levels-1) + 1
    (161 for window 11 and 5 levels).
    """
    win_size = _check_win_size(win_size)
    levels = int(levels)
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    return (win_size - 1) * 2 ** (levels - 1) + 1


def ms_ssim(x, y, *, data_range=1.0, win_size=11, sigma=1.5, k1=0.01, k2=0.03,
            weights=MS_SSIM_WEIGHTS, relu=True, downsample=False):
    """MS-SSIM of (N, C, H, W) arrays, float64 (Wang, Simoncelli, Bovik 2003).

    Per image and channel, with M = len(weights) levels: at level j the
    valid-border Gaussian SSIM mean ssim_j and cs mean cs_j are computed;
    between levels the images go through ``msssim_downsample``.  The value is
    prod_{j<M} cs_j^{w_j} * ssim_M^{w_M}; with ``relu`` each term is first
    replaced by max(term, 0) (TensorFlow, pytorch-msssim, piq).  Without
    ``relu`` a negative term with a fractional weight gives NaN.  The weights
    are used as given (not renormalised).

    ``downsample=True`` first applies the ssim.m automatic downsampling
    (``matlab_downsample``) to the full-resolution images -- not part of the
    2003 algorithm or of ``msssim.m``; provided only to test that convention.

    Raises ValueError if the coarsest level is smaller than the window
    (see ``min_side``).

    Returns a dict: "per_image" (N,), "per_channel" (N, C), and the per-level
    means "ssim_levels" and "cs_levels", both (N, C, M).
    """
    x, y = _as_pair(x, y, 4)
    win_size = _check_win_size(win_size)
    data_range, k1, k2 = _check_common(data_range, k1, k2)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size < 1:
        raise ValueError(f"weights must be a non-empty 1-D sequence, got {weights!r}")
    levels = w.size
    if downsample:
        f = matlab_downsample_factor(x.shape[-2], x.shape[-1])
        x = matlab_downsample(x, f)
        y = matlab_downsample(y, f)
    h, wd = x.shape[-2], x.shape[-1]
    coarsest = min(msssim_level_sizes(h, levels)[-1], msssim_level_sizes(wd, levels)[-1])
    if coarsest < win_size:
        raise ValueError(
            f"MS-SSIM with {levels} levels and win_size={win_size} needs both sides "
            f">= {min_side(win_size, levels)}, got {h}x{wd} (coarsest level side "
            f"{coarsest} < {win_size})")
    taps = gaussian_window(win_size, sigma)
    axes = (2, 3)
    n, c = x.shape[:2]
    ssim_levels = np.empty((n, c, levels))
    cs_levels = np.empty((n, c, levels))
    for j in range(levels):
        if j > 0:
            x = msssim_downsample(x)
            y = msssim_downsample(y)
        ssim_map, cs_map = _ssim_maps(x, y, taps, axes, data_range, k1, k2, 1.0)
        ssim_levels[..., j] = ssim_map.mean(axis=axes)
        cs_levels[..., j] = cs_map.mean(axis=axes)
    terms = np.concatenate([cs_levels[..., :-1], ssim_levels[..., -1:]], axis=-1)
    if relu:
        terms = np.maximum(terms, 0.0)
    with np.errstate(invalid="ignore"):
        per_channel = np.prod(terms ** w, axis=-1)
    return {
        "per_image": per_channel.mean(axis=1),
        "per_channel": per_channel,
        "ssim_levels": ssim_levels,
        "cs_levels": cs_levels,
    }
