"""restoration.imageio: every way a photo or a mask comes in or goes out.

Fixture images are built in tmp_path (32-64 px); the real photos in examples/ (copies of ../shared/photos) are
loaded too.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import types
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps

from restoration.errors import InputError
from restoration.imageio import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    MIN_SIDE,
    Photo,
    encode_png,
    find_images,
    load_mask,
    load_photo,
    save_mask,
    save_photo,
    to_pil,
)

PHOTOS = Path(__file__).resolve().parent.parent / "examples"  # copies of ../shared/photos
H, W = 40, 56  # fixture size: height, width


def colour_u8(height: int = H, width: int = W, seed: int = 0) -> np.ndarray:
    """A smooth colourful (H, W, 3) uint8 image with a little noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([x / width, y / height, 1.0 - x / width * 0.7], axis=2)
    noise = np.random.default_rng(seed).normal(0.0, 0.02, rgb.shape)
    return np.clip(np.rint((rgb + noise) * 255), 0, 255).astype(np.uint8)


def gray_u8(height: int = H, width: int = W) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return ((x * 4 + y * 2) % 256).astype(np.uint8)


def png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def exif_with(**tags: int | str) -> Image.Exif:
    names = {"orientation": 0x0112, "make": 0x010F, "model": 0x0110}
    exif = Image.Exif()
    for name, value in tags.items():
        exif[names[name]] = value
    return exif


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def cmyk_icc_swapping_cyan_and_magenta() -> bytes:
    """A tiny CMYK printer profile (lut8 A2B0) that renders cyan ink as magenta and vice versa.

    Plain CMYK -> RGB would give cyan for pure cyan; going through this profile gives magenta,
    which proves the embedded profile was used.
    """
    from skimage.color import rgb2lab

    corners = []
    for c in (0, 1):
        for m in (0, 1):
            for yel in (0, 1):
                for k in (0, 1):
                    corners.append([(1 - m) * (1 - k), (1 - c) * (1 - k), (1 - yel) * (1 - k)])
    lab = rgb2lab(np.array(corners, dtype=np.float64)[None])[0]
    encoded = np.stack([lab[:, 0] * 255 / 100, lab[:, 1] + 128, lab[:, 2] + 128], axis=1)
    clut = np.clip(np.rint(encoded), 0, 255).astype(np.uint8).tobytes()
    identity = bytes(range(256))

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    lut = (
        b"mft1" + b"\0" * 4 + bytes([4, 3, 2, 0])
        + b"".join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
        + identity * 4 + clut + identity * 3
    )
    white = b"XYZ " + b"\0" * 4 + s15(0.9642) + s15(1.0) + s15(0.8249)
    tags = [(b"A2B0", lut), (b"wtpt", white)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = [struct.pack(">I", len(tags))], b""
    for signature, data in tags:
        table.append(signature + struct.pack(">II", offset + len(body), len(data)))
        body += data + b"\0" * (-len(data) % 4)
    size = offset + len(body)
    header = (
        struct.pack(">I", size) + b"\0" * 4 + bytes([2, 0x10, 0, 0]) + b"prtr" + b"CMYK" + b"Lab "
        + b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
        + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 48
    )
    assert len(header) == 128
    return header + b"".join(table) + body


def tiff16_rgb(array: np.ndarray, *, orientation: int) -> bytes:
    """Uncompressed little-endian 16-bit RGB TIFF with an orientation tag (Pillow cannot write one)."""
    height, width, _ = array.shape
    data = array.astype("<u2").tobytes()
    entries = 11
    bits_at = 8 + 2 + 12 * entries + 4
    data_at = bits_at + 6
    short = lambda tag, value: struct.pack("<HHIHH", tag, 3, 1, value, 0)  # noqa: E731
    long = lambda tag, value: struct.pack("<HHII", tag, 4, 1, value)  # noqa: E731
    ifd = b"".join([
        short(256, width), short(257, height), struct.pack("<HHII", 258, 3, 3, bits_at),
        short(259, 1), short(262, 2), long(273, data_at), short(274, orientation),
        short(277, 3), short(278, height), long(279, len(data)), short(284, 1),
    ])
    head = b"II*\0" + struct.pack("<IH", 8, entries)
    return head + ifd + b"\0" * 4 + struct.pack("<3H", 16, 16, 16) + data


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height but whose pixel data is a few bytes."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + pixels + chunk(b"IEND", b"")


# ----------------------------------------------------------------------------------------------
# Sources


def test_path_bytes_pil_and_array_give_the_same_photo(tmp_path):
    rgb = colour_u8()
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    expected = rgb.astype(np.float32) / 255
    for source in (path, str(path), path.read_bytes(), Image.open(path), rgb):
        photo = load_photo(source)
        assert photo.pixels.dtype == np.float32 and photo.pixels.shape == (H, W, 3)
        np.testing.assert_array_equal(photo.pixels, expected)
        assert photo.size == (W, H) and photo.width == W and photo.height == H
        assert photo.alpha is None and not photo.is_grayscale and photo.metadata.bit_depth == 8
    assert load_photo(path).metadata.source_format == "PNG"
    assert load_photo(rgb).metadata.source_format is None


@pytest.mark.parametrize(
    ("array", "mode", "bit_depth", "gray", "has_alpha"),
    [
        (gray_u8(), "L", 8, True, False),
        (gray_u8()[..., None], "L", 8, True, False),
        (np.dstack([gray_u8(), np.full((H, W), 128, np.uint8)]), "LA", 8, True, True),
        (colour_u8(), "RGB", 8, False, False),
        (np.dstack([colour_u8(), gray_u8()]), "RGBA", 8, False, True),
        (gray_u8().astype(np.uint16) * 257 + 1, "I;16", 16, True, False),
        (colour_u8().astype(np.uint16) * 250, "RGB", 16, False, False),
        (np.dstack([colour_u8(), gray_u8()]).astype(np.uint16) * 256, "RGBA", 16, False, True),
        (colour_u8().astype(np.float32) / 255, "RGB", 8, False, False),
        (np.dstack([colour_u8(), gray_u8()]).astype(np.float64) / 255, "RGBA", 8, False, True),
        (colour_u8().astype(np.float32) / 255 * 0.999 + 0.0005, "RGB", 16, False, False),
        (gray_u8() > 100, "1", 8, True, False),
    ],
    ids=["u8-HW", "u8-HW1", "u8-LA", "u8-RGB", "u8-RGBA", "u16-HW", "u16-RGB", "u16-RGBA",
         "f32-8bit-grid", "f64-RGBA", "f32-fine", "bool"],
)
def test_arrays_of_every_layout_and_dtype(array, mode, bit_depth, gray, has_alpha):
    scale = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(array.dtype, 1)
    values = array.astype(np.float64) / scale
    if values.ndim == 2:
        values = values[..., None]
    colour = values[..., : 3 if values.shape[2] >= 3 else 1]
    photo = load_photo(array)
    assert photo.metadata.source_mode == mode and photo.metadata.bit_depth == bit_depth
    assert photo.is_grayscale is gray
    np.testing.assert_allclose(photo.pixels, np.broadcast_to(colour, (H, W, 3)), atol=1e-6)
    if has_alpha:
        np.testing.assert_allclose(photo.alpha, values[..., -1], atol=1e-6)
    else:
        assert photo.alpha is None


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((H, W, 3), 2.0, np.float32), "floats must be in [0, 1]"),
        (np.zeros((H, W, 5), np.uint8), "has shape (40, 56, 5)"),
        (np.zeros((H, W, 3), np.int64), "has dtype int64"),
        (np.full((H, W), np.nan, np.float32), "NaN"),
        (np.zeros((4, 4, 3), np.uint8), "at least 16x16"),
    ],
    ids=["float-range", "channels", "dtype", "nan", "too-small"],
)
def test_bad_arrays_are_refused_with_the_reason(array, message):
    with pytest.raises(InputError, match="the given array") as info:
        load_photo(array)
    assert message in str(info.value)


