"""Tamper: answer with an int (and a float) subclass whose __eq__ always says yes, and never raise.

The grader compares exact types (an int subclass is not an int), so the score is zero.
"""


class Yes(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


class YesFloat(float):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = float.__hash__


def conv_params(n, c_in, c_out, bias=True):
    return Yes(0)


def conv_output_size(w, n, stride=1, padding=0):
    return YesFloat(0.0)


def pool_output_size(w, z, stride=None, padding=0):
    return Yes(0)


def fully_connected_params(n_inputs, n_hidden):
    return Yes(0)


def locally_connected_params(n_hidden, field):
    return Yes(0)


def shared_weights_params(field, c_in=1, c_out=1):
    return Yes(0)
