"""The book's util module: curve smoothing, dataset shuffling, and im2col/col2im by its names.

`im2col` and `col2im` take the book's arguments and give its results (same values, same
layout, float64 for non-float input as the book's zeros arrays) from the kernels in
`chainrule.numerics` that the Convolution and Pooling layers and the autograd face share.
"""
from __future__ import annotations

import numpy as np

from chainrule.numerics import as_float, col2im as _col2im, conv_out_size
from chainrule.numerics import im2col as _im2col

__all__ = ["smooth_curve", "shuffle_dataset", "conv_output_size", "im2col", "col2im"]

_WINDOW = 11  # the book's smoothing window: 11 points, Kaiser weights with beta 2
_HALF = _WINDOW // 2


def smooth_curve(x) -> np.ndarray:
    """A loss curve smoothed for plotting: each point becomes the Kaiser-weighted mean
    (np.kaiser(11, 2), normalised to sum 1) of the 11 points centred on it.

    Near the ends the series is mirrored as in the book: at the start without repeating the
    first point (x[1], x[2], ... before x[0]), at the end repeating the last one (x[-1],
    x[-2], ... after x[-1]). The result has x's length. The book's code needs 11 points or
    more (with fewer it returns a shorter array); here any series of 6 points or more works
    by the same rule, and a shorter one raises a ValueError.
    """
    x = as_float(x)
    if x.ndim != 1 or x.size <= _HALF:
        raise ValueError(f"smooth_curve: x must be a 1-d series of at least {_HALF + 1} "
                         f"points, got shape {x.shape}")
    head = x[_HALF:0:-1]                     # x[5], ..., x[1]
    tail = x[:-_HALF - 1:-1]                 # x[-1], ..., x[-5]
    padded = np.concatenate([head, x, tail])
    weights = np.kaiser(_WINDOW, 2)
    windows = np.lib.stride_tricks.sliding_window_view(padded, _WINDOW)
    return windows @ (weights / weights.sum())


def shuffle_dataset(x, t) -> tuple[np.ndarray, np.ndarray]:
    """x and t reordered by the same random permutation of their first axis.

    The permutation is `np.random.permutation(len(x))` from NumPy's global generator, as in
    the book (so `np.random.seed` reproduces its order); x may have any number of axes.
    """
    x, t = np.asarray(x), np.asarray(t)
    if x.ndim == 0 or t.ndim == 0 or x.shape[0] != t.shape[0]:
        raise ValueError(f"shuffle_dataset: x of shape {x.shape} and t of shape {t.shape} "
                         f"need the same number of samples along their first axis")
    permutation = np.random.permutation(x.shape[0])
    return x[permutation], t[permutation]


def conv_output_size(input_size, filter_size, stride=1, pad=0):
    """(input_size + 2*pad - filter_size) / stride + 1, with true division as in the book.

    A whole number (as a float, e.g. 24.0) when the windows tile the padded input exactly;
    a fraction says the last window does not fit, and the layers then use its floor
    (`chainrule.numerics.conv_out_size`).
    """
    return (input_size + 2 * pad - filter_size) / stride + 1


def _check_geometry(name: str, shape: tuple, filter_h, filter_w, stride, pad) -> tuple:
    for what, value, low in (("filter_h", filter_h, 1), ("filter_w", filter_w, 1),
                             ("stride", stride, 1), ("pad", pad, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name}: {what} must be an integer >= {low}, got {value!r}")
    if len(shape) != 4:
        raise ValueError(f"{name}: the input shape {shape} is not (N, C, H, W)")
    oh = conv_out_size(shape[2], filter_h, stride, pad)
    ow = conv_out_size(shape[3], filter_w, stride, pad)
    if oh < 1 or ow < 1:
        raise ValueError(f"{name}: a {filter_h}x{filter_w} filter does not fit an input of "
                         f"shape {shape} padded by {pad}")
    return oh, ow


def im2col(input_data, filter_h, filter_w, stride=1, pad=0) -> np.ndarray:
    """(N, C, H, W) images -> (N*out_h*out_w, C*filter_h*filter_w) rows, zero-padded.

    Row (n, y, x) (in that order) holds the receptive field of output position (y, x) of
    image n, flattened in (channel, filter_y, filter_x) order, as the book's im2col.
    """
    x = as_float(input_data)
    _check_geometry("im2col", x.shape, filter_h, filter_w, stride, pad)
    col = _im2col(x, filter_h, filter_w, stride, pad)
    return col.copy() if np.shares_memory(col, x) else col  # always a new, writable array


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0) -> np.ndarray:
    """The transpose of im2col: each row's values are added back onto the input positions
    they came from (summed where receptive fields overlap); the padding is cut off."""
    col = as_float(col)
    input_shape = tuple(input_shape)
    oh, ow = _check_geometry("col2im", input_shape, filter_h, filter_w, stride, pad)
    n, c = input_shape[:2]
    want = (n * oh * ow, c * filter_h * filter_w)
    if col.shape != want:
        raise ValueError(f"col2im: col has shape {col.shape}, but im2col of an input of shape "
                         f"{input_shape} with a {filter_h}x{filter_w} filter, stride {stride} "
                         f"and pad {pad} has shape {want}")
    return _col2im(col, input_shape, filter_h, filter_w, stride, pad)