def test_caller_arrays_are_never_modified_nor_shared():
    rgba = np.dstack([colour_u8(), gray_u8()]).astype(np.float32) / 255
    before = rgba.copy()
    photo = load_photo(rgba)
    assert not np.shares_memory(photo.pixels, rgba) and not np.shares_memory(photo.alpha, rgba)
    assert not photo.pixels.flags.writeable and not photo.alpha.flags.writeable
    new = np.zeros((H, W, 3), np.float32)
    changed = photo.with_pixels(new)
    new[:] = 1.0
    assert changed.pixels.max() == 0.0
    mask = np.zeros((H, W), np.float32)
    load_mask(mask, size=(W, H))
    np.testing.assert_array_equal(rgba, before)


# ----------------------------------------------------------------------------------------------
# Formats and modes


@pytest.mark.parametrize(
    ("fmt", "suffix", "options", "atol"),
    [
        ("JPEG", ".jpg", {"quality": 95}, 0.15),
        ("PNG", ".png", {}, 0),
        ("WEBP", ".webp", {"lossless": True}, 0),
        ("TIFF", ".tif", {"compression": "tiff_lzw"}, 0),
        ("BMP", ".bmp", {}, 0),
    ],
)
def test_formats(tmp_path, fmt, suffix, options, atol):
    rgb = colour_u8()
    path = tmp_path / f"photo{suffix}"
    Image.fromarray(rgb).save(path, format=fmt, **options)
    photo = load_photo(path)
    assert photo.metadata.source_format == fmt and photo.size == (W, H)
    assert not photo.is_grayscale
    np.testing.assert_allclose(photo.pixels, rgb / 255, atol=atol)


def _palette_image(transparent: bool) -> Image.Image:
    image = Image.fromarray(colour_u8()).quantize(colors=16)
    if transparent:
        image.info["transparency"] = int(np.asarray(image)[0, 0])
    return image


