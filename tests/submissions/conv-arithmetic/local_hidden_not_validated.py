"""Known mistake: locally_connected_params validates the field only; 0 hidden units gets through."""
import math


def _check(condition, message):
    if not condition:
        raise ValueError(message)


def conv_params(n, c_in, c_out, bias=True):
    _check(min(n, c_in, c_out) >= 1, "sizes must be >= 1")
    weights = (n ** 2) * c_in * c_out
    return weights + c_out if bias else weights


def conv_output_size(w, n, stride=1, padding=0):
    _check(w >= 1 and n >= 1 and stride >= 1, "sizes and stride must be >= 1")
    _check(padding >= 0, "padding must be >= 0")
    padded = w + 2 * padding
    _check(n <= padded, "kernel larger than the padded input")
    return math.ceil((padded - n + 1) / stride)


def pool_output_size(w, z, stride=None, padding=0):
    step = z if stride is None else stride
    _check(w >= 1 and z >= 1 and step >= 1, "sizes and stride must be >= 1")
    _check(padding >= 0, "padding must be >= 0")
    _check(z <= w + 2 * padding, "window larger than the padded input")
    return (w + 2 * padding - z) // step + 1


def fully_connected_params(n_inputs, n_hidden):
    _check(n_inputs >= 1 and n_hidden >= 1, "sizes must be >= 1")
    return n_inputs * n_hidden


def locally_connected_params(n_hidden, field):
    _check(field >= 1, "the field must be >= 1")
    return n_hidden * field * field


def shared_weights_params(field, c_in=1, c_out=1):
    _check(min(field, c_in, c_out) >= 1, "sizes must be >= 1")
    return field * field * c_in * c_out
