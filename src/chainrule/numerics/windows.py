"""Sliding windows over images, for both faces: unfold/fold (the book's im2col and col2im
per image), the convolution and its two gradients as batched products, and max pooling with
its first-argmax rule. Large batches are computed in parts on idle cores (numerics.parallel)."""
from __future__ import annotations

import numpy as np

from chainrule.numerics.parallel import parallel

__all__ = ["conv_out_size", "unfold", "fold", "im2col", "col2im", "conv2d", "conv2d_input_grad",
           "conv2d_weight_grad", "max_pool", "max_pool_backward"]


def conv_out_size(size: int, k: int, stride: int, pad: int) -> int:
    """Output length of a window of k sliding with `stride` over `size` padded by `pad`."""
    return (size + 2 * pad - k) // stride + 1


def _padded(x: np.ndarray, pad: int, value: float = 0.0) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=value) \
        if pad else x


def _window_offsets(img: np.ndarray, kh: int, kw: int, stride: int, oh: int, ow: int):
    """For each window position (i, j) in row-major order, the (N, C, OH, OW) basic-slice view
    of img holding that position of every window (writable when img is)."""
    for i in range(kh):
        for j in range(kw):
            yield img[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]


def _windows(x: np.ndarray, kh: int, kw: int, stride: int, pad: int,
             pad_value: float = 0.0) -> np.ndarray:
    """Every kh x kw window of x, as a strided view (N, C, OH, OW, kh, kw): no copy."""
    oh = conv_out_size(x.shape[2], kh, stride, pad)
    ow = conv_out_size(x.shape[3], kw, stride, pad)
    win = np.lib.stride_tricks.sliding_window_view(_padded(x, pad, pad_value), (kh, kw),
                                                   axis=(2, 3))
    return win[:, :, ::stride, ::stride][:, :, :oh, :ow]


def unfold(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """(N, C, H, W) -> (N, C*kh*kw, OH*OW): im2col per image, transposed, in one copy.

    The layout of a convolution as a batched product: W (FN, C*kh*kw) @ unfold(x) gives
    (N, FN, OH*OW), the NCHW output with no transpose; the copy is made from a strided
    window view (sliding_window_view), so no Python loop runs over positions.
    """
    win = _windows(x, kh, kw, stride, pad)
    n, c, oh, ow = win.shape[:4]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)


def fold(cols: np.ndarray, x_shape: tuple, kh: int, kw: int, stride: int = 1,
         pad: int = 0) -> np.ndarray:
    """The transpose of unfold: (N, C*kh*kw, OH*OW) added back onto an (N, C, H, W) image,
    one contiguous block per window position (kh*kw adds, overlaps summed)."""
    n, c, h, w = x_shape
    img = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    _fold_into(img, cols, kh, kw, stride)
    return img[:, :, pad:pad + h, pad:pad + w] if pad else img


def _fold_into(img: np.ndarray, cols: np.ndarray, kh: int, kw: int, stride: int) -> None:
    """Add cols (N, C*kh*kw, OH*OW) onto the padded image img (N, C, H+2p, W+2p) in place."""
    n, c, hp, wp = img.shape
    oh, ow = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    col = np.ascontiguousarray(cols).reshape(n, c, kh * kw, oh, ow)
    for k, view in enumerate(_window_offsets(img, kh, kw, stride, oh, ow)):
        view += col[:, :, k]


