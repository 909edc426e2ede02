"""Users, roles, tokens and passwords. Tokens are shown once and stored hashed; passwords are
hashed with Argon2id. Every change to a user is an audit event, and what ends a user's
access (disable, a new role, a new password, a new token) takes effect on the next request:
tokens are looked up by hash each time, and page sessions carry the user's `session_epoch`.

Who may manage users is the permission table's business (`Permission.USER_MANAGE`, the
secadmin): the service checks it before calling anything here."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.domain.actions import AuditAction
from publisher.domain.clock import utcnow
from publisher.domain.errors import AuthError, NotFoundError, PermissionDeniedError, ValidationError
from publisher.domain.ids import hash_token, new_token
from publisher.domain.item import Role
from publisher.domain.permissions import Permission, permits, roles_with
from publisher.editorial import audit
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

MIN_PASSWORD = 12
# Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): memory-hard, and about
# 30 ms here, which the login throttle and the shared two-core hosts can afford.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the user name is unknown, so that answer costs the same work.
_DUMMY_HASH = _HASHER.hash("no such user: the same work as a real one")


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationError.one(
            "role", f"未知角色 {role!r}，可选 {', '.join(r.value for r in Role)} / unknown role"
        ) from None


def check_password_policy(name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError.one(
            "password", f"密码至少 {MIN_PASSWORD} 个字符 / a password has at least {MIN_PASSWORD} characters"
        )
    if password.strip().casefold() == name.strip().casefold():
        raise ValidationError.one("password", "密码不能与用户名相同 / the password must not be the user name")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _legacy_scrypt(password: str, stored: str) -> bool:
    try:
        _, salt_hex, digest_hex = stored.split("$")
        digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=2**14, r=8, p=1)
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)


def verify_password(password: str, stored: str | None) -> tuple[bool, bool]:
    """(matches, should be rehashed). Hashes of the older scrypt form still verify; they and
    Argon2 hashes with weaker parameters than today's ask to be rehashed."""
    if stored and stored.startswith("scrypt$"):
        return _legacy_scrypt(password, stored), True
    if not stored or not stored.startswith("$argon2"):
        dummy_verify(password)
        return False, False
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False, False
    return True, _HASHER.check_needs_rehash(stored)


def dummy_verify(password: str) -> None:
    try:
        _HASHER.verify(_DUMMY_HASH, password)
    except VerificationError:
        pass


def _user(session: Session, name: str, *, lock: bool = False) -> User:
    stmt = select(User).where(User.name == name)
    user = session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if user is None:
        raise NotFoundError(f"未找到用户 {name} / no user {name!r}")
    return user


def _audit(session: Session, by: str, action: AuditAction, user: User, **data: Any) -> None:
    audit.append(session, actor=by, action=action, data={"user": user.name, **data})


def add_user(
    session: Session, name: str, role: str, password: str | None = None, *, by: str = "system"
) -> tuple[User, str]:
    parsed = _role(role)
    if not name or len(name) > 64:
        raise ValidationError.one("name", "用户名须为1-64个字符 / name must be 1-64 characters")
    if password is not None:
        check_password_policy(name, password)
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
        session_epoch=0,
    )
    session.add(user)
    session.flush()
    _audit(session, by, AuditAction.USER_ADD, user, role=parsed.value, password=password is not None)
    return user, token


def _not_self(by: Actor, user: User, what: str) -> None:
    # the last security administrator locking themselves out would need the host to recover
    if by.id == user.id:
        raise ValidationError.one("name", f"不能{what}自己的账号 / you cannot {what} your own account")


def set_active(session: Session, by: Actor, name: str, active: bool) -> User:
    user = _user(session, name, lock=True)
    if not active:
        _not_self(by, user, "停用")
    if user.active != active:
        user.active = active
        user.session_epoch += 1
        _audit(session, by.name, AuditAction.USER_ENABLE if active else AuditAction.USER_DISABLE, user)
    return user


def set_role(session: Session, by: Actor, name: str, role: str) -> User:
    parsed = _role(role)
    user = _user(session, name, lock=True)
    _not_self(by, user, "更改角色")
    was = user.role
    if was != parsed.value:
        user.role = parsed.value
        user.session_epoch += 1
        # the old token spoke for the old role: it ends now; rotate-token issues a new one
        user.token_hash = hash_token(new_token())
        _audit(session, by.name, AuditAction.USER_ROLE, user, **{"from": was, "to": parsed.value})
    return user


def rotate_token(session: Session, by: Actor, name: str) -> tuple[User, str]:
    user = _user(session, name, lock=True)
    token = new_token()
    user.token_hash = hash_token(token)
    _audit(session, by.name, AuditAction.USER_TOKEN, user)
    return user, token


def set_password(session: Session, by: Actor, name: str, password: str) -> User:
    user = _user(session, name, lock=True)
    check_password_policy(user.name, password)
    user.password_hash = hash_password(password)
    user.session_epoch += 1
    _audit(session, by.name, AuditAction.USER_PASSWORD, user)
    return user


def actor_of(user: User) -> Actor:
    return Actor(id=user.id, name=user.name, role=Role(user.role))


def authenticate(session: Session, token: str | None) -> Actor:
    if not token:
        raise AuthError("需要登录令牌 / missing bearer token")
    user = session.execute(select(User).where(User.token_hash == hash_token(token))).scalar_one_or_none()
    if user is None or not user.active:
        raise AuthError("令牌无效 / invalid token")
    return actor_of(user)


def user_json(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role,
        "active": user.active,
        "has_password": user.password_hash is not None,
        "created_at": user.created_at.isoformat(),
    }