@pytest.mark.parametrize(
    ("make", "mode", "gray", "alpha"),
    [
        (lambda: Image.fromarray(gray_u8()), "L", True, False),
        (lambda: Image.fromarray(np.dstack([gray_u8(), 255 - gray_u8()])), "LA", True, True),
        (lambda: Image.fromarray(colour_u8()), "RGB", False, False),
        (lambda: Image.fromarray(np.dstack([colour_u8(), gray_u8()])), "RGBA", False, True),
        (lambda: _palette_image(transparent=False), "P", False, False),
        (lambda: _palette_image(transparent=True), "P", False, True),
        (lambda: Image.fromarray(gray_u8() > 128), "1", True, False),
    ],
    ids=["L", "LA", "RGB", "RGBA", "P", "P-transparency", "1"],
)
def test_8bit_modes_through_png(tmp_path, make, mode, gray, alpha):
    image = make()
    assert image.mode == mode
    path = tmp_path / "photo.png"
    image.save(path)
    photo = load_photo(path)
    assert photo.metadata.source_mode == mode and photo.metadata.bit_depth == 8
    assert photo.is_grayscale is gray
    reference = Image.open(path).convert("RGBA")
    np.testing.assert_allclose(photo.pixels, np.asarray(reference)[..., :3] / 255, atol=1e-6)
    if alpha:
        np.testing.assert_allclose(photo.alpha, np.asarray(reference)[..., 3] / 255, atol=1e-6)
        assert photo.alpha.min() < 0.01  # the transparent pixels really are transparent
    else:
        assert photo.alpha is None


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_gray_keeps_16_bits(tmp_path, suffix):
    values = (np.arange(H * W, dtype=np.uint32).reshape(H, W) * 29 % 65536).astype(np.uint16)
    path = tmp_path / f"gray16{suffix}"
    assert cv2.imwrite(str(path), values)
    photo = load_photo(path)
    assert photo.metadata.source_mode == "I;16" and photo.metadata.bit_depth == 16 and photo.is_grayscale
    np.testing.assert_array_equal(np.rint(photo.pixels[..., 0] * 65535), values)
    assert np.array_equal(photo.pixels[..., 0], photo.pixels[..., 2])


@pytest.mark.parametrize(("suffix", "channels"), [(".png", 3), (".png", 4), (".tif", 3)])
def test_16bit_colour_keeps_16_bits(tmp_path, suffix, channels):
    rgba = (np.random.default_rng(1).random((H, W, 4)) * 65535).astype(np.uint16)[..., :channels]
    path = tmp_path / f"colour16{suffix}"
    assert cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA if channels == 4 else cv2.COLOR_RGB2BGR))
    photo = load_photo(path)
    assert photo.metadata.bit_depth == 16 and not photo.is_grayscale
    np.testing.assert_array_equal(np.rint(photo.pixels * 65535), rgba[..., :3])
    if channels == 4:
        np.testing.assert_array_equal(np.rint(photo.alpha * 65535), rgba[..., 3])


def test_16bit_tiff_orientation_is_applied_once(tmp_path):
    rgb = (np.random.default_rng(2).random((H, W, 3)) * 65535).astype(np.uint16)
    path = tmp_path / "rotated16.tif"
    path.write_bytes(tiff16_rgb(rgb, orientation=6))
    photo = load_photo(path)
    assert photo.metadata.bit_depth == 16 and photo.size == (H, W)
    np.testing.assert_array_equal(np.rint(photo.pixels * 65535), np.rot90(rgb, -1))


def test_mode_I_and_F(tmp_path):
    values = gray_u8().astype(np.int32) * 200  # up to 51000: 16-bit range
    Image.fromarray(values, mode="I").save(tmp_path / "i.tif")
    photo = load_photo(tmp_path / "i.tif")
    assert photo.metadata.source_mode == "I" and photo.metadata.bit_depth == 16 and photo.is_grayscale
    np.testing.assert_allclose(photo.pixels[..., 0], values / 65535, atol=1e-6)

    floats = gray_u8().astype(np.float32) / 255
    Image.fromarray(floats, mode="F").save(tmp_path / "f.tif")
    photo = load_photo(tmp_path / "f.tif")
    assert photo.metadata.source_mode == "F" and photo.is_grayscale
    np.testing.assert_allclose(photo.pixels[..., 1], floats, atol=1e-6)

    Image.fromarray(floats * 4000 - 1000, mode="F").save(tmp_path / "wide.tif")
    photo = load_photo(tmp_path / "wide.tif")
    assert photo.pixels.min() == 0.0 and photo.pixels.max() == 1.0
    assert "stretched" in photo.metadata.notices[0]


def test_cmyk_without_profile_is_converted_plainly(tmp_path):
    cmyk = Image.fromarray(colour_u8()).convert("CMYK")
    cmyk.save(tmp_path / "cmyk.tif")
    photo = load_photo(tmp_path / "cmyk.tif")
    assert photo.metadata.source_mode == "CMYK" and photo.metadata.icc_profile is None
    np.testing.assert_allclose(photo.pixels, np.asarray(cmyk.convert("RGB")) / 255, atol=1e-6)


