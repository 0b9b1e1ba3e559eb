"""prior.images.load_image: every bad kind is refused with its stable code; every mode becomes upright RGB."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from prior.images import ERROR_CODES, ImageInputError, load_image


def encode(image: Image.Image, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **save)
    return buf.getvalue()


def refused(data: bytes, code: str, **kw) -> ImageInputError:
    with pytest.raises(ImageInputError) as info:
        load_image(data, **kw)
    assert info.value.code == code, info.value.message
    assert info.value.message and "\n" not in info.value.message
    return info.value


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_allowed_formats_load_as_rgb(fmt):
    image = load_image(encode(Image.new("RGB", (40, 30), (200, 30, 10)), fmt))
    assert image.mode == "RGB" and image.size == (40, 30)
    r, g, b = np.asarray(image)[15, 20]
    assert r > 150 and g < 80 and b < 60


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO"])
def test_other_formats_are_unsupported(fmt):
    error = refused(encode(Image.new("RGB", (16, 16), "red"), fmt), "unsupported_format")
    assert fmt in error.message or (fmt == "TIFF" and "TIFF" in error.message)


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 10, bytes(range(256))])
def test_empty_and_garbage_are_invalid(data):
    refused(data, "invalid_image")


def test_svg_text_is_not_an_image():
    refused(b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "invalid_image")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_files_are_rejected(fmt):
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = encode(noisy, fmt)
    error = None
    with pytest.raises(ImageInputError) as info:
        load_image(data[: len(data) * 2 // 3])
    error = info.value
    assert error.code in ("truncated_image", "invalid_image")
    if fmt in ("PNG", "JPEG"):
        assert error.code == "truncated_image"


def test_truncated_rejected_even_if_someone_allowed_truncated_images(monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # another library's global choice
    noisy = Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = encode(noisy, "PNG")
    refused(data[: len(data) // 2], "truncated_image")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored


def test_pixel_limit_is_checked_before_decoding():
    data = encode(Image.new("L", (300, 200)), "PNG")
    refused(data, "too_many_pixels", max_pixels=300 * 200 - 1)
    assert load_image(data, max_pixels=300 * 200).size == (300, 200)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels (its data is cut off): the shape of a decompression bomb."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))


def test_decompression_bomb_is_refused_not_just_warned_about():
    pil_limit = Image.MAX_IMAGE_PIXELS or 89_478_485
    huge = int((3 * pil_limit) ** 0.5)  # beyond PIL's own error threshold (2x its limit)
    refused(png_header_only(huge, huge), "too_many_pixels", max_pixels=10**12)
    refused(png_header_only(huge, huge), "too_many_pixels")
    # above PIL's warning threshold but below its error threshold: Pillow only warns, we refuse
    side = int((1.2 * pil_limit) ** 0.5)
    with pytest.warns(Image.DecompressionBombWarning):
        refused(png_header_only(side, side), "too_many_pixels", max_pixels=10**12)
    refused(png_header_only(7000, 7000), "too_many_pixels")  # 49 Mpx > the default 40 Mpx


def test_real_compressed_bomb_is_refused():
    bomb = encode(Image.new("1", (8000, 8000)), "PNG", optimize=True)  # 64 Mpx in a few kB
    assert len(bomb) < 100_000
    refused(bomb, "too_many_pixels")


def test_exif_orientation_is_applied():
    # a 40x20 landscape picture, left half red, stored with orientation 6 ("rotate 90° clockwise to view")
    image = Image.new("RGB", (40, 20), "blue")
    image.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = load_image(encode(image, "JPEG", exif=exif, quality=95))
    assert upright.size == (20, 40)
    top, bottom = np.asarray(upright)[5, 10], np.asarray(upright)[35, 10]
    assert top[0] > 200 and top[2] < 60  # the red half is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_mode_rgba_composited_on_white():
    image = Image.new("RGBA", (10, 10), (255, 0, 0, 0))  # fully transparent red
    image.putpixel((0, 0), (0, 0, 255, 255))
    out = np.asarray(load_image(encode(image, "PNG")))
    assert tuple(out[5, 5]) == (255, 255, 255)
    assert tuple(out[0, 0]) == (0, 0, 255)


def test_mode_la_composited_on_white():
    image = Image.new("LA", (10, 10), (0, 128))  # half-transparent black
    out = load_image(encode(image, "PNG"))
    assert out.mode == "RGB"
    assert 120 <= np.asarray(out)[0, 0, 0] <= 135


def test_mode_palette_and_palette_with_transparency():
    image = Image.new("RGB", (10, 10), (0, 200, 0)).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    out = load_image(encode(image, "PNG"))
    assert out.mode == "RGB" and np.asarray(out)[0, 0, 1] > 150
    image.info["transparency"] = image.getpixel((0, 0))
    out = load_image(encode(image, "PNG", transparency=image.getpixel((0, 0))))
    assert tuple(np.asarray(out)[0, 0]) == (255, 255, 255)


def test_mode_cmyk_jpeg():
    image = Image.new("CMYK", (10, 10), (0, 255, 255, 0))  # pure red in CMYK
    out = load_image(encode(image, "JPEG"))
    r, g, b = np.asarray(out)[5, 5]
    assert out.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_mode_16_bit_greyscale_png():
    arr = np.full((8, 8), 65535 // 2, dtype=np.uint16)
    out = load_image(encode(Image.fromarray(arr), "PNG"))
    assert out.mode == "RGB"
    assert 120 <= np.asarray(out)[0, 0, 0] <= 135


def test_mode_greyscale_and_bilevel():
    assert load_image(encode(Image.new("L", (5, 5), 10), "PNG")).getpixel((0, 0)) == (10, 10, 10)
    assert load_image(encode(Image.new("1", (5, 5), 1), "PNG")).getpixel((0, 0)) == (255, 255, 255)


def test_error_codes_are_the_documented_ones():
    assert set(ERROR_CODES) == {"unsupported_format", "too_many_pixels", "truncated_image", "invalid_image"}
    with pytest.raises(ValueError):
        ImageInputError("nope", "x")
    assert ImageInputError("invalid_image", "m").to_dict() == {"code": "invalid_image", "message": "m"}


def test_concurrent_uploads_keep_the_global_truncation_setting(monkeypatch):
    """Threads decoding at once must neither miss a truncation nor leave Pillow's global switched."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    rng = np.random.default_rng(2)
    whole = [encode(Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)), "PNG") for _ in range(8)]

    def outcome(i: int) -> str:
        data = whole[i % 8] if i % 2 else whole[i % 8][: len(whole[i % 8]) // 2]
        try:
            load_image(data)
            return "ok"
        except ImageInputError as exc:
            return exc.code

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(outcome, range(64)))
    assert results == ["truncated_image" if i % 2 == 0 else "ok" for i in range(64)]
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
