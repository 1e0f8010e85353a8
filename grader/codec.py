"""Values across the sandbox boundary: JSON plus tensors, one per file.

Both sides use this module (it imports only the standard library and `grader.protocol` at
the top). Going in, the grader encodes a step's inputs (`Encoder` with no folder keeps the
tensor files in memory, to travel in the grader's message); coming out, the probe encodes
what the student's function returned, and the grader decodes it with `Decoder`: total (any
bytes become a value or a `CodecError`), sizes capped, each tensor file read once through a
folder descriptor. Nothing is pickled or unpickled: a tensor file is one line of text,
`coursegrade-tensor DTYPE DIM...`, then the tensor's elements as they lie in memory (C order,
this machine's byte order; both sides run here), and the grader reads it back by checking that
line, the length, and (for bool) every byte: no zip, no unpickler, between the child's bytes
and the grader.

Tags: {"$tensor": "file.tensor"}, {"$tuple": [...]}, {"$dict": {...}}, {"$float": "nan"},
{"$ref": "step"} (inputs only), {"$object": {"type", "repr"}} (a value of any other type,
decoded as `Opaque`).
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .protocol import (
    MAX_JSON_DEPTH,
    MAX_NAME,
    MAX_REPR,
    MAX_RUN_TENSOR_BYTES,
    MAX_STEP_TENSOR_BYTES,
    MAX_TENSOR_BYTES,
    MAX_TENSOR_REFS,
)

_SAFE_FILE = re.compile(r"^[A-Za-z0-9_.-]{1,64}\.tensor$")
MAGIC = b"coursegrade-tensor"
MAX_HEAD = 256  # bytes of a tensor file's first line
MAX_DIMS = 16
DTYPES = ("float32", "float64", "float16", "bfloat16", "complex64", "complex128",
          "int64", "int32", "int16", "int8", "uint8", "bool")  # what crosses (others are described)
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class CodecError(ValueError):
    """A value that cannot be decoded: too large, malformed, or not what it claims to be."""


@dataclass(frozen=True)
class Opaque:
    """A returned value of a type that does not cross the boundary: its type's name and repr."""

    type: str
    repr: str


class Encoder:
    """Turns values into JSON-able data, each tensor into a file of its own: in `folder`, or in
    `files` (name → bytes) when there is no folder."""

    def __init__(self, folder: Path | None, prefix: str) -> None:
        self.folder = folder
        self.prefix = prefix
        self.count = 0
        self.files: dict[str, bytes] = {}

    def encode(self, value: Any, depth: int = 0) -> Any:
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if depth > 20:
            return _described(value)
        if kind is list:
            return [self.encode(v, depth + 1) for v in value]
        if kind is tuple:
            return {"$tuple": [self.encode(v, depth + 1) for v in value]}
        if kind is dict and all(type(k) is str for k in value):
            return {"$dict": {k: self.encode(v, depth + 1) for k, v in value.items()}}
        if _is_exact_tensor(value):
            return self._tensor(value)
        return _described(value)

    def _tensor(self, value: Any) -> Any:
        if value.numel() * value.element_size() > MAX_TENSOR_BYTES:
            return {"$object": {"type": "Tensor", "repr": f"too large: shape {tuple(value.shape)}"}}
        try:
            data = tensor_bytes(value)
        except Exception as error:  # a dtype that does not cross, a tensor with no data (meta), ...
            return {"$object": {"type": "Tensor", "repr": f"not sent: {str(error)[:200]}"}}
        self.count += 1
        name = f"{self.prefix}-{self.count}.tensor"
        if self.folder is None:
            self.files[name] = data
        else:
            (self.folder / name).write_bytes(data)
        return {"$tensor": name}