def test_cmyk_with_profile_goes_through_the_profile_and_does_not_keep_it(tmp_path):
    cyan = Image.new("CMYK", (32, 32), (255, 0, 0, 0))
    path = tmp_path / "cyan.tif"
    cyan.save(path, icc_profile=cmyk_icc_swapping_cyan_and_magenta())
    assert np.asarray(cyan.convert("RGB"))[0, 0].tolist() == [0, 255, 255]  # plain: cyan
    photo = load_photo(path)
    red, green, blue = photo.pixels[16, 16]
    assert red > 0.7 and green < 0.35 and blue > 0.7, photo.pixels[16, 16]  # the profile: magenta
    assert photo.metadata.icc_profile is None
    assert "icc_profile" not in Image.open(io.BytesIO(encode_png(photo))).info


# ----------------------------------------------------------------------------------------------
# EXIF orientation and metadata


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_and_reset(tmp_path, orientation):
    rgb = colour_u8()
    path = tmp_path / "oriented.png"
    Image.fromarray(rgb).save(path, exif=exif_with(orientation=orientation, make="Kodak"))
    photo = load_photo(path)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB")) / 255
    np.testing.assert_allclose(photo.pixels, expected, atol=1e-6)
    exif = Image.Exif()
    exif.load(photo.metadata.exif)
    assert exif[0x0112] == 1 and exif[0x010F] == "Kodak"


def test_jpeg_exif_is_kept_byte_for_byte_except_orientation(tmp_path):
    path = tmp_path / "camera.jpg"
    original = exif_with(orientation=8, make="Zeiss", model="Ikon").tobytes()
    Image.fromarray(colour_u8()).save(path, exif=original, quality=90)
    photo = load_photo(path)
    assert photo.size == (H, W)
    kept = photo.metadata.exif
    assert len(kept) == len(original) and sum(a != b for a, b in zip(kept, original)) == 1
    reread = load_photo(encode_png(photo))
    assert reread.size == (H, W)  # orientation 1 now: not rotated a second time
    assert reread.metadata.exif == kept


def test_uncompressed_gray_tiff_turned_by_its_orientation_tag(tmp_path):
    # Opened by path, Pillow 12.3 memory-maps this file and garbles it; load_photo must not.
    gray = gray_u8()
    path = tmp_path / "turned.tif"
    Image.fromarray(gray).save(path, tiffinfo={0x0112: 6})
    photo = load_photo(path)
    np.testing.assert_array_equal(photo.pixels[..., 0], np.rot90(gray, -1) / np.float32(255))


def test_tiff_tags_become_exif_without_layout_tags(tmp_path):
    path = tmp_path / "scan.tif"
    Image.fromarray(colour_u8()).save(path, tiffinfo={0x010F: "Epson", 0x0112: 3})
    photo = load_photo(path)
    np.testing.assert_allclose(photo.pixels, colour_u8()[::-1, ::-1] / 255, atol=1e-6)
    exif = Image.Exif()
    exif.load(photo.metadata.exif)
    assert exif[0x010F] == "Epson" and exif.get(0x0112, 1) == 1
    assert 273 not in exif and 256 not in exif  # no StripOffsets / ImageWidth copied into the PNG


def test_alpha_icc_and_exif_survive_save(tmp_path):
    rgba = np.dstack([colour_u8(), gray_u8()])
    source = tmp_path / "in.png"
    icc = srgb_icc()
    Image.fromarray(rgba).save(source, icc_profile=icc, exif=exif_with(make="Leica"))
    photo = load_photo(source)
    written = save_photo(photo, tmp_path / "out" / "result.png")
    assert written == tmp_path / "out" / "result.png" and written.read_bytes() == encode_png(photo)
    again = load_photo(written)
    np.testing.assert_array_equal(again.pixels, photo.pixels)
    np.testing.assert_array_equal(again.alpha, photo.alpha)
    assert again.metadata.icc_profile == icc
    assert again.metadata.exif == photo.metadata.exif
    assert Image.open(written).mode == "RGBA"


def test_16bit_rgba_with_metadata_survives_save(tmp_path):
    rgba = (np.random.default_rng(3).random((H, W, 4)) * 65535).astype(np.uint16)
    photo = load_photo(rgba)
    icc, exif = srgb_icc(), exif_with(orientation=6, make="Hasselblad").tobytes()
    photo = dataclasses.replace(photo, metadata=dataclasses.replace(photo.metadata, icc_profile=icc, exif=exif))
    path = save_photo(photo, tmp_path / "deep.png")
    decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # an independent PNG decoder
    assert decoded.dtype == np.uint16 and decoded.shape == (H, W, 4)
    np.testing.assert_array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGBA), rgba)
    assert Image.open(path).info["icc_profile"] == icc
    # The file's EXIF says orientation 6, so loading it rotates, as for any file.
    again = load_photo(path)
    assert again.metadata.bit_depth == 16 and again.size == (H, W)
    np.testing.assert_array_equal(np.rint(again.pixels * 65535), np.rot90(rgba[..., :3], -1))
    np.testing.assert_array_equal(np.rint(again.alpha * 65535), np.rot90(rgba[..., 3], -1))


