"""Images uploaded into an item's body: checked (type by content, not by name; size), stored
under the data directory by content hash, audited, and served publicly at
`/media/{uid}/{name}` so every channel can fetch and re-host them as it does any image."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from publisher.domain.actions import AuditAction
from publisher.domain.errors import NotFoundError, ValidationError
from publisher.domain.permissions import Permission
from publisher.editorial import audit
from publisher.editorial.auth import Actor
from publisher.editorial.service import Service
from publisher.editorial.workflow import get_item

MAX_BYTES = 5 * 1024 * 1024
TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|gif|webp)$")
UID = re.compile(r"^[0-9a-z]{26}$")


def kind_of(data: bytes) -> str | None:
    """The image type from the first bytes (a renamed file is caught here)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def media_dir(service: Service) -> Path:
    return Path(service.settings.data_dir) / "media"


def store_image(service: Service, actor: Actor, uid: str, data: bytes) -> str:
    """Keep the image for the item; its public path."""
    actor.require(Permission.ITEM_EDIT)
    if not UID.match(uid):
        raise NotFoundError("未找到该信息 / no such item")
    if not data:
        raise ValidationError.one("file", "请选择图片文件 / choose an image file")
    if len(data) > MAX_BYTES:
        raise ValidationError.one("file", f"图片不能超过 {MAX_BYTES // 1024 // 1024} MB / image too large")
    kind = kind_of(data)
    if kind is None:
        raise ValidationError.one(
            "file", "只能上传 PNG、JPEG、GIF 或 WebP 图片 / PNG, JPEG, GIF or WebP only"
        )
    name = f"{hashlib.sha256(data).hexdigest()[:32]}.{kind}"
    with service.db.transaction() as s:
        get_item(s, uid)  # an unknown item is refused before anything is written
        folder = media_dir(service) / uid
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        if not target.exists():
            partial = target.with_suffix(".part")
            partial.write_bytes(data)
            partial.replace(target)
        audit.append(
            s,
            actor=actor.name,
            action=AuditAction.IMAGE_UPLOAD,
            item_uid=uid,
            data={"name": name, "bytes": len(data)},
        )
    return f"/media/{uid}/{name}"


def image_path(service: Service, uid: str, name: str) -> Path | None:
    """The stored file for a public request, or None."""
    if not UID.match(uid) or not NAME.match(name):
        return None
    path = media_dir(service) / uid / name
    return path if path.is_file() else None


__all__ = ["MAX_BYTES", "TYPES", "image_path", "kind_of", "store_image"]
