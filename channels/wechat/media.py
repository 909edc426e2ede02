"""Images for WeChat: fetched only from allowed hosts, size- and type-checked, normalised.

The fetch is where server-side request forgery would happen (item HTML names the URLs), so
the host must be on `allowed_image_hosts`, and the fetch goes through the egress guard
(channels/egress.py): the address checked at connect time (a private or loopback address
only when `[egress] allow_hosts` names the host), redirects never followed (they would leave
the allowed host), the body streamed with a hard cap. The bytes must really be an image
(magic bytes, then Pillow decodes it with a pixel limit) whatever Content-Type claims.
Whatever the image host answers, 401 and 403 included, is that item's problem
(PermanentError or TransientError), never a reason to pause the channel. WeChat's limits:
media/uploadimg takes JPG/PNG under 1 MB; a `thumb` material is a JPG of at most 64 KB.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Collection

from PIL import Image, ImageDraw, ImageFont

from channels.base import PermanentError
from channels.egress import EgressGuard, EgressTooLargeError
from channels.wechat.html import host_allowed

UPLOADIMG_MAX = 1024 * 1024 - 1
THUMB_MAX = 64 * 1024
COVER_MAX = 2 * 1024 * 1024
COVER_SIZE = (900, 383)  # WeChat's 2.35:1 cover
MAX_PIXELS = 40_000_000
SIGNATURES = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png", b"GIF87a": "gif", b"GIF89a": "gif"}


def sniff(data: bytes) -> str | None:
    for magic, fmt in SIGNATURES.items():
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def fetch_image(guard: EgressGuard, url: str, *, allowed_hosts: Collection[str], max_bytes: int) -> bytes:
    """Download one image, refusing anything outside the allow-list or over `max_bytes`."""
    if not host_allowed(url, allowed_hosts):
        raise PermanentError(f"图片来源不在允许列表 / image host not allowed: {url}"[:300])
    try:
        # a redirect is refused (EgressRefusedError): it would lead off the allowed host
        got = guard.fetch(url, max_bytes=max_bytes, accept=("image/",), max_redirects=0)
    except EgressTooLargeError as exc:
        raise PermanentError(f"图片过大 / image larger than {max_bytes} bytes: {url}"[:300]) from exc
    if sniff(got.content) is None:
        raise PermanentError(f"图片格式不支持 / unsupported image format: {url}"[:300])
    return got.content


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise PermanentError("图片像素过多 / image has too many pixels")
            image.load()
        except PermanentError:
            raise
        except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PermanentError(f"图片无法解码 / image cannot be decoded: {type(exc).__name__}") from exc
    return image


def _jpeg(image: Image.Image, limit: int, max_width: int) -> bytes:
    image = image.convert("RGB")
    if image.width > max_width:
        image = image.resize((max_width, max(1, round(image.height * max_width / image.width))))
    # A few fixed steps down in quality and then size: bounded, never a retry loop.
    for quality in (85, 75, 60, 45):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= limit:
            return out.getvalue()
    for scale in (0.75, 0.5, 0.35, 0.25):
        smaller = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
        out = io.BytesIO()
        smaller.save(out, "JPEG", quality=45, optimize=True)
        if out.tell() <= limit:
            return out.getvalue()
    raise PermanentError(f"图片无法压缩到 {limit} 字节以内 / image cannot be shrunk below {limit} bytes")


def for_uploadimg(data: bytes) -> tuple[bytes, str, str]:
    """(bytes, filename, content type) acceptable to media/uploadimg: JPG/PNG under 1 MB."""
    fmt = sniff(data)
    image = _open(data)  # decode even when passing bytes through: a broken file fails here, not at WeChat
    if fmt in ("jpg", "png") and len(data) <= UPLOADIMG_MAX:
        return data, f"image.{fmt}", "image/jpeg" if fmt == "jpg" else "image/png"
    return _jpeg(image, UPLOADIMG_MAX, 1280), "image.jpg", "image/jpeg"


def for_cover(data: bytes) -> bytes:
    """A provided cover, re-encoded as a JPEG WeChat accepts as `image` material."""
    return _jpeg(_open(data), COVER_MAX, 1080)


PALETTE = {
    "policy": (178, 34, 34),
    "interpretation": (25, 94, 160),
    "fee_change": (191, 111, 0),
    "procurement_result": (46, 125, 50),
    "consultation": (106, 27, 154),
    "notice": (69, 90, 100),
}


def generate_cover(item_type: str, caption: str, seed: str) -> bytes:
    """A plain cover for items without one: the type's colour, a pattern derived from `seed`
    (so two items do not look identical) and an ASCII caption (no CJK font is assumed).
    Always a JPEG within WeChat's 64 KB `thumb` limit."""
    width, height = COVER_SIZE
    colour = PALETTE.get(item_type, (69, 90, 100))
    image = Image.new("RGB", COVER_SIZE, colour)
    draw = ImageDraw.Draw(image)
    digest = hashlib.sha256(seed.encode()).digest()
    for i in range(6):
        x = digest[i] * width // 256
        r = 40 + digest[i + 6] % 120
        light = tuple(min(255, c + 30 + i * 6) for c in colour)
        draw.ellipse((x - r, height - r - digest[i + 12] % 80, x + r, height + r), fill=light)
    draw.rectangle((0, height - 70, width, height), fill=(255, 255, 255))
    font = ImageFont.load_default(size=34)
    draw.text((36, height - 56), caption[:48], fill=colour, font=font)
    return _jpeg(image, THUMB_MAX, width)