def test_16bit_png_taller_than_one_encoding_block():
    rgb = (np.random.default_rng(7).random((600, 17, 3)) * 65535).astype(np.uint16)
    decoded = cv2.imdecode(np.frombuffer(encode_png(load_photo(rgb)), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), rgb)


@pytest.mark.parametrize(
    ("array", "pil_mode"),
    [
        (gray_u8(), "L"),
        (np.dstack([gray_u8(), 255 - gray_u8()]), "LA"),
        (gray_u8().astype(np.uint16) * 257 + 3, "I;16"),
        (colour_u8(), "RGB"),
    ],
)
def test_gray_photos_save_as_gray_png(tmp_path, array, pil_mode):
    photo = load_photo(array)
    path = save_photo(photo, tmp_path / "gray.png")
    assert Image.open(path).mode == pil_mode
    again = load_photo(path)
    np.testing.assert_array_equal(again.pixels, photo.pixels)
    assert again.is_grayscale is photo.is_grayscale and again.metadata.bit_depth == photo.metadata.bit_depth


def test_16bit_gray_with_alpha_round_trips(tmp_path):
    la = (np.random.default_rng(4).random((H, W, 2)) * 65535).astype(np.uint16)
    photo = load_photo(la)
    again = load_photo(encode_png(photo))
    assert again.is_grayscale and again.metadata.bit_depth == 16
    np.testing.assert_array_equal(again.pixels, photo.pixels)
    np.testing.assert_array_equal(again.alpha, photo.alpha)


def test_gray_photo_with_rgb_profile_is_written_as_rgb_to_keep_the_profile():
    photo = load_photo(PHOTOS / "1899NycBlizzard.jpg")  # gray content, RGB ICC profile
    assert photo.is_grayscale and photo.metadata.icc_profile[16:20] == b"RGB "
    image = Image.open(io.BytesIO(encode_png(photo)))
    assert image.mode == "RGB" and image.info["icc_profile"] == photo.metadata.icc_profile


