"""Values across the sandbox boundary: JSON plus tensors saved one per file.

Both sides use this module. Going in, the grader encodes a step's inputs; coming out, the
probe encodes what the student's function returned, and the grader decodes it with sizes
capped and tensors loaded with `torch.load(..., weights_only=True)`. Nothing is pickled.

Tags: {"$tensor": "file.pt"}, {"$tuple": [...]}, {"$dict": {...}}, {"$float": "nan"},
{"$ref": "step"} (inputs only), {"$object": {"type", "repr"}} (a value of any other type),
{"$module": {...}} (an nn.Module described as plain data).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

MAX_TENSOR_BYTES = 64 * 2**20
MAX_REPR = 300
_SAFE_FILE = re.compile(r"^[A-Za-z0-9_.-]{1,64}\.pt$")


class CodecError(ValueError):
    """A value that cannot be decoded: too large, malformed, or not what it claims to be."""


class Encoder:
    """Turns values into JSON-able data, writing each tensor to its own file in `folder`."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder = folder
        self.prefix = prefix
        self.count = 0

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
        import torch

        self.count += 1
        name = f"{self.prefix}-{self.count}.pt"
        plain = value.detach().to("cpu").contiguous().clone()
        if plain.layout != torch.strided:
            plain = plain.to_dense()
        torch.save(plain, self.folder / name)
        return {"$tensor": name}


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


def decode(data: Any, folder: Path, refs: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """The value that `data` encodes; tensors are read from `folder`, refs from `refs`."""
    if depth > 25:
        raise CodecError("value nested too deeply")
    if isinstance(data, list):
        return [decode(v, folder, refs, depth + 1) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) != 1:
        raise CodecError("malformed value")
    (tag, body), = data.items()
    if tag == "$tuple":
        return tuple(decode(v, folder, refs, depth + 1) for v in body)
    if tag == "$dict":
        return {str(k): decode(v, folder, refs, depth + 1) for k, v in body.items()}
    if tag == "$float":
        return float(body) if body in ("nan", "inf", "-inf") else _bad(tag)
    if tag == "$tensor":
        return load_tensor(folder, body)
    if tag == "$ref" and refs is not None:
        return refs[body]
    if tag in ("$object", "$module"):
        return data
    return _bad(tag)


def _bad(tag: str) -> Any:
    raise CodecError(f"unknown value tag {tag!r}")


def load_tensor(folder: Path, name: Any) -> Any:
    """A tensor file written by the other side, checked before and after loading."""
    import torch

    if not isinstance(name, str) or not _SAFE_FILE.match(name):
        raise CodecError(f"bad tensor file name {name!r}")
    path = folder / name
    if path.is_symlink() or not path.is_file():
        raise CodecError(f"tensor file {name} is missing")
    if path.stat().st_size > MAX_TENSOR_BYTES + 4096:
        raise CodecError(f"tensor file {name} is larger than {MAX_TENSOR_BYTES} bytes")
    tensor = torch.load(path, map_location="cpu", weights_only=True)
    if type(tensor) is not torch.Tensor:
        raise CodecError(f"tensor file {name} holds a {type(tensor).__name__}, not a Tensor")
    return tensor


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
