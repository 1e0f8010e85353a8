"""Values across the boundary: round trips, and what the grader refuses to read back.

The grader's `Decoder` is total: whatever bytes the student's process left, decoding gives a
value or a CodecError, never another exception, and never more memory than its caps.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from grader import protocol
from grader.codec import CodecError, Decoder, Encoder, Opaque, tensor_bytes, tensor_from_bytes


@pytest.fixture
def decoder(tmp_path: Path) -> Iterator[Decoder]:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    yield Decoder(fd)
    os.close(fd)


def test_round_trip_of_plain_values_and_tensors(tmp_path: Path, decoder: Decoder) -> None:
    encoder = Encoder(tmp_path, "t")
    value = [1, 2.5, "x", None, True, (1, 2), {"a": torch.arange(6).reshape(2, 3)}, float("nan")]
    back = decoder.decode(encoder.encode(value))
    assert back[:6] == [1, 2.5, "x", None, True, (1, 2)]
    assert torch.equal(back[6]["a"], torch.arange(6).reshape(2, 3))
    assert math.isnan(back[7])


def test_inputs_can_travel_in_memory() -> None:
    encoder = Encoder(None, "in1")
    assert encoder.encode(torch.ones(2)) == {"$tensor": "in1-1.tensor"}
    assert torch.equal(tensor_from_bytes(encoder.files["in1-1.tensor"]), torch.ones(2))


def test_other_types_come_back_as_descriptions_not_objects(tmp_path: Path, decoder: Decoder) -> None:
    class LyingInt(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    back = decoder.decode(Encoder(tmp_path, "t").encode(LyingInt(3)))
    assert isinstance(back, Opaque) and back.type.endswith("LyingInt")
    # a plain dict that looks like a description stays a dict: only the tag makes an Opaque
    assert decoder.decode({"$dict": {"$object": {"$dict": {"type": "int", "repr": "3"}}}}) == {
        "$object": {"type": "int", "repr": "3"}}


def test_tensor_files_are_checked(tmp_path: Path, decoder: Decoder) -> None:
    (tmp_path / "link.tensor").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.tensor")
    torch.save(torch.ones(2), tmp_path / "saved.tensor")  # torch's own format: a zip with a pickle in it
    (tmp_path / "junk.tensor").write_bytes(b"PK\x03\x04 not a zip at all")
    (tmp_path / "outside.pt").write_bytes(tensor_bytes(torch.ones(2)))  # a good file, not named as ours are
    for name in ("../../etc/passwd.tensor", "missing.tensor", "link.tensor", "fifo.tensor", "saved.tensor",
                 "junk.tensor", "outside.pt", 7, None):
        with pytest.raises(CodecError):
            decoder.decode({"$tensor": name})


@pytest.mark.parametrize("value", [
    torch.tensor(3.5), torch.zeros(0, 3), torch.randn(4, 5).t(), torch.randn(3, dtype=torch.complex64).conj(),
    torch.tensor([True, False]), torch.randn(2, 3).to(torch.bfloat16), torch.arange(10)[::2],
    torch.eye(3).to_sparse(), torch.randint(0, 255, (3, 4), dtype=torch.uint8),
], ids=lambda t: f"{str(t.dtype).removeprefix('torch.')}{list(t.shape)}")
def test_tensors_cross_as_their_elements_with_dtype_and_shape(value: torch.Tensor) -> None:
    back = tensor_from_bytes(tensor_bytes(value))
    dense = value.to_dense() if value.layout != torch.strided else value.resolve_conj()
    assert back.dtype == dense.dtype and back.shape == dense.shape and torch.equal(back, dense)


@pytest.mark.parametrize(("data", "why"), [
    (b"", "not a tensor file"),
    (b"PK\x03\x04", "not a tensor file"),
    (b"coursegrade-tensor float32 2\n" + bytes(7), "7 bytes of elements where the shape needs 8"),
    (b"coursegrade-tensor float32 2\n" + bytes(9), "9 bytes"),
    (b"coursegrade-tensor bool 2\n\x00\x02", "neither 0 nor 1"),
    (b"coursegrade-tensor object 1\n\x00", "malformed first line"),
    (b"coursegrade-tensor float32 -1\n", "malformed first line"),
    (b"coursegrade-tensor float32 " + b"1 " * 200 + b"\n", "not a tensor file"),
])
def test_a_tensor_file_is_its_line_and_exactly_its_elements(data: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        tensor_from_bytes(data)


def test_dtypes_that_do_not_cross_are_described() -> None:
    assert Encoder(None, "t").encode(torch.zeros(2, dtype=torch.uint16))["$object"]["repr"].startswith("not sent")


class _Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (print, ("pwned",))


def test_pickled_objects_are_not_loaded(tmp_path: Path, decoder: Decoder, capsys: pytest.CaptureFixture[str]) -> None:
    torch.save(_Evil(), tmp_path / "evil.tensor")
    with pytest.raises(CodecError, match="cannot be read"):
        decoder.decode({"$tensor": "evil.tensor"})
    assert "pwned" not in capsys.readouterr().out


@pytest.mark.parametrize("data", [
    {"$nope": 1}, {"a": 1, "b": 2}, {"$float": "1e999x"}, {"$float": ["nan"]}, {"$tuple": 5},
    {"$dict": [1, 2]}, {"$dict": "abc"}, {"$object": "x"}, {"$object": {"type": 1, "repr": "x"}},
    {"$ref": "earlier"}, {"$module": {}}, {}, [{"$tuple": {"a": 1}}],
])
def test_malformed_data_is_refused(decoder: Decoder, data: object) -> None:
    with pytest.raises(CodecError):
        decoder.decode(data)


def test_deep_values_are_refused(decoder: Decoder) -> None:
    deep: object = 1
    for _ in range(protocol.MAX_JSON_DEPTH + 5):
        deep = [deep]
    with pytest.raises(CodecError, match="nested too deeply"):
        decoder.decode(deep)


def test_lone_surrogates_are_made_valid(decoder: Decoder) -> None:
    back = decoder.decode({"$dict": {"k\udc80": ["a\ud800b", {"$object": {"type": "\udfff", "repr": "x"}}]}})
    (key, value), = back.items()
    for text in (key, value[0], value[1].type):
        text.encode("utf-8")  # does not raise


def test_a_tensor_file_is_read_once_and_references_are_capped(tmp_path: Path, decoder: Decoder) -> None:
    (tmp_path / "big.tensor").write_bytes(tensor_bytes(torch.zeros(2**20)))  # 4 MiB
    many = [{"$tensor": "big.tensor"}] * (protocol.MAX_STEP_TENSOR_BYTES // 2**22 + 1)
    with pytest.raises(CodecError, match="add up to more than"):
        decoder.decode(many)
    assert decoder.bytes_read < 2**22 + 2**16  # the file was read once
    (tmp_path / "big.tensor").write_bytes(b"rewritten")
    assert decoder.decode({"$tensor": "big.tensor"}).numel() == 2**20  # and not read again
    small = [{"$tensor": "big.tensor"}] * 2
    assert len(decoder.decode(small)) == 2