# ----------------------------------------------------------------------------------------------
# Refusals


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("shopping list\n")
    with pytest.raises(InputError, match=r"notes\.png is not an image .*use a JPEG, PNG"):
        load_photo(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.jpg is empty \(0 bytes\); copy or export"):
        load_photo(path)
    with pytest.raises(InputError, match="empty"):
        load_photo(b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("pillow_tolerates_truncation", [False, True])
def test_truncated_file(tmp_path, monkeypatch, fmt, pillow_tolerates_truncation):
    noise = (np.random.default_rng(5).random((64, 64, 3)) * 255).astype(np.uint8)
    whole = io.BytesIO()
    Image.fromarray(noise).save(whole, format=fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", pillow_tolerates_truncation)
    if pillow_tolerates_truncation:
        Image.open(path).load()  # Pillow alone would silently return a half-gray picture
    with pytest.raises(InputError, match=rf"cut\.{fmt.lower()} is (truncated|damaged).*again"):
        load_photo(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is pillow_tolerates_truncation  # untouched


class _FlagSpy(io.BytesIO):
    """An in-memory file that notes the value of ImageFile.LOAD_TRUNCATED_IMAGES at every read.

    A read happens while Pillow decodes, so this is what any other thread sees mid-decode.
    """

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.seen: set[bool] = set()

    def read(self, size: int | None = -1) -> bytes:
        self.seen.add(ImageFile.LOAD_TRUNCATED_IMAGES)
        return super().read(size)


@pytest.fixture
def imagefile_writes(monkeypatch):
    """Every (name, value) assigned to an attribute of the PIL.ImageFile module from now on."""
    writes: list[tuple[str, object]] = []

    class Recording(types.ModuleType):
        def __setattr__(self, name: str, value: object) -> None:
            writes.append((name, value))
            super().__setattr__(name, value)

    monkeypatch.setattr(ImageFile, "__class__", Recording)
    return writes


def encoded(fmt: str, **options) -> bytes:
    """A 64x64 noise picture (incompressible, so half the file is half the pixels) as ``fmt``."""
    noise = (np.random.default_rng(5).random((64, 64, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_loading_never_writes_pillows_process_wide_flag(tmp_path, imagefile_writes):
    (tmp_path / "good.jpg").write_bytes(encoded("JPEG"))
    (tmp_path / "good.png").write_bytes(encoded("PNG"))
    (tmp_path / "cut.png").write_bytes(encoded("PNG")[:3000])
    load_photo(tmp_path / "good.jpg")
    load_photo((tmp_path / "good.png").read_bytes())
    load_mask(tmp_path / "good.png", size=(64, 64))
    with pytest.raises(InputError, match="truncated"):
        load_photo(tmp_path / "cut.png")
    assert imagefile_writes == []


@pytest.mark.parametrize("tolerant", [False, True])
def test_other_threads_see_the_flag_unchanged_while_a_photo_decodes(monkeypatch, tolerant):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", tolerant)
    spy = _FlagSpy(encoded("PNG"))
    load_photo(Image.open(spy))
    assert spy.seen == {tolerant}


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("JPEG", {}), ("PNG", {}), ("BMP", {}), ("GIF", {}), ("TIFF", {}), ("WEBP", {"lossless": True})],
    ids=["jpeg", "png", "bmp", "gif", "tiff", "webp"],
)
def test_truncated_files_are_refused_although_another_library_tolerates_them(
    tmp_path, monkeypatch, imagefile_writes, fmt, options
):
    data = encoded(fmt, **options)
    cut = data[: len(data) // 2]
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # as some libraries do
    imagefile_writes.clear()
    if fmt != "WEBP":  # Pillow alone would silently give a partly gray picture
        Image.open(io.BytesIO(cut)).load()
    # libwebp cannot even start on half a file: Pillow refuses it while opening, flag or not.
    what = "is a damaged image file" if fmt == "WEBP" else r"is truncated \(the file ends early\)"
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(cut)
    with pytest.raises(InputError, match=rf"cut\.{fmt.lower()} {what}.* again"):
        load_photo(path)
    with pytest.raises(InputError, match=f"the uploaded file {what}"):
        load_mask(cut, size=(64, 64))
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True and imagefile_writes == []


@pytest.mark.parametrize("tolerant", [False, True])
def test_corrupt_png_pixel_data_is_refused(monkeypatch, imagefile_writes, tolerant):
    data = bytearray(encoded("PNG"))
    start = data.index(b"IDAT") + 4 + 5000
    data[start : start + 40] = bytes(40)  # the zlib stream breaks; the file length is right
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", tolerant)
    imagefile_writes.clear()
    with pytest.raises(InputError, match=r"uploaded file is damaged \(.*\); download, copy or export it again"):
        load_photo(bytes(data))
    assert ImageFile.LOAD_TRUNCATED_IMAGES is tolerant and imagefile_writes == []


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("JPEG", {"quality": 90}), ("PNG", {}), ("BMP", {}), ("GIF", {}), ("TIFF", {}),
     ("TIFF", {"compression": "tiff_lzw"}), ("WEBP", {"lossless": True})],
    ids=["jpeg", "png", "bmp", "gif", "tiff", "tiff-lzw", "webp"],
)
@pytest.mark.parametrize("tolerant", [False, True])
def test_complete_files_decode_as_pillow_decodes_them(monkeypatch, fmt, options, tolerant):
    data = encoded(fmt, **options)
    with Image.open(io.BytesIO(data)) as reference:
        expected = np.asarray(reference.convert("RGB")) / np.float32(255)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", tolerant)
    np.testing.assert_array_equal(load_photo(data).pixels, expected)


def test_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    path.write_bytes(png_header_only(8000, 8000))  # 64 MP declared, 64 bytes of pixel data
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    monkeypatch.setattr(Image, "_getdecoder", lambda *args: pytest.fail("decoded"))  # restoration.decoding's loop
    expected = r"huge\.png is 8000x8000 = 64\.0 megapixels, over the limit of 50\.0 .*RESTORATION_MAX_PIXELS"
    with pytest.raises(InputError, match=expected):
        load_photo(path)
    assert DEFAULT_MAX_PIXELS == 50_000_000


def test_pixel_limit_from_argument_and_environment(tmp_path, monkeypatch):
    path = tmp_path / "photo.png"
    Image.fromarray(colour_u8()).save(path)
    with pytest.raises(InputError, match="over the limit of 0.0 megapixels"):
        load_photo(path, max_pixels=1000)
    monkeypatch.setenv("RESTORATION_MAX_PIXELS", "2000")
    with pytest.raises(InputError, match="over the limit"):
        load_photo(path)
    assert load_photo(path, max_pixels=W * H).size == (W, H)
    monkeypatch.setenv("RESTORATION_MAX_PIXELS", "lots")
    with pytest.raises(InputError, match="RESTORATION_MAX_PIXELS must be a whole number"):
        load_photo(path)


def test_decompression_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(20000, 20000))  # over Pillow's own bomb limit
    with pytest.raises(InputError, match=r"bomb\.png declares too many pixels .*downscale"):
        load_photo(path, max_pixels=10**9)


@pytest.mark.parametrize("size", [(1, 1), (MIN_SIDE - 1, 40)])
def test_too_small(tmp_path, size):
    path = tmp_path / "tiny.png"
    Image.new("RGB", size).save(path)
    with pytest.raises(InputError, match=rf"tiny\.png is {size[0]}x{size[1]} pixels; .*at least 16x16"):
        load_photo(path)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(InputError, match=r"nowhere\.jpg does not exist"):
        load_photo(tmp_path / "nowhere.jpg")
    with pytest.raises(InputError, match="is a folder, not an image file"):
        load_photo(tmp_path)
    with pytest.raises(InputError, match="expected a file path"):
        load_photo(42)


@pytest.mark.parametrize(
    ("fmt", "suffix", "notice"),
    [
        ("GIF", ".gif", "animated image: only the first of 3 frames was used"),
        ("WEBP", ".webp", "animated image: only the first of 3 frames was used"),
        ("PNG", ".png", "animated image: only the first of 3 frames was used"),
        ("TIFF", ".tif", "multi-page TIFF: only the first of 3 pages was used"),
    ],
    ids=["gif", "webp", "apng", "tiff"],
)
def test_animated_and_multipage_use_the_first_frame(tmp_path, fmt, suffix, notice):
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((200, 30, 30), (30, 200, 30), (30, 30, 200))]
    path = tmp_path / f"anim{suffix}"
    options = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=100, **options)
    photo = load_photo(path)
    assert photo.metadata.notices == (notice,)
    np.testing.assert_allclose(photo.pixels[16, 16], np.array([200, 30, 30]) / 255, atol=2 / 255)


# ----------------------------------------------------------------------------------------------
# Grayscale detection


def test_gray_rgb_jpeg_with_chroma_noise_is_grayscale(tmp_path):
    rng = np.random.default_rng(6)
    gray = gray_u8(64, 64).astype(np.int16)[..., None] + rng.integers(-3, 4, (64, 64, 3))
    path = tmp_path / "gray.jpg"
    Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8)).save(path, quality=70)
    photo = load_photo(path)
    assert photo.metadata.source_mode == "RGB" and photo.is_grayscale
    assert np.array_equal(photo.pixels[..., 0], photo.pixels[..., 1])
    assert np.array_equal(photo.pixels[..., 0], photo.pixels[..., 2])


