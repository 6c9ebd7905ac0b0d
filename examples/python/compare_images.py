#!/usr/bin/env python3
"""The losses between two PNG images, computed with simloss.

    python3 examples/python/compare_images.py REFERENCE.png DISTORTED.png

The Python twin of examples/compare_images.c: it reads the same 8-bit pixels,
scales them to the same float32 values in [0, 1], makes the same simloss
calls and prints the same lines, so the two outputs can be diffed.

Needs numpy, pillow and the simloss package.
"""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image

import simloss


def png_bit_depth(path: str) -> int:
    """The bit depth the PNG header declares. Pillow opens a 16-bit RGB PNG
    as 8-bit "RGB" without saying so; the header does say."""
    with open(path, "rb") as f:
        head = f.read(26)
    # 8-byte signature, then the IHDR chunk: length, type, width, height,
    # bit depth (byte 24), color type.
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return head[24]


def read_png(path: str) -> np.ndarray:
    """An 8-bit PNG as a (1, H, W, 3) float32 array in [0, 1].

    Refuses what the C example refuses, so that both read identical pixels:
    transparency (the loss would compare colors the file does not hold) and
    16-bit samples. Gray and palette images are expanded to RGB, as libpng
    does.
    """
    try:
        depth = png_bit_depth(path)
        im = Image.open(path)
    except (OSError, ValueError) as e:  # missing, unreadable, not a PNG
        raise SystemExit(f"compare_images: {path}: {e}") from None
    with im:
        if depth == 16:
            raise SystemExit(
                f"compare_images: {path}: has 16-bit samples; expected 8 bits per sample"
            )
        if "A" in im.mode or "transparency" in im.info:
            raise SystemExit(
                f"compare_images: {path}: has an alpha channel (or tRNS "
                "transparency); expected an opaque RGB or gray PNG"
            )
        if im.mode not in ("RGB", "L", "P", "1"):
            raise SystemExit(f"compare_images: {path}: unexpected mode {im.mode!r}")
        rgb8 = np.asarray(im.convert("RGB"))  # (H, W, 3) uint8, rows top first
    # float32 / float32: the same correctly rounded values as the C
    # example's (float)byte / 255.0f.
    pixels = rgb8.astype(np.float32) / np.float32(255.0)
    # The batch axis simloss's image losses expect; no copy, still NHWC.
    return pixels[np.newaxis]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} REFERENCE.png DISTORTED.png", file=sys.stderr)
        return 2
    reference_path, distorted_path = argv[1], argv[2]
    reference = read_png(reference_path)
    distorted = read_png(distorted_path)
    if reference.shape != distorted.shape:
        (_, rh, rw, _), (_, dh, dw, _) = reference.shape, distorted.shape
        print(
            f"compare_images: the images differ in size: {reference_path} is "
            f"{rw}x{rh}, {distorted_path} is {dw}x{dh} (width x height); "
            "compare images of the same size",
            file=sys.stderr,
        )
        return 1
    _, h, w, c = reference.shape
    count = reference.size

    # pred is the distorted image, target the reference, as in the C example.
    # simloss raises ValueError or TypeError, with the library's message, on
    # bad input; here that would be a bug, so it is left to propagate.
    l1, grad = simloss.l1(distorted, reference, layout="NHWC", grad=True)
    mse = simloss.mse(distorted, reference, layout="NHWC")
    psnr = simloss.psnr(distorted, reference, data_range=1.0, layout="NHWC")
    tv_reference = simloss.tv(reference, kind="anisotropic", layout="NHWC")
    tv_distorted = simloss.tv(distorted, kind="anisotropic", layout="NHWC")
    has_ssim = min(h, w) >= 11  # a whole 11 x 11 window
    ssim = simloss.ssim(distorted, reference, data_range=1.0, layout="NHWC") if has_ssim else None
    has_ms_ssim = min(h, w) >= 161
    ms_ssim = simloss.ms_ssim(distorted, reference, data_range=1.0, layout="NHWC") if has_ms_ssim else None

    # d L1 / d pred = sign(pred - target) / count; every term is 0 or the
    # same float32 value, so the float64 sum is exact and equals the C one.
    grad_mean_abs = float(np.abs(grad).sum(dtype=np.float64)) / count

    # "%.12g" as in C; Python's % formatting follows C's printf, and prints
    # an infinite PSNR (identical images) as "inf" like glibc.
    print(f"simloss {simloss.RUNTIME_VERSION}")
    print(f"images: {w}x{h} RGB ({count} samples)")
    print("L1:                 %.12g" % l1)
    print("MSE:                %.12g" % mse)
    print("PSNR:               %.12g dB (data range 1.0)" % psnr)
    print("TV (reference):     %.12g" % tv_reference)
    print("TV (distorted):     %.12g" % tv_distorted)
    print("SSIM:               %.12g" % ssim if has_ssim else "SSIM:               (images smaller than 11 pixels)")
    print("MS-SSIM:            %.12g" % ms_ssim if has_ms_ssim else "MS-SSIM:            (images smaller than 161 pixels)")
    print("mean |dL1/dpred|:   %.12g (= %.6f of samples differ / %d)"
          % (grad_mean_abs, grad_mean_abs * count, count))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
