"""Users, roles and tokens. Tokens are shown once and stored hashed."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.domain.clock import utcnow
from publisher.domain.errors import AuthError, PermissionDeniedError, ValidationError
from publisher.domain.ids import hash_token, new_token
from publisher.domain.item import Role
from publisher.domain.permissions import Permission, permits, roles_with
from publisher.store.models import User


@dataclass(frozen=True)
class Actor:
    id: int
    name: str
    role: Role

    def can(self, *permissions: Permission) -> bool:
        return permits(self.role, *permissions)

    def require(self, *permissions: Permission) -> None:
        """Any of these permissions (publisher.domain.permissions), or PermissionDeniedError."""
        if permits(self.role, *permissions):
            return
        roles = sorted({r.value for p in permissions for r in roles_with(p)})
        names = "、".join(roles)
        wanted = "、".join(p.value for p in permissions)
        raise PermissionDeniedError(
            f"需要角色 {names}，当前为 {self.role.value} / permission {wanted} required (roles: {names})"
        )


SYSTEM = Actor(id=0, name="system", role=Role.ADMIN)


def add_user(session: Session, name: str, role: str, password: str | None = None) -> tuple[User, str]:
    try:
        parsed = Role(role)
    except ValueError:
        raise ValidationError.one(
            "role", f"未知角色 {role!r}，可选 {', '.join(r.value for r in Role)} / unknown role"
        ) from None
    if not name or len(name) > 64:
        raise ValidationError.one("name", "用户名须为1-64个字符 / name must be 1-64 characters")
    if session.execute(select(User).where(User.name == name)).scalar_one_or_none() is not None:
        raise ValidationError.one("name", f"用户 {name} 已存在 / user exists")
    token = new_token()
    user = User(
        name=name,
        role=parsed.value,
        token_hash=hash_token(token),
        password_hash=hash_password(password) if password else None,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user, token


def actor_of(user: User) -> Actor:
    return Actor(id=user.id, name=user.name, role=Role(user.role))


def authenticate(session: Session, token: str | None) -> Actor:
    if not token:
        raise AuthError("需要登录令牌 / missing bearer token")
    user = session.execute(select(User).where(User.token_hash == hash_token(token))).scalar_one_or_none()
    if user is None or not user.active:
        raise AuthError("令牌无效 / invalid token")
    return actor_of(user)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt_hex, digest_hex = stored.split("$")
    expected = hash_password(password, salt=bytes.fromhex(salt_hex)).split("$")[2]
    return hmac.compare_digest(expected, digest_hex)