def test_sepia_is_not_grayscale():
    sepia = gray_u8(64, 64)[..., None] * np.array([1.0, 0.85, 0.62])
    photo = load_photo(np.rint(sepia).astype(np.uint8))
    assert not photo.is_grayscale


def test_small_coloured_objects_on_gray_keep_colour():
    image = np.repeat(gray_u8(64, 64)[..., None] // 4, 3, axis=2)
    image[10:14, 10:14] = (255, 0, 0)  # 16 of 4096 pixels: 0.4 %
    assert not load_photo(image).is_grayscale


@pytest.mark.parametrize(
    ("name", "gray"),
    [
        ("1860Girls.jpg", False),  # RGB file with a faint warm tone: the tone is kept
        ("1870Girl.jpg", False),  # sepia
        ("1896NewsBoyGirl.jpg", False),  # faint tone
        ("1899NycBlizzard.jpg", True),
        ("1908FamilyPhoto.jpg", True),
        ("1920sFarmKid.jpg", False),  # sepia
        ("CorkKids1910.jpg", True),  # mode L
        ("FarmWomen1895.jpg", False),  # faint tone
    ],
)
def test_real_photos(name, gray):
    photo = load_photo(PHOTOS / name)
    with Image.open(PHOTOS / name) as image:
        assert photo.size == image.size
        assert photo.metadata.source_mode == image.mode
    assert photo.is_grayscale is gray
    if gray:
        assert np.array_equal(photo.pixels[..., 0], photo.pixels[..., 1])
    assert photo.metadata.notices == ()


# ----------------------------------------------------------------------------------------------
# Photo helpers


def test_with_pixels_checks_the_size_and_keeps_everything_else():
    photo = load_photo(np.dstack([colour_u8(), gray_u8()]))
    with pytest.raises(InputError, match="new pixels are 20x10 but the photo is 56x40"):
        photo.with_pixels(np.zeros((10, 20, 3), np.float32))
    with pytest.raises(InputError, match=r"shape \(40, 56, 3\)"):
        photo.with_pixels(np.zeros((H, W), np.float32))
    changed = photo.with_pixels(np.full((H, W, 3), 1.2))
    assert changed.pixels.dtype == np.float32 and changed.pixels.max() == 1.0
    assert changed.alpha is photo.alpha and changed.metadata is photo.metadata


def test_with_pixels_on_a_gray_photo_stays_gray_only_if_the_result_is_gray(tmp_path):
    photo = load_photo(gray_u8())
    nearly = photo.pixels + np.array([0.0, 1e-4, -1e-4], np.float32)  # invisible at 8 bits
    assert photo.with_pixels(nearly).is_grayscale
    coloured = photo.with_pixels(photo.pixels * np.array([1.0, 0.8, 0.6], np.float32))
    assert not coloured.is_grayscale
    assert Image.open(save_photo(coloured, tmp_path / "c.png")).mode == "RGB"


def test_photo_checks_its_arrays():
    metadata = load_photo(colour_u8()).metadata
    with pytest.raises(InputError, match=r"float32 array of shape \(H, W, 3\), got float64"):
        Photo(pixels=np.zeros((H, W, 3)), alpha=None, is_grayscale=False, metadata=metadata)
    with pytest.raises(InputError, match="Photo.alpha must be None or a float32 array of shape"):
        Photo(pixels=np.zeros((H, W, 3), np.float32), alpha=np.zeros((H, 3), np.float32),
              is_grayscale=False, metadata=metadata)
    assert repr(load_photo(gray_u8())) == "Photo(56x40 gray, 8-bit, source None L)"


def test_to_pil_modes():
    assert to_pil(load_photo(gray_u8())).mode == "L"
    assert to_pil(load_photo(np.dstack([gray_u8(), gray_u8()]))).mode == "LA"
    assert to_pil(load_photo(colour_u8())).mode == "RGB"
    image = to_pil(load_photo(np.dstack([colour_u8(), gray_u8()]).astype(np.uint16) * 257))
    assert image.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(image)[..., :3], colour_u8())