def conv2d(x: np.ndarray, w_rows: np.ndarray, b, kh: int, kw: int, stride: int = 1,
           pad: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(out (N, O, OH*OW), cols (N, C*kh*kw, OH*OW)): w_rows (O, C*kh*kw) times each image's
    unfolded input, plus b (O,) or nothing; NCHW order with no transpose. cols is kept for
    the weight gradient. Both faces' convolutions are this one kernel."""
    win = _windows(x, kh, kw, stride, pad).transpose(0, 1, 4, 5, 2, 3)
    n, c, _, _, oh, ow = win.shape
    o, k = w_rows.shape
    cols = np.empty((n, k, oh * ow), x.dtype)
    bias = None if b is None else np.reshape(b, (o, 1))
    out = np.empty((n, o, oh * ow), np.result_type(w_rows, cols, *([] if b is None else [bias])))

    def images(lo: int, hi: int) -> None:
        cols[lo:hi].reshape(hi - lo, c, kh, kw, oh, ow)[...] = win[lo:hi]
        np.matmul(w_rows, cols[lo:hi], out=out[lo:hi])
        if bias is not None:
            np.add(out[lo:hi], bias, out=out[lo:hi])
    parallel(n, images, products=n * o * k * oh * ow)
    return out, cols


def conv2d_weight_grad(g: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """sum over images of g[n] (O, P) @ cols[n].T (P, K): the weight gradient (O, K), from
    per-image products (in parts on idle cores) summed once, in one order."""
    n, o, p = g.shape
    per_image = np.empty((n, o, cols.shape[1]), np.result_type(g, cols))
    parallel(n, lambda lo, hi: np.matmul(g[lo:hi], cols[lo:hi].transpose(0, 2, 1),
                                         out=per_image[lo:hi]),
             products=n * o * p * cols.shape[1])
    return per_image.sum(axis=0)


def conv2d_input_grad(g: np.ndarray, w_rows: np.ndarray, x_shape: tuple, kh: int, kw: int,
                      stride: int = 1, pad: int = 0) -> np.ndarray:
    """The transposed convolution: w_rows.T @ g[n] per image (N, C*kh*kw, OH*OW), folded back
    onto (N, C, H, W)."""
    n, c, h, w = x_shape
    img = np.zeros((n, c, h + 2 * pad, w + 2 * pad), np.result_type(g, w_rows))

    def images(lo: int, hi: int) -> None:
        _fold_into(img[lo:hi], np.matmul(w_rows.T, g[lo:hi]), kh, kw, stride)
    parallel(n, images, products=n * g.shape[1] * w_rows.shape[1] * g.shape[2])
    return img[:, :, pad:pad + h, pad:pad + w] if pad else img


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0,
           pad_value: float = 0.0) -> np.ndarray:
    """(N, C, H, W) -> (N*OH*OW, C*kh*kw): one row per output position (receptive field)."""
    win = _windows(x, kh, kw, stride, pad, pad_value)
    n, c, oh, ow = win.shape[:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)


def col2im(cols: np.ndarray, x_shape: tuple, kh: int, kw: int, stride: int = 1,
           pad: int = 0) -> np.ndarray:
    """The transpose of im2col: add every row back onto the input positions it came from."""
    n, c, h, w = x_shape
    oh, ow = conv_out_size(h, kh, stride, pad), conv_out_size(w, kw, stride, pad)
    per_image = cols.reshape(n, oh * ow, c * kh * kw).transpose(0, 2, 1)
    return fold(per_image, x_shape, kh, kw, stride, pad)   # one transposing copy, then adds


def _first_lowest_bit(bits: int) -> np.ndarray:
    """LUT[code] = the lowest set bit of code (the first window position equal to the max),
    or `bits` when no bit is set (then the last position is the max)."""
    codes = np.arange(2 ** bits)
    low = (codes & -codes)
    return np.where(codes == 0, bits, np.log2(np.maximum(low, 1)).astype(np.int64)) \
        .astype(np.uint8)


_LUTS: dict[int, np.ndarray] = {}


def _max_pool_tiled(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """max_pool for k x k windows with stride k and no padding (the usual pooling layer),
    for NaN-free x: each window position's values copied once into a contiguous array, a
    running maximum along each window row (ties keep the left one), then down the rows
    (ties keep the upper one): the row-major first maximum, with no table lookup."""
    n, c, h, w = x.shape
    oh, ow = h // k, w // k
    r = x[:, :, :oh * k, :ow * k].reshape(n, c, oh, k, ow, k)
    out = arg = None
    for i in range(k):
        row = r[:, :, :, i, :, 0].copy()          # written below: never a view of x
        col = np.zeros(row.shape, np.uint8)
        for j in range(1, k):
            v = np.ascontiguousarray(r[:, :, :, i, :, j])
            col += (v > row).view(np.uint8) * (np.uint8(j) - col)   # j where v wins (mod 256)
            np.maximum(row, v, out=row)
        if out is None:
            out, arg = row, col
            continue
        arg += (row > out).view(np.uint8) * (np.uint8(i * k) + col - arg)   # i*k + col there
        np.maximum(out, row, out=out)
    return out, arg



def max_pool(x: np.ndarray, kh: int, kw: int, stride: int, pad: int = 0
             ) -> tuple[np.ndarray, np.ndarray]:
    """(the max of every kh x kw window, (N, C, OH, OW), and which window position held it,
    0 .. kh*kw-1 in row-major order): padding counts as -inf, and ties and NaN go to the
    first position, as np.argmax over the window's im2col row.

    The max is a running np.maximum over the kh*kw strided views of x, one per window
    position, with no copy of the windows. The argmax packs "view k equals the max" into
    one bit each and looks the first set bit up in a table: a few byte-wide passes.
    """
    n, c, h, w = x.shape
    if pad == 0 and 1 < kh == kw == stride <= h and kw <= w and 16 >= kh * kw:
        out = np.empty((n, c, h // kh, w // kw), x.dtype)
        arg = np.empty(out.shape, np.uint8)

        def images(lo: int, hi: int) -> None:
            out[lo:hi], arg[lo:hi] = _max_pool_tiled(x[lo:hi], kh)
        parallel(n, images, elements=x.size)
        if not np.isnan(out).any():
            return out, arg
    oh, ow = conv_out_size(h, kh, stride, pad), conv_out_size(w, kw, stride, pad)
    views = list(_window_offsets(_padded(x, pad, -np.inf), kh, kw, stride, oh, ow))
    out = np.maximum(views[0], views[1]) if len(views) > 1 else views[0].copy()
    for view in views[2:]:
        np.maximum(out, view, out=out)
    bits = len(views) - 1
    if bits > 16 or np.isnan(out).any():  # a large window, or NaN: np.argmax, row by row
        rows = im2col(x.reshape(n * c, 1, h, w), kh, kw, stride, pad, pad_value=-np.inf)
        arg = rows.argmax(axis=1)
        return rows[np.arange(rows.shape[0]), arg].reshape(out.shape), \
            arg.reshape(out.shape).astype(np.intp if bits > 16 else np.uint8)
    if bits == 0:  # a 1x1 window: its one position is the max
        return out, np.zeros(out.shape, np.uint8)
    code = np.equal(views[0], out).view(np.uint8).astype(np.uint8 if bits <= 8 else np.uint16)
    for k in range(1, bits):
        code |= np.equal(views[k], out).view(np.uint8).astype(code.dtype, copy=False) << k
    if bits not in _LUTS:
        _LUTS[bits] = _first_lowest_bit(bits)
    return out, _LUTS[bits].take(code)


def max_pool_backward(dout: np.ndarray, arg: np.ndarray, x_shape: tuple, kh: int, kw: int,
                      stride: int, pad: int = 0) -> np.ndarray:
    """The gradient of max_pool: each dout element goes to the input position that held its
    window's max (`arg`), summed where windows overlap; (N, C, H, W)."""
    n, c, h, w = x_shape
    oh, ow = arg.shape[2:]
    # disjoint windows write each input position once: dout's bits times "arg is k" (exact,
    # and a nan or inf goes nowhere else); overlapping ones add where arg is k
    disjoint = stride >= kh and stride >= kw and dout.dtype.kind == "f"
    tiled = disjoint and kh == kw == stride and oh * stride == h + 2 * pad \
        and ow * stride == w + 2 * pad          # the windows cover every position once
    dx = (np.empty if tiled else np.zeros)((n, c, h + 2 * pad, w + 2 * pad), dtype=dout.dtype)
    bits = np.dtype(f"i{dout.dtype.itemsize}")

    def images(lo: int, hi: int) -> None:
        for k, view in enumerate(_window_offsets(dx[lo:hi], kh, kw, stride, oh, ow)):
            if disjoint:
                np.multiply(dout[lo:hi].view(bits), arg[lo:hi] == k, out=view.view(bits),
                            dtype=bits)
            else:
                view += np.where(arg[lo:hi] == k, dout[lo:hi], 0)
    parallel(n, images, elements=dx.size)
    return dx[:, :, pad:pad + h, pad:pad + w] if pad else dx
