"""restoration.metadata: PhotoMetadata, EXIF orientation, ICC spaces.

Orientation applied to real files and EXIF/ICC surviving a save are in test_imageio.py.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from restoration.errors import InputError
from restoration.metadata import EXIF_HEADER, ORIENTATION_TAG, PhotoMetadata, apply_orientation, icc_space, read_exif


def test_photo_metadata_refuses_other_bit_depths():
    with pytest.raises(InputError, match="bit_depth must be 8 or 16, got 12"):
        PhotoMetadata(source_format=None, source_mode="RGB", bit_depth=12)


def test_icc_space():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert icc_space(srgb) == b"RGB "
    assert icc_space(None) is None and icc_space(b"too short") is None


@pytest.mark.parametrize("orientation", range(1, 9))
def test_apply_orientation_matches_pillow(orientation):
    array = np.arange(3 * 5 * 2, dtype=np.uint8).reshape(3, 5, 2)[..., 0]
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[ORIENTATION_TAG] = orientation
    image.info["exif"] = exif.tobytes()
    np.testing.assert_array_equal(apply_orientation(array, orientation), np.asarray(ImageOps.exif_transpose(image)))


def exif_block(order: str) -> bytes:
    """EXIF with IFD0 = ResolutionUnit 2, Orientation 6, Make "Voigtlander", in byte order II or MM."""
    e = "<" if order == "II" else ">"
    make = b"Voigtlander\x00"
    entries = [(0x010F, 2, len(make), 8 + 2 + 3 * 12 + 4), (0x0112, 3, 1, 6), (0x0128, 3, 1, 2)]
    ifd = struct.pack(e + "H", len(entries))
    for tag, kind, count, value in entries:
        field = struct.pack(e + "I", value) if kind == 2 else struct.pack(e + "HH", value, 0)
        ifd += struct.pack(e + "HHI", tag, kind, count) + field
    return EXIF_HEADER + order.encode() + struct.pack(e + "HI", 42, 8) + ifd + b"\0" * 4 + make


@pytest.mark.parametrize("order", ["II", "MM"])
def test_read_exif_resets_orientation_and_keeps_every_other_byte(order):
    raw = exif_block(order)
    image = Image.new("RGB", (4, 4))
    image.info["exif"] = raw
    notices: list[str] = []
    orientation, kept = read_exif(image, notices)
    assert orientation == 6 and notices == []
    assert len(kept) == len(raw) and sum(a != b for a, b in zip(kept, raw)) == 1
    parsed = Image.Exif()
    parsed.load(kept)
    assert parsed[ORIENTATION_TAG] == 1 and parsed[0x010F] == "Voigtlander" and parsed[0x0128] == 2
