"""restoration.metadata: PhotoMetadata, EXIF orientation, ICC spaces, XMP and PNG text kept.

Orientation applied to real files and EXIF/ICC surviving a save are in test_imageio.py.
"""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps, PngImagePlugin

from restoration.errors import InputError
from restoration.metadata import (
    EXIF_HEADER,
    ORIENTATION_TAG,
    XMP_KEYWORD,
    PhotoMetadata,
    apply_orientation,
    icc_space,
    read_exif,
    read_text,
)

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DC = "http://purl.org/dc/elements/1.1/"
TIFF = "http://ns.adobe.com/tiff/1.0/"


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


XMP_TURNED = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    ' tiff:Orientation="6"><dc:rights><rdf:Alt><rdf:li xml:lang="x-default">Family archive</rdf:li></rdf:Alt></dc:rights>'
    "</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>"
)


def _decoded(image: Image.Image, fmt: str, **options) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    decoded = Image.open(io.BytesIO(buffer.getvalue()))
    decoded.load()
    return decoded


def _orientation_and_rights(packet: str) -> tuple[str, str]:
    description = ET.fromstring(packet.split("?>", 1)[1].rsplit("<?xpacket", 1)[0]).find(f".//{RDF}Description")
    rights = description.find(f"{{{DC}}}rights/{RDF}Alt/{RDF}li").text
    element = description.find(f"{{{TIFF}}}Orientation")
    orientation = description.get(f"{{{TIFF}}}Orientation") or (element.text if element is not None else None)
    return orientation, rights


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG", "TIFF"])
def test_read_text_keeps_the_xmp_packet_turned_upright(fmt):
    image = Image.new("RGB", (32, 24), (90, 80, 70))
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt(XMP_KEYWORD, XMP_TURNED)
        decoded = _decoded(image, fmt, pnginfo=info)
    elif fmt == "TIFF":
        decoded = _decoded(image, fmt, tiffinfo={700: XMP_TURNED.encode("utf-8")})  # tag 700: XMP
    else:
        decoded = _decoded(image, fmt, xmp=XMP_TURNED.encode("utf-8"))
    notices: list[str] = []
    (keyword, packet), = read_text(decoded, notices)
    assert keyword == XMP_KEYWORD and notices == []
    orientation, rights = _orientation_and_rights(packet)
    assert rights == "Family archive"  # the rest is kept
    # applied on load, so the packet says upright (Pillow already drops a TIFF's XMP orientation)
    assert orientation == "1" or fmt == "TIFF" and orientation is None


def test_read_text_keeps_descriptive_png_text_only():
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Wedding, 1921")
    info.add_itxt("Author", "Émile Dupont")
    info.add_text("Software", "Scanner 2.0")  # the output names its own program
    info.add_text("Raw profile type exif", "exif\n 14\n4578696600004d4d002a")  # could contradict eXIf
    assert read_text(_decoded(Image.new("L", (20, 20)), "PNG", pnginfo=info), []) == (
        ("Title", "Wedding, 1921"),
        ("Author", "Émile Dupont"),
    )


def test_unreadable_xmp_is_dropped_with_a_notice():
    image = Image.new("RGB", (20, 20))
    image.info["xmp"] = b"\xff\xfe\x00\xd8"  # neither UTF-8 nor UTF-16 (a lone surrogate)
    notices: list[str] = []
    assert read_text(image, notices) == ()
    assert notices == ["the XMP metadata could not be read and was dropped"]