def test_save_photo_refuses_other_suffixes_and_leaves_no_temporary_file(tmp_path):
    photo = load_photo(colour_u8())
    with pytest.raises(InputError, match="ending in .png"):
        save_photo(photo, tmp_path / "out.jpg")
    save_photo(photo, tmp_path / "out.png")
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


# ----------------------------------------------------------------------------------------------
# Masks


def test_load_mask_from_8bit_file(tmp_path):
    mask = np.zeros((H, W), np.uint8)
    mask[5:10, 5:30] = 255
    path = tmp_path / "mask.png"
    Image.fromarray(mask).save(path)
    loaded = load_mask(path, size=(W, H))
    assert loaded.dtype == np.float32 and loaded.shape == (H, W)
    np.testing.assert_array_equal(loaded, mask / 255)


def test_load_mask_uses_alpha_of_painted_strokes(tmp_path):
    strokes = np.zeros((H, W, 4), np.uint8)
    strokes[..., :3] = (0, 0, 0)  # black paint: the colour carries no information
    strokes[20:25, :, 3] = 255
    path = tmp_path / "strokes.png"
    Image.fromarray(strokes).save(path)
    loaded = load_mask(path.read_bytes(), size=(W, H))
    assert loaded[20:25].min() == 1.0 and loaded.sum() == 5 * W


def test_load_mask_rgb_and_arrays():
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[3, 4] = (255, 0, 0)  # a red stroke counts as damage
    assert load_mask(Image.fromarray(rgb), size=(W, H))[3, 4] == 1.0
    bools = np.zeros((H, W), bool)
    bools[1, 2] = True
    assert load_mask(bools, size=(W, H)).sum() == 1.0


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_load_mask_applies_exif_orientation(tmp_path, fmt):
    mask = np.zeros((W, H), np.uint8)  # stored sideways: W rows, H columns
    mask[0, :5] = 255
    path = tmp_path / f"mask.{fmt.lower()}"
    options = {"exif": exif_with(orientation=6)} if fmt == "PNG" else {"tiffinfo": {0x0112: 6}}
    Image.fromarray(mask).save(path, format=fmt, **options)
    loaded = load_mask(path, size=(W, H))
    np.testing.assert_array_equal(loaded, np.rot90(mask, -1) / 255)


def test_load_mask_of_the_wrong_size(tmp_path):
    path = tmp_path / "small.png"
    Image.new("L", (100, 80)).save(path)
    with pytest.raises(InputError) as info:
        load_mask(path, size=(640, 480))
    message = str(info.value)
    assert "mask is 100x80 but the photo is 640x480" in message
    assert "draw or export the mask at the photo's size" in message and "small.png" in message


def test_save_mask_writes_8bit_white_damage(tmp_path):
    mask = np.zeros((H, W), np.float32)
    mask[2:6, 2:6] = 1.0
    path = save_mask(mask, tmp_path / "photo.mask.png")
    image = Image.open(path)
    assert image.mode == "L" and image.size == (W, H)
    assert np.asarray(image).max() == 255 and (np.asarray(image) == 255).sum() == 16
    np.testing.assert_array_equal(load_mask(path, size=(W, H)), mask)
    with pytest.raises(InputError, match=r"\(H, W\) array"):
        save_mask(np.zeros((H, W, 3)), tmp_path / "bad.png")


# ----------------------------------------------------------------------------------------------
# Folders


def test_find_images(tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    for name in ["b.JPG", "a.png", ".hidden.png", "a.mask.png", "notes.txt", "c.tiff"]:
        (folder / name).write_bytes(b"x")
    (folder / "sub").mkdir()
    (folder / "sub" / "d.png").write_bytes(b"x")
    extra = tmp_path / "single.dat"
    extra.write_bytes(b"x")
    found = find_images([folder, extra, folder / "a.png"])
    assert [p.name for p in found] == ["a.png", "b.JPG", "c.tiff", "single.dat"]
    assert ".png" in IMAGE_SUFFIXES and ".gif" not in IMAGE_SUFFIXES
    with pytest.raises(InputError, match=r"missing\.jpg does not exist"):
        find_images([folder, tmp_path / "missing.jpg"])
