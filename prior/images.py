"""Untrusted image bytes -> a safe, upright RGB ``PIL.Image``: the one gate every image encoder and the API use.

Uploaded images are hostile input. This module accepts only JPEG, PNG and WebP, refuses images whose pixel count
exceeds a limit *before* decoding them (a 40 kB PNG can decode to gigabytes: a "decompression bomb"), decodes fully
so truncated files fail here rather than inside a model, applies the EXIF orientation so a phone photo is not
embedded sideways, and converts every mode (palette, alpha, LA, CMYK, 16-bit, greyscale) to 8-bit RGB, compositing
transparency on white.

Failures raise :class:`ImageInputError` with a stable ``code`` that the API maps to a 4xx JSON error:
``unsupported_format``, ``too_many_pixels``, ``truncated_image``, ``invalid_image``.
"""

from __future__ import annotations

import io
import threading

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP"})
"""PIL format names accepted; everything else (GIF, BMP, TIFF, SVG, ...) is ``unsupported_format``."""

DEFAULT_MAX_PIXELS = 40_000_000
"""About a 7700x5200 photo: above any phone camera, far below what would exhaust a web worker's memory."""

ERROR_CODES = ("unsupported_format", "too_many_pixels", "truncated_image", "invalid_image")


class ImageInputError(ValueError):
    """An uploaded image was refused. ``code`` is one of :data:`ERROR_CODES`; ``message`` is safe to show a user."""

    def __init__(self, code: str, message: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown image error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


_TRUNCATED_SETTING_LOCK = threading.Lock()


def load_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``data`` (the raw bytes of an upload) into an upright 8-bit RGB image, or raise :class:`ImageInputError`.

    ``max_pixels`` is checked against the header's size before any pixel is decoded.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("load_image expects the raw bytes of the file")
    data = bytes(data)
    if not data:
        raise ImageInputError("invalid_image", "the image file is empty")
    try:
        # PIL's own bomb guard raises at twice MAX_IMAGE_PIXELS and only warns below; we check the header's size
        # against both limits ourselves (below), before any pixel is decoded. (No warnings.catch_warnings() here:
        # it swaps process-wide state and is not safe in a threaded server.)
        image = Image.open(io.BytesIO(data), formats=None)
    except Image.DecompressionBombError:
        raise ImageInputError("too_many_pixels", f"the image has more than {max_pixels} pixels") from None
    except UnidentifiedImageError:
        raise ImageInputError("invalid_image", "the file is not a recognisable image") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageInputError("invalid_image", f"the image could not be read ({exc})") from None

    fmt = (image.format or "").upper()
    if fmt not in ALLOWED_FORMATS:
        allowed = ", ".join(sorted(ALLOWED_FORMATS))
        raise ImageInputError("unsupported_format", f"image format {fmt or 'unknown'} is not accepted (use {allowed})")
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageInputError("invalid_image", "the image has no pixels")
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)  # Pillow's own bomb guard is a ceiling too
    if width * height > limit:
        raise ImageInputError(
            "too_many_pixels", f"the image is {width}x{height} = {width * height} pixels; the limit is {limit}"
        )
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # animated PNG/WebP: the first frame is the picture

    _decode_fully(image)
    image = _upright(image)
    return to_rgb(image)


def _decode_fully(image: Image.Image) -> None:
    """Force decoding now so a truncated or corrupt file fails here with a clear code, not later in a model.

    Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` is process-wide. It is False unless some library switches it on;
    then (only then) decoding runs with it off under a lock, so concurrent uploads cannot restore each other's
    value out of order. The common path only reads the setting (under the lock) and decodes without it.
    """
    with _TRUNCATED_SETTING_LOCK:  # read under the lock: never our own temporary False from another thread
        switched_on = ImageFile.LOAD_TRUNCATED_IMAGES
        if switched_on:
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            try:
                _load_strictly(image)
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = True
    if not switched_on:
        _load_strictly(image)


def _load_strictly(image: Image.Image) -> None:
    try:
        image.load()
    except OSError as exc:
        text = str(exc).lower()
        if "truncated" in text or "broken data stream" in text or "unexpected end" in text or "incomplete" in text:
            raise ImageInputError("truncated_image", "the image file is truncated (incomplete upload?)") from None
        raise ImageInputError("invalid_image", f"the image data is corrupt ({exc})") from None
    except (ValueError, SyntaxError, EOFError) as exc:
        raise ImageInputError("truncated_image", f"the image data ends early or is corrupt ({exc})") from None


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag (phones store photos sideways and set this tag instead of rotating)."""
    try:
        return ImageOps.exif_transpose(image) or image
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        return image  # a malformed EXIF block is not worth refusing the picture for


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB. Transparency is composited on white (what a viewer shows), not dropped to black."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
        mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        grey = np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "F":
        arr = np.asarray(image, dtype=np.float64)
        peak = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        grey = np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "CMYK":
        return image.convert("RGB")
    return image.convert("RGB")  # L, 1, YCbCr, LAB, HSV, RGBX ...