def tensor_bytes(value: Any) -> bytes:
    """A tensor file's bytes: its line (dtype and shape), then its elements."""
    import torch

    plain = value.detach().to("cpu")
    if plain.layout != torch.strided:
        plain = plain.to_dense()
    dtype = str(plain.dtype).removeprefix("torch.")
    if dtype not in DTYPES:
        raise ValueError(f"a tensor of dtype {dtype}")
    plain = plain.resolve_conj().resolve_neg().contiguous()
    head = b" ".join([MAGIC, dtype.encode(), *(str(size).encode() for size in plain.shape)]) + b"\n"
    return head + plain.reshape(-1).view(torch.uint8).numpy().tobytes()


def tensor_from_bytes(data: bytes) -> Any:
    """The tensor a file's bytes hold; ValueError (saying why) for anything else."""
    import torch

    end = data.find(b"\n", 0, MAX_HEAD)
    words = data[:end].split(b" ") if end > 0 else []
    if len(words) < 2 or words[0] != MAGIC or len(words) > MAX_DIMS + 2:
        raise ValueError("not a tensor file")
    dtype_name = words[1].decode("ascii", "replace")
    if dtype_name not in DTYPES or not all(w.isdigit() and len(w) <= 12 for w in words[2:]):
        raise ValueError("a malformed first line")
    dtype, shape = getattr(torch, dtype_name), [int(w) for w in words[2:]]
    count = math.prod(shape)
    elements = bytearray(memoryview(data)[end + 1:])
    if len(elements) != count * dtype.itemsize:
        raise ValueError(f"{len(elements)} bytes of elements where the shape needs {count * dtype.itemsize}")
    if dtype is torch.bool and elements.translate(None, b"\0\1"):
        raise ValueError("a bool element that is neither 0 nor 1")
    if count == 0:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(elements, dtype=dtype).reshape(shape)


def _is_exact_tensor(value: Any) -> bool:
    kind = type(value)
    return kind.__name__ == "Tensor" and kind.__module__ == "torch"


def _described(value: Any) -> dict[str, Any]:
    kind = type(value)
    try:
        text = repr(value)
    except Exception:  # a student's __repr__ may raise anything
        text = "<repr failed>"
    if not isinstance(text, str):
        text = "<repr returned a non-string>"
    name = f"{kind.__module__}.{kind.__qualname__}".removeprefix("builtins.")
    return {"$object": {"type": name, "repr": text[:MAX_REPR]}}


def encode_input(value: Any, encoder: Encoder) -> Any:
    """Like `Encoder.encode`, for the grader's inputs, where `Ref`s name earlier results."""
    from .model import Ref

    if isinstance(value, Ref):
        return {"$ref": value.step}
    if type(value) is tuple:
        return {"$tuple": [encode_input(v, encoder) for v in value]}
    if type(value) is list:
        return [encode_input(v, encoder) for v in value]
    return encoder.encode(value)


def decode_input(data: Any, folder: Path, refs: dict[str, Any]) -> Any:
    """The probe's side: the grader's inputs (trusted), tensors read from `folder`."""
    if isinstance(data, list):
        return [decode_input(v, folder, refs) for v in data]
    if not isinstance(data, dict):
        return data
    (tag, body), = data.items()
    if tag == "$tuple":
        return tuple(decode_input(v, folder, refs) for v in body)
    if tag == "$dict":
        return {k: decode_input(v, folder, refs) for k, v in body.items()}
    if tag == "$float":
        return _FLOATS[body]
    if tag == "$ref":
        return refs[body]
    return tensor_from_bytes((folder / body).read_bytes())


