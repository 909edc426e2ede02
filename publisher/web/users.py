"""User lifecycle over HTTP for the security administrator (secadmin): list, add, disable,
enable, change role, rotate token, set password. The editorial service checks the
permission and audits each change; disabling a user or changing their role ends their page
sessions and token on their next request. A user may change their own password here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from publisher.domain.item import Role
from publisher.web.deps import ActorDep, ServiceDep
from publisher.web.errors import ERROR_RESPONSES, NOT_FOUND

router = APIRouter(prefix="/api/users", tags=["users"], responses=ERROR_RESPONSES)
UserName = Annotated[str, Path(min_length=1, max_length=64, description="用户名 / user name")]


class UserOut(BaseModel):
    name: str
    role: str
    active: bool
    has_password: bool
    created_at: str


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    role: Role
    password: str | None = Field(default=None, max_length=1024, description="至少 12 个字符 / at least 12")


class RoleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class PasswordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(
        max_length=1024, description="至少 12 个字符，不能是用户名 / at least 12, not the name"
    )


class TokenOut(BaseModel):
    name: str
    token: str = Field(description="只显示这一次 / shown once")


@router.get("", response_model=list[UserOut], summary="用户列表 / users (secadmin)")
def users(service: ServiceDep, actor: ActorDep) -> list[dict[str, Any]]:
    return service.users(actor)


@router.post("", status_code=201, response_model=TokenOut, summary="新建用户 / add a user (secadmin)")
def add_user(body: NewUser, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    added, token = service.add_user(body.name, body.role.value, body.password, by=actor)
    return {"name": added.name, "token": token}


@router.post(
    "/{name}/disable", response_model=UserOut, responses=NOT_FOUND, summary="停用用户 / disable (secadmin)"
)
def disable(name: UserName, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    return service.set_user_active(actor, name, False)


@router.post(
    "/{name}/enable", response_model=UserOut, responses=NOT_FOUND, summary="启用用户 / enable (secadmin)"
)
def enable(name: UserName, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    return service.set_user_active(actor, name, True)


@router.post(
    "/{name}/role",
    response_model=UserOut,
    responses=NOT_FOUND,
    summary="更改角色（原令牌与会话失效）/ change role; ends the user's token and sessions (secadmin)",
)
def set_role(name: UserName, body: RoleBody, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    return service.set_user_role(actor, name, body.role.value)


@router.post(
    "/{name}/token",
    response_model=TokenOut,
    responses=NOT_FOUND,
    summary="更换令牌（旧令牌立即失效）/ rotate the token (secadmin)",
)
def rotate_token(name: UserName, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    return {"name": name, "token": service.rotate_token(actor, name)}


@router.post(
    "/{name}/password",
    response_model=UserOut,
    responses=NOT_FOUND,
    summary="设置密码 / set a password (secadmin, or the user themself)",
)
def set_password(name: UserName, body: PasswordBody, service: ServiceDep, actor: ActorDep) -> dict[str, Any]:
    return service.set_password(actor, name, body.password)
