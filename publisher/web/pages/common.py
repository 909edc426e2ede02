"""What every page shares: templates, the logged-in user, CSRF-checked form posts, flash
messages and redirects. Pages are server-rendered Jinja2; a failed action comes back as a
flash message (or inline field errors on the editor), never as a JSON error body."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from publisher.domain.clock import local
from publisher.domain.item import ITEM_TYPE_LABELS
from publisher.domain.permissions import ROLE_LABELS as ROLE_LABEL_OF
from publisher.domain.permissions import Permission, permits
from publisher.editorial.auditsearch import ACTION_LABELS
from publisher.editorial.auth import Actor
from publisher.editorial.checks.fields import LABELS as FIELD_LABELS
from publisher.editorial.outages import explain
from publisher.editorial.service import OVERALL_LABELS
from publisher.editorial.workflow import STATE_LABELS
from publisher.runtime import Runtime
from publisher.web import markup
from publisher.web.pages.sessions import COOKIE, PageSession, SessionStore

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[2] / "templates"))

DELIVERY_LABELS = {
    "queued": "排队中",
    "sending": "发送中",
    "accepted": "待确认",
    "delivered": "已送达",
    "retry_wait": "等待重试",
    "failed": "失败",
    "held": "暂缓",
    "superseded": "已取代",
    "excluded": "审批时排除",
}
ROLE_LABELS = {r.value: label for r, label in ROLE_LABEL_OF.items()}
# Channels by the name their audience knows them (the kind, for numbered instances).
CHANNEL_KIND_LABELS = {
    "wechat": "公众号",
    "cms": "网站",
    "rss": "订阅源",
    "cityplatform": "市平台",
    "webhook": "推送",
}


def channel_label(name: str) -> str:
    """公众号, 网站, 订阅源, 市平台; an instance adds its own name: 推送（crm）."""
    kind, _, instance = name.partition(".")
    label = CHANNEL_KIND_LABELS.get(kind, name)
    return f"{label}（{instance}）" if instance and label != name else label


def _when(value: datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        parsed = value
    return local(parsed).strftime("%Y-%m-%d %H:%M:%S")


def _day(value: date | datetime | str | None) -> str:
    if not value:
        return ""
    if isinstance(value, datetime):
        return local(value).strftime("%Y-%m-%d")
    return str(value)[:10]


def _json(value: Any, indent: int | None = None) -> str:
    # readable Chinese, unlike |tojson (which escapes to \uXXXX); autoescaping still applies
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str, sort_keys=True)


TEMPLATES.env.filters["when"] = _when
markup.install(TEMPLATES.env)
TEMPLATES.env.filters["json"] = _json
TEMPLATES.env.filters["day"] = _day
TEMPLATES.env.globals.update(
    TYPE_LABELS={t.value: label for t, label in ITEM_TYPE_LABELS.items()},
    STATE_LABELS={s.value: label for s, label in STATE_LABELS.items()},
    OVERALL_LABELS=OVERALL_LABELS,
    DELIVERY_LABELS=DELIVERY_LABELS,
    ROLE_LABELS=ROLE_LABELS,
    channel_label=channel_label,
    FIELD_LABELS=FIELD_LABELS,
    ACTION_LABELS=ACTION_LABELS,
    OUTCOME_LABELS={
        "success": "成功",
        "accepted": "已受理",
        "transient": "暂时失败",
        "rate_limited": "被限流",
        "permanent": "被拒绝",
        "config": "配置错误",
        "error": "内部错误",
    },
    explain=explain,
    OPERATION_LABELS={"publish": "发布", "update": "更新", "withdraw": "撤回"},
    can=lambda me, permission: me is not None and permits(me.role, Permission(permission)),
)


class LoginRequired(Exception):
    """No valid session: the handler installed by the pages package redirects to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRejected(Exception):
    """A POST without the session's CSRF token: answered 403 with a page saying so."""


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def sessions_of(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.page_sessions
    return store


def current_session(request: Request) -> PageSession:
    store = sessions_of(request)
    session = store.get(request.cookies.get(COOKIE))
    if (
        session is not None
        and runtime_of(request).service.session_actor(session.user_id, session.epoch) is None
    ):
        # disabled, or a new role or password since this session began: it ends here
        store.drop(session.sid)
        session = None
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return session


def actor_of(session: PageSession) -> Actor:
    return Actor(id=session.user_id, name=session.name, role=session.role)


def allowed(session: PageSession, *permissions: Permission) -> bool:
    """Whether to offer an action; the service checks the same table again when it runs."""
    return permits(session.role, *permissions)


@dataclass
class Post:
    """A CSRF-checked form post by a logged-in user."""

    session: PageSession
    form: dict[str, str]
    lists: dict[str, list[str]]

    @property
    def actor(self) -> Actor:
        return actor_of(self.session)


async def checked_post(request: Request) -> Post:
    session = current_session(request)
    data = await request.form()
    form: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for key, value in data.multi_items():
        if isinstance(value, str):
            form[key] = value
            lists.setdefault(key, []).append(value)
    if not hmac.compare_digest(form.get("csrf", ""), session.csrf):
        raise CsrfRejected()
    return Post(session, form, lists)


SessionDep = Annotated[PageSession, Depends(current_session)]
PostDep = Annotated[Post, Depends(checked_post)]


def render(
    request: Request, name: str, context: dict[str, Any], session: PageSession | None, status: int = 200
) -> HTMLResponse:
    runtime = runtime_of(request)
    context.setdefault("agency", runtime.settings.agency.name)
    context.setdefault("labels", runtime.settings.agency.labels)
    context["me"] = session
    context["csrf"] = session.csrf if session else ""
    flash: list[tuple[str, str]] = []
    if session is not None:
        flash, session.flash = session.flash, []
    context["flash"] = flash
    response: HTMLResponse = TEMPLATES.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def bad_query(request: Request, session: PageSession | None, field: str, message: str) -> HTMLResponse:
    """A query value the page cannot use: a Chinese error page with 422, naming the field
    (never a 500 from a value that reached the database)."""
    return render(
        request,
        "app/error.html",
        {"title": "参数无效 / invalid parameter", "message": f"{field}：{message}"},
        session,
        422,
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def flash(session: PageSession, kind: str, message: str) -> None:
    session.flash.append((kind, message))


def login_url(next_url: str) -> str:
    return "/app/login?next=" + quote(next_url, safe="")


def forbidden(request: Request, session: PageSession, message: str) -> Response:
    return render(request, "app/error.html", {"title": "无权访问", "message": message}, session, 403)
