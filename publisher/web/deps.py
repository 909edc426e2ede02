"""Dependencies every router shares: the runtime, the service, the authenticated actor.

Routers never build their own store or service: `create_app(runtime)` puts the runtime on
`app.state`, and endpoints take `ServiceDep` / `ActorDep` parameters:

    @router.get("/api/things")
    def things(service: ServiceDep, actor: ActorDep) -> list[dict[str, Any]]: ...
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from publisher.domain.errors import FieldError, ValidationError
from publisher.editorial.auth import Actor
from publisher.editorial.service import Service
from publisher.runtime import Runtime

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="`publisher user add NAME --role ROLE` 打印的令牌 / the token printed by `publisher user add`",
)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_service(request: Request) -> Service:
    return get_runtime(request).service


def get_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The user behind `Authorization: Bearer <token>`; AuthError (401) otherwise."""
    token = credentials.credentials if credentials is not None else None
    return get_service(request).authenticate(token)


def check_params(request: Request) -> None:
    """Refuse NUL characters in the path and query: PostgreSQL cannot store or compare them,
    and a fuzzer will send them."""
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError.one(name, "含有无效字符 / contains a NUL character")


def check_storable(value: Any, field: str = "body") -> None:
    """Refuse text the store cannot hold (NUL characters, lone UTF-16 surrogates from
    JSON escapes like "\\ud800"), naming the field, before anything is written."""
    problems: list[FieldError] = []
    _walk(value, field, problems)
    if problems:
        raise ValidationError(problems[:20])


def _walk(value: Any, path: str, problems: list[FieldError]) -> None:
    if isinstance(value, str):
        if "\x00" in value or not _utf8(value):
            problems.append(FieldError(path, "含有无效字符 / contains characters that cannot be stored"))
    elif isinstance(value, dict):
        for key, child in value.items():
            name = str(key)
            if "\x00" in name or not _utf8(name):
                problems.append(FieldError(path, "字段名含有无效字符 / a key contains invalid characters"))
                continue
            _walk(child, name if path == "body" else f"{path}.{name}", problems)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            _walk(child, f"{path}.{i}", problems)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ServiceDep = Annotated[Service, Depends(get_service)]
ActorDep = Annotated[Actor, Depends(get_actor)]
