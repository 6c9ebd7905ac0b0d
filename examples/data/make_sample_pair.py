#!/usr/bin/env python3
"""Makes the sample image pair the examples compare: reference.png and
distorted.png, next to this script.

    python3 examples/data/make_sample_pair.py

reference.png: scikit-image's ``skimage.data.astronaut()`` (Eileen Collins,
NASA, public domain), 512x512 RGB, halved to 256x256 by averaging each 2x2
block, so the files stay small and the example runs in a blink.

distorted.png: the reference, blurred slightly (Gaussian, sigma 0.8 px) and
with seeded Gaussian noise added (sigma 0.03 of full scale), clipped to [0, 1]
and rounded back to 8 bits. Blur before noise, as in a camera: the optics blur
the scene, the sensor adds noise to what it sees.

The PNGs in the repository are the reference data; this script documents how
they were made. A different numpy or scikit-image may produce slightly
different bytes, so the examples' expected numbers hold for the committed
files, not for a regenerated pair.
"""

from pathlib import Path

import numpy as np
import skimage
import skimage.data
import skimage.filters
import skimage.io
import skimage.transform

SEED = 20240611
NOISE_SIGMA = 0.03  # in units of the full [0, 1] range
BLUR_SIGMA = 0.8  # pixels


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats to 8-bit, rounding to nearest (not truncating, which
    would darken the image by half a level on average)."""
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def main() -> None:
    here = Path(__file__).resolve().parent
    full = skimage.data.astronaut()  # (512, 512, 3) uint8
    # A 2x2 box average is exact and the same in every scikit-image version,
    # unlike resize()'s anti-aliasing filter.
    small = skimage.transform.downscale_local_mean(full, (2, 2, 1))
    reference = np.round(small).astype(np.uint8)  # (256, 256, 3)

    rng = np.random.default_rng(SEED)
    x = reference.astype(np.float64) / 255.0
    blurred = skimage.filters.gaussian(x, sigma=BLUR_SIGMA, channel_axis=-1)
    noisy = blurred + rng.normal(0.0, NOISE_SIGMA, size=x.shape)
    distorted = to_uint8(noisy)

    skimage.io.imsave(here / "reference.png", reference, check_contrast=False)
    skimage.io.imsave(here / "distorted.png", distorted, check_contrast=False)
    print(f"numpy {np.__version__}, scikit-image {skimage.__version__}")
    for name in ("reference.png", "distorted.png"):
        path = here / name
        print(f"wrote {path.relative_to(here.parent.parent)}: "
              f"{path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
