"""Values across the boundary: round trips, and what the grader refuses to read back."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from grader.codec import CodecError, Encoder, decode, load_tensor


def test_round_trip_of_plain_values_and_tensors(tmp_path: Path) -> None:
    encoder = Encoder(tmp_path, "t")
    value = [1, 2.5, "x", None, True, (1, 2), {"a": torch.arange(6).reshape(2, 3)}, float("nan")]
    back = decode(encoder.encode(value), tmp_path)
    assert back[:6] == [1, 2.5, "x", None, True, (1, 2)]
    assert torch.equal(back[6]["a"], torch.arange(6).reshape(2, 3))
    assert math.isnan(back[7])


def test_other_types_come_back_as_descriptions_not_objects(tmp_path: Path) -> None:
    class LyingInt(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    encoded = Encoder(tmp_path, "t").encode(LyingInt(3))
    back = decode(encoded, tmp_path)
    assert isinstance(back, dict) and back["$object"]["type"].endswith("LyingInt")


def test_tensor_files_are_checked(tmp_path: Path) -> None:
    with pytest.raises(CodecError):
        load_tensor(tmp_path, "../../etc/passwd.pt")
    with pytest.raises(CodecError):
        load_tensor(tmp_path, "missing.pt")
    torch.save({"not": "a tensor"}, tmp_path / "dict.pt")
    with pytest.raises(CodecError):
        load_tensor(tmp_path, "dict.pt")


class _Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (print, ("pwned",))


def test_pickled_objects_are_not_loaded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.save(_Evil(), tmp_path / "evil.pt")
    with pytest.raises(Exception, match="[Ww]eights.only"):
        load_tensor(tmp_path, "evil.pt")
    assert "pwned" not in capsys.readouterr().out


def test_malformed_data_is_refused(tmp_path: Path) -> None:
    for data in ({"$nope": 1}, {"a": 1, "b": 2}, {"$float": "1e999x"}):
        with pytest.raises(CodecError):
            decode(data, tmp_path)
