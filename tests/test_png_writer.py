"""restoration.png_writer: PNG bytes from channels, and atomic writes.

The round trips through whole photos (alpha, ICC, EXIF, gray and colour, 8 and 16 bits) are in
test_imageio.py; these check the writer's own contract.
"""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from restoration.errors import InputError
from restoration.metadata import EXIF_HEADER, XMP_KEYWORD
from restoration.png_writer import encode_png_channels, quantize, write_atomic


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk, checking the signature and each CRC."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    found, at = [], 8
    while at < len(png):
        (length,) = struct.unpack_from(">I", png, at)
        kind, payload = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack_from(">I", png, at + 8 + length)
        assert crc == zlib.crc32(kind + payload), kind
        found.append((kind, payload))
        at += 12 + length
    return found


def test_quantize_rounds_and_clips():
    values = np.array([-0.5, 0.0, 0.5, 1.0, 2.0], np.float32)
    assert quantize(values, 8).tolist() == [0, 0, 128, 255, 255] and quantize(values, 8).dtype == np.uint8
    assert quantize(values, 16).tolist() == [0, 0, 32768, 65535, 65535] and quantize(values, 16).dtype == np.uint16


@pytest.mark.parametrize(("channels", "mode"), [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_8bit_channels_give_the_matching_pil_mode(channels, mode):
    values = np.random.default_rng(0).random((20, 30, channels)).astype(np.float32)
    image = Image.open(io.BytesIO(encode_png_channels(values, bit_depth=8)))
    assert image.mode == mode and image.size == (30, 20)
    np.testing.assert_array_equal(np.asarray(image).reshape(20, 30, channels), quantize(values, 8))


def test_16bit_chunks_in_order_with_valid_crcs_and_bare_exif():
    exif = EXIF_HEADER + b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    values = np.random.default_rng(1).random((300, 7, 3)).astype(np.float32)  # over one 256-row block
    png = encode_png_channels(values, bit_depth=16, icc=b"icc-bytes", exif=exif)
    found = chunks(png)
    kinds = [kind for kind, _ in found]
    assert kinds[:3] == [b"IHDR", b"iCCP", b"eXIf"] and kinds[-1] == b"IEND"
    assert set(kinds[3:-1]) == {b"IDAT"}
    assert struct.unpack(">IIBBBBB", found[0][1]) == (7, 300, 16, 2, 0, 0, 0)
    assert found[2][1] == exif[len(EXIF_HEADER) :]  # the eXIf chunk has no "Exif\0\0" prefix
    assert zlib.decompress(found[1][1].split(b"\x00\x00", 1)[1]) == b"icc-bytes"
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), quantize(values, 16))


@pytest.mark.parametrize(
    ("shape", "bit_depth", "message"),
    [((4, 4), 8, r"shape \(H, W, 1-4\), got \(4, 4\)"), ((4, 4, 5), 8, "got \\(4, 4, 5\\)"), ((4, 4, 3), 12, "8 or 16, got 12")],
    ids=["2d", "five-channels", "bit-depth"],
)
def test_bad_channels_are_refused(shape, bit_depth, message):
    with pytest.raises(InputError, match=message):
        encode_png_channels(np.zeros(shape, np.float32), bit_depth=bit_depth)


def test_write_atomic_replaces_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "deep" / "out.png"
    write_atomic(target, b"first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # the write fails half-way: the old file stays
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["out.png"]
    with pytest.raises(InputError, match="is a folder"):
        write_atomic(tmp_path / "deep", b"x")


TEXT = [("Title", "Grandmother, 1931"), ("Comment", "Großmutter – négatif"), (XMP_KEYWORD, "<x:xmpmeta>ž</x:xmpmeta>")]


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_text_is_written_as_text_chunks_pillow_reads(bit_depth):
    values = np.random.default_rng(2).random((12, 10, 3)).astype(np.float32)
    png = encode_png_channels(values, bit_depth=bit_depth, text=TEXT)
    found = chunks(png)
    kinds = [kind for kind, _ in found]
    assert kinds.index(b"IEND") == len(kinds) - 1 and all(kinds.index(k) < kinds.index(b"IDAT") for k in (b"tEXt", b"iTXt"))
    by_keyword = {payload.split(b"\x00", 1)[0].decode("latin-1"): (kind, payload) for kind, payload in found if kind in (b"tEXt", b"iTXt")}
    assert by_keyword["Title"][0] == b"tEXt"  # Latin-1 text: tEXt
    assert by_keyword["Comment"][0] == b"iTXt"  # beyond Latin-1: iTXt
    kind, payload = by_keyword[XMP_KEYWORD]
    assert kind == b"iTXt" and payload.split(b"\x00", 1)[1][:2] == b"\x00\x00"  # XMP: iTXt, uncompressed
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert dict(image.text) == dict(TEXT)


@pytest.mark.parametrize("keyword", ["", "x" * 80, " Title", "Ti  tle", "Titel€"])
def test_bad_text_keywords_are_refused(keyword):
    with pytest.raises(InputError, match="keyword"):
        encode_png_channels(np.zeros((4, 4, 3), np.float32), bit_depth=8, text=[(keyword, "value")])
