"""An 8-bit picture as terminal cells: half blocks, two pixels per cell.

Each cell is an upper half block (``▀``) whose foreground is the upper pixel
and whose background is the lower one, so a cell of about 1:2 holds two
square pixels. The result is plain data (rows of ``(char, fg, bg)``); the
widget turns it into styled text. No Rich here.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np

RGB: TypeAlias = tuple[int, int, int]
Cell: TypeAlias = tuple[str, RGB, RGB]
HALF_BLOCK = "\u2580"  # ▀


def fit_size(width: int, height: int, cols: int, rows: int) -> tuple[int, int]:
    """The largest picture size, in pixels, that keeps the aspect ratio and
    fits ``cols`` x ``rows`` cells (one pixel wide, two pixels high each).

    Args:
        width: Picture width in pixels.
        height: Picture height in pixels.
        cols: Cells across.
        rows: Cells down.

    Returns:
        (width, height) in pixels, each at least 1.
    """
    if width <= 0 or height <= 0 or cols <= 0 or rows <= 0:
        return 1, 1
    scale = min(cols / width, 2 * rows / height)
    return max(1, min(cols, round(width * scale))), max(
        1, min(2 * rows, round(height * scale))
    )


def _resize_axis(img: np.ndarray, size: int, axis: int) -> np.ndarray:
    old = img.shape[axis]
    if old == size:
        return img
    if size < old:  # shrink: mean of each block of source pixels
        edges = (np.arange(size) * old) // size
        sums = np.add.reduceat(img.astype(np.float32), edges, axis=axis)
        counts = np.diff(np.append(edges, old)).astype(np.float32)
        shape = [1] * img.ndim
        shape[axis] = size
        return sums / counts.reshape(shape)
    picks = (np.arange(size) * old) // size  # grow: nearest neighbour
    return np.take(img, picks, axis=axis)


def resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a picture (box filter down, nearest neighbour up).

    Args:
        img: uint8 (h, w) or (h, w, 3).
        width: New width.
        height: New height.

    Returns:
        A uint8 array of (height, width[, 3]).
    """
    out = _resize_axis(_resize_axis(img, height, 0), width, 1)
    if out.dtype != np.uint8:
        out = (out + 0.5).astype(np.uint8)
    return out


def half_blocks(img: np.ndarray, cols: int, rows: int) -> list[list[Cell]]:
    """A picture resized to fit ``cols`` x ``rows`` cells, as half blocks.

    Args:
        img: uint8 grey (h, w) or RGB (h, w, 3).
        cols: Cells across available.
        rows: Cells down available.

    Returns:
        Rows of cells; the picture is as large as fits, not padded.
    """
    height, width = img.shape[:2]
    w, h = fit_size(width, height, cols, rows)
    small = resize(img, w, h)
    if small.ndim == 2:
        small = np.repeat(small[:, :, None], 3, axis=2)
    if h % 2:
        small = np.concatenate([small, np.zeros((1, w, 3), np.uint8)], axis=0)
    top = small[0::2].tolist()
    bottom = small[1::2].tolist()
    return [
        [(HALF_BLOCK, tuple(t), tuple(b)) for t, b in zip(upper, lower, strict=True)]
        for upper, lower in zip(top, bottom, strict=True)
    ]
