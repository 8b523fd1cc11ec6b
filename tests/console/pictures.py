"""The console's screenshots in docs/console/: real pictures of the real pages, written only when
the page looks different, so that a test run leaves the docs clean when nothing visible changed.

A rerun always differs a little: the clock in the header, the time a row was added (a longer
time widens its column and shifts the columns after it). Pixel by pixel such a retake is up to
0.7 % of the page; so two measures that a shift along a row does not move are compared instead:

- the colours: how many pixels would have to change colour (32 levels a channel) to turn one
  colour histogram into the other;
- the rows: per row of pixels, how many are ink (far from the page's background colour).

A retake keeps the committed picture when both stay under ``CHANGED_SHARE`` of its pixels
(retakes in the pictures' history: at most 0.05 %; a changed chart, a new panel, a moved
section: 2 %). Another size always counts. A changed word, or two rows of the same height
swapped, is below the threshold: to retake on purpose, set ``OPENDIALER_RETAKE_SCREENSHOTS=1``."""

import io
import os
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

DOCS = Path(__file__).resolve().parents[2] / "docs" / "console"
CHANGED_SHARE = 0.001  # of the picture's pixels
INK_DISTANCE = 48  # of 255 in any channel from the background colour
RETAKE = "OPENDIALER_RETAKE_SCREENSHOTS"


def keep_screenshot(name: str, png: bytes, folder: Path = DOCS) -> Path:
    """Write ``png`` as ``folder``/``name`` unless the picture there looks the same."""
    path = folder / name
    retake = os.environ.get(RETAKE) == "1" or not path.exists()
    if retake or looks_different(path.read_bytes(), png):
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
    return path


def looks_different(old_png: bytes, new_png: bytes) -> bool:
    old, new = _pixels(old_png), _pixels(new_png)
    if old.shape != new.shape:
        return True
    pixels = old.shape[0] * old.shape[1]
    recoloured = int(np.abs(_colours(old) - _colours(new)).sum()) // 2
    reinked = int(np.abs(_ink_per_row(old) - _ink_per_row(new)).sum())
    return bool(max(recoloured, reinked) > CHANGED_SHARE * pixels)


def _pixels(png: bytes) -> NDArray[np.int16]:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def _colours(pixels: NDArray[np.int16]) -> NDArray[np.int64]:
    levels = (pixels // 8).astype(np.int64)
    codes = (levels[..., 0] << 10) | (levels[..., 1] << 5) | levels[..., 2]
    return np.bincount(codes.ravel(), minlength=1 << 15)


def _ink_per_row(pixels: NDArray[np.int16]) -> NDArray[np.int64]:
    background = np.median(pixels.reshape(-1, 3), axis=0)
    ink: NDArray[np.bool_] = np.abs(pixels - background).max(axis=2) > INK_DISTANCE
    per_row: NDArray[np.int64] = ink.sum(axis=1, dtype=np.int64)
    return per_row