def valid_text(value: str, limit: int) -> str:
    """At most `limit` characters, lone surrogates replaced (so any sink can encode it)."""
    return value[:limit].encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class Decoder:
    """The grader's side: answers from the child, decoded totally, with caps.

    Tensor files are read through `folder_fd`, a descriptor of the output folder the grader
    opened before the student's code ran (a folder renamed or replaced later is not followed),
    each file once (a file rewritten later is not read again), at most MAX_RUN_TENSOR_BYTES in all.
    """

    def __init__(self, folder_fd: int) -> None:
        self.folder_fd = folder_fd
        self.loaded: dict[str, Any] = {}
        self.bytes_read = 0

    def decode(self, data: Any) -> Any:
        """The value `data` encodes; anything malformed, too deep or too large is a CodecError."""
        try:
            return self._value(data, 0, _StepBudget())
        except CodecError:
            raise
        except Exception as error:  # the last guard of a total decoding: say what, never raise it
            raise CodecError(f"malformed value ({type(error).__name__})") from None

    def _value(self, data: Any, depth: int, budget: _StepBudget) -> Any:
        if depth > MAX_JSON_DEPTH:
            raise CodecError("the value is nested too deeply")
        if data is None or type(data) in (bool, int, float):
            return data
        if type(data) is str:
            return valid_text(data, len(data))
        if type(data) is list:
            return [self._value(v, depth + 1, budget) for v in data]
        if type(data) is not dict or len(data) != 1:
            raise CodecError("malformed value")
        (tag, body), = data.items()
        return self._tagged(tag, body, depth, budget)

    def _tagged(self, tag: str, body: Any, depth: int, budget: _StepBudget) -> Any:
        if tag == "$tuple" and type(body) is list:
            return tuple(self._value(v, depth + 1, budget) for v in body)
        if tag == "$dict" and type(body) is dict:
            return {valid_text(str(k), MAX_NAME): self._value(v, depth + 1, budget) for k, v in body.items()}
        if tag == "$float" and type(body) is str and body in _FLOATS:
            return _FLOATS[body]
        if tag == "$object" and type(body) is dict and type(body.get("type")) is str and type(body.get("repr")) is str:
            return Opaque(valid_text(body["type"], MAX_NAME), valid_text(body["repr"], MAX_REPR))
        if tag == "$tensor":
            tensor = self.tensor(body)
            budget.take(tensor)
            return tensor
        raise CodecError(f"malformed value (tag {valid_text(str(tag), 40)!r})")

    def tensor(self, name: Any) -> Any:
        """The tensor in file `name` of the output folder, read at most once."""
        if type(name) is not str or not _SAFE_FILE.match(name):
            raise CodecError("bad tensor file name")
        if name not in self.loaded:
            self.loaded[name] = self._load(name)
        return self.loaded[name]

    def _load(self, name: str) -> Any:
        data = _read_regular(self.folder_fd, name, MAX_TENSOR_BYTES + MAX_HEAD)
        self.bytes_read += len(data)
        if self.bytes_read > MAX_RUN_TENSOR_BYTES:
            raise CodecError(f"the answers' tensor files add up to more than {MAX_RUN_TENSOR_BYTES // 2**20} MiB")
        try:
            return tensor_from_bytes(data)
        except Exception as error:  # any bytes at all: ValueError says why, anything else is named
            why = str(error) if type(error) is ValueError else type(error).__name__
            raise CodecError(f"tensor file {name} cannot be read ({why})") from None


class _StepBudget:
    """The tensors one answer refers to: how many references, and their bytes (each counted)."""

    def __init__(self) -> None:
        self.refs = 0
        self.bytes = 0

    def take(self, tensor: Any) -> None:
        self.refs += 1
        self.bytes += tensor.numel() * tensor.element_size()
        if self.refs > MAX_TENSOR_REFS:
            raise CodecError(f"the answer refers to more than {MAX_TENSOR_REFS} tensors")
        if self.bytes > MAX_STEP_TENSOR_BYTES:
            raise CodecError(f"the answer's tensors add up to more than {MAX_STEP_TENSOR_BYTES // 2**20} MiB")


def _read_regular(folder_fd: int, name: str, limit: int) -> bytes:
    """The bytes of regular file `name` in the folder, never following a link nor waiting on a FIFO."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    except OSError:
        raise CodecError(f"tensor file {name} is missing") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CodecError(f"tensor file {name} is not a regular file")
        if info.st_size > limit:
            raise CodecError(f"tensor file {name} is larger than {MAX_TENSOR_BYTES // 2**20} MiB")
        return os.pread(fd, limit, 0)
    except OSError as error:
        raise CodecError(f"tensor file {name} cannot be read ({error.strerror})") from None
    finally:
        os.close(fd)
