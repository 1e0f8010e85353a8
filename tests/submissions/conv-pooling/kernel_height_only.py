# assignment: conv-pooling
# Known mistake: the kernel is checked on its height only (m = k.shape[0] odd), so a (3, 4) kernel
# goes through cross_correlation2d and convolution2d, which then read its first 3×3 values.
import torch


def _check(x, k, boundary):
    if x.dim() != 2 or k.dim() != 2:
        raise ValueError("x and k must be 2-D")
    m = k.shape[0]
    if m % 2 == 0:
        raise ValueError("the kernel must have an odd size")
    if boundary not in ("valid", "zero", "mirror"):
        raise ValueError("unknown boundary")
    s = m // 2
    if boundary == "valid" and (x.shape[0] < m or x.shape[1] < m):
        raise ValueError("the kernel is larger than the image")
    if boundary == "mirror" and (x.shape[0] <= s or x.shape[1] <= s):
        raise ValueError("the image is too small to mirror")
    return s


def _pixel(x, i, j, boundary):
    h, w = x.shape
    if 0 <= i < h and 0 <= j < w:
        return x[i, j].item()
    if boundary == "zero":
        return 0.0
    if i < 0:
        i = -i
    if i >= h:
        i = 2 * (h - 1) - i
    if j < 0:
        j = -j
    if j >= w:
        j = 2 * (w - 1) - j
    return x[i, j].item()


def cross_correlation2d(x, k, boundary="valid"):
    s = _check(x, k, boundary)
    h, w = x.shape
    if boundary == "valid":
        rows, cols = range(s, h - s), range(s, w - s)
    else:
        rows, cols = range(h), range(w)
    out = torch.zeros(len(rows), len(cols))
    for oi, i in enumerate(rows):
        for oj, j in enumerate(cols):
            total = 0.0
            for a in range(-s, s + 1):
                for b in range(-s, s + 1):
                    total += k[a + s, b + s].item() * _pixel(x, i + a, j + b, boundary)
            out[oi, oj] = total
    return out


def convolution2d(x, k, boundary="valid"):
    s = _check(x, k, boundary)
    h, w = x.shape
    if boundary == "valid":
        rows, cols = range(s, h - s), range(s, w - s)
    else:
        rows, cols = range(h), range(w)
    out = torch.zeros(len(rows), len(cols))
    for oi, i in enumerate(rows):
        for oj, j in enumerate(cols):
            total = 0.0
            for a in range(-s, s + 1):
                for b in range(-s, s + 1):
                    total += k[a + s, b + s].item() * _pixel(x, i - a, j - b, boundary)
            out[oi, oj] = total
    return out


def conv_layer(x, kappa, b, stride=1, padding=0):
    if x.dim() != 3 or kappa.dim() != 4 or b.dim() != 1:
        raise ValueError("wrong number of dimensions")
    c_out, c_in, n, _ = kappa.shape
    if x.shape[0] != c_in or b.shape[0] != c_out:
        raise ValueError("mismatched channels")
    h, w = x.shape[1], x.shape[2]
    if n > h + 2 * padding or n > w + 2 * padding:
        raise ValueError("the kernel is larger than the input")
    h_out = (h + 2 * padding - n) // stride + 1
    w_out = (w + 2 * padding - n) // stride + 1
    out = torch.zeros(c_out, h_out, w_out)
    for o in range(c_out):
        for i in range(h_out):
            for j in range(w_out):
                total = b[o].item()
                for c in range(c_in):
                    for a in range(n):
                        for bb in range(n):
                            r, q = i * stride + a - padding, j * stride + bb - padding
                            if 0 <= r < h and 0 <= q < w:
                                total += kappa[o, c, a, bb].item() * x[c, r, q].item()
                out[o, i, j] = total
    return out


def _pool(x, z, stride, reduce):
    if x.dim() not in (2, 3):
        raise ValueError("x must be (H, W) or (C, H, W)")
    if stride is None:
        stride = z
    squeeze = x.dim() == 2
    if squeeze:
        x = x[None]
    c, h, w = x.shape
    if z > h or z > w:
        raise ValueError("the window is larger than the input")
    h_out, w_out = (h - z) // stride + 1, (w - z) // stride + 1
    out = torch.zeros(c, h_out, w_out)
    for ch in range(c):
        for i in range(h_out):
            for j in range(w_out):
                values = [x[ch, i * stride + a, j * stride + b].item() for a in range(z) for b in range(z)]
                out[ch, i, j] = reduce(values)
    return out[0] if squeeze else out


def max_pool2d(x, z, stride=None):
    return _pool(x, z, stride, max)


def avg_pool2d(x, z, stride=None):
    return _pool(x, z, stride, lambda values: sum(values) / len(values))
