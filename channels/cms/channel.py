"""The cms channel: posts in the bureau's website CMS, WordPress over its REST API v2.

One item is one post, found again by the item uid stored in registered post meta (the
must-use plugin in channels/cms/mu-plugin/ registers it and adds `?publisher_uid=` lookups).
The plugin (version 2) also makes a create idempotent per item: a create carrying a uid some
post already holds updates that post. So publish and update are one request with no lookup
first, a retry after a lost response updates the post it created instead of making a second
one, and several posts go in one `/batch/v1` request (`send_many`): WordPress boots once for
the batch instead of once per post, which is most of what a write costs.

WordPress traps handled here (DOMAIN.md §5): unregistered meta and unknown category ids are
silently dropped (both are checked on the returned post); a bad Application Password makes a
GET anonymous instead of failing (lookups ask for `context=edit`, which needs a login).
"""

from __future__ import annotations

import hashlib
import html
import mimetypes
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import Field, SecretStr, field_validator

from channels._http import make_client, request
from channels.base import (
    Channel,
    ChannelConfigError,
    ChannelContext,
    ChannelError,
    ChannelSettings,
    CopyRef,
    Holding,
    Operation,
    Payload,
    PermanentError,
    Problem,
    Receipt,
    TransientError,
)
from channels.cms.errors import error_for, wp_code
from channels.cms.render import (
    DEFAULT_CATEGORY_SLUGS,
    WITHDRAWN_PREFIX,
    media_sources,
    render_body,
    rewrite_links,
)
from channels.egress import EgressGuard, EgressSettings, EgressTooLargeError, static_problem
from publisher.domain.item import ItemType, VersionView
from publisher.domain.numbers import ascii_digits
from publisher.domain.sanitize import text_of

__all__ = ["CmsChannel", "CmsSettings"]

KIND = "cms"
TITLE_MAX = 200
_SLUG = r"^[a-z0-9][a-z0-9-]{0,199}$"


class CmsSettings(ChannelSettings):
    base_url: str = Field(default="http://127.0.0.1:8080", pattern=r"^https?://\S+$", max_length=500)
    user: str = Field(default="admin", min_length=1, max_length=60)
    app_password: SecretStr | None = None
    # trash: the post goes to WordPress's trash; notice: it stays, replaced by a withdrawal notice
    withdraw_mode: Literal["trash", "notice"] = "trash"
    # deliver only once the public permalink answers 200 and shows the title
    verify_live: bool = True
    # light: the permalink is fetched with `X-Publisher-Live-Check: 1` and the must-use plugin
    # (version 3) answers it from WordPress's own routing and query, title only, without
    # rendering the theme (about half the cost). full: the whole themed page, for a site whose
    # theme or a cache in front must be part of the check. Without plugin 3, light gets the
    # full page, which passes the same check.
    live_check: Literal["light", "full"] = "light"
    category_slugs: dict[ItemType, str] = Field(default_factory=dict)
    # posts written per WordPress /batch/v1 request (WordPress allows at most 25)
    batch_size: int = Field(default=10, ge=1, le=25)
    # public pages fetched at once to verify a batch live
    verify_concurrency: int = Field(default=4, ge=1, le=16)
    timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    max_media_bytes: int = Field(default=20 * 1024 * 1024, gt=0)

    @field_validator("category_slugs")
    @classmethod
    def _slugs(cls, v: dict[ItemType, str]) -> dict[ItemType, str]:
        for t, slug in v.items():
            if not re.match(_SLUG, slug):
                raise ValueError(
                    f"栏目别名 {slug!r}（{t}）只能含小写字母、数字和连字符 / invalid category slug"
                )
        return {**DEFAULT_CATEGORY_SLUGS, **v}

    def category_slug(self, item_type: ItemType | str) -> str:
        t = ItemType(item_type)
        return self.category_slugs.get(t) or DEFAULT_CATEGORY_SLUGS[t]

    @property
    def api(self) -> str:
        return self.base_url.rstrip("/") + "/wp-json/wp/v2"


class CmsChannel(Channel):
    kind: ClassVar[str] = KIND
    link_rank: ClassVar[int | None] = 0  # the website: the body as the public reads it, links live
    settings_model: ClassVar[type[ChannelSettings]] = CmsSettings

    def __init__(
        self,
        settings: ChannelSettings,
        context: ChannelContext,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`transport` replaces the network for the REST client and the egress guard
        (classification tests pass an `httpx.MockTransport`; the guard's connect-time address
        check then has no socket to check, so address tests run over real HTTP)."""
        super().__init__(settings, context)
        assert isinstance(settings, CmsSettings)
        self.cfg: CmsSettings = settings
        self._transport = transport
        self._api: httpx.Client | None = None
        self._guard: EgressGuard | None = None
        self._lock = threading.Lock()
        # slug / name -> term id; checked on every returned post, dropped when stale
        self._categories: dict[str, int] = {}
        self._tags: dict[str, int] = {}

    # ---------------------------------------------------------------- clients
    def _timeout(self) -> httpx.Timeout:
        t = self.cfg.timeout_seconds
        return httpx.Timeout(connect=min(5.0, t), read=t, write=t, pool=5.0)

    def _client(self) -> httpx.Client:
        """The authenticated REST client."""
        with self._lock:
            if self._api is None:
                secret = self.cfg.app_password.get_secret_value() if self.cfg.app_password else ""
                if not secret:
                    raise ChannelConfigError("未配置 WordPress 应用密码 / no Application Password configured")
                self._api = make_client(
                    base_url=self.cfg.api,
                    timeout=self._timeout(),
                    auth=(self.cfg.user, secret),
                    transport=self._transport,
                )
            return self._api

    def _fetcher(self) -> EgressGuard:
        """Every fetch of a URL from content (media, attachments) or from WordPress (the
        permalink): through the egress guard, unauthenticated (the Application Password
        never leaves for another host). The WordPress host of `base_url` is the operator's
        own and may be private; any other private or loopback address needs `[egress]
        allow_hosts`, and every redirect hop is checked again."""
        with self._lock:
            if self._guard is None:
                base = self.context.egress or EgressSettings()
                t = self.cfg.timeout_seconds
                self._guard = EgressGuard(
                    replace(
                        base.allowing(urlsplit(self.cfg.base_url).netloc),
                        read_timeout=min(base.read_timeout, t),
                        connect_timeout=min(base.connect_timeout, t),
                    ),
                    transport=self._transport,
                )
            return self._guard

    def close(self) -> None:
        with self._lock:
            if self._api is not None:
                self._api.close()
            if self._guard is not None:
                self._guard.close()
            self._api = self._guard = None

    def probe(self) -> str:
        """Live check: who the Application Password authenticates as (GET /users/me)."""
        # WordPress's own classification: a redirect means base_url is wrong, not a rejection
        response = self._call("GET", "users/me", "WordPress users/me", params={"context": "edit"})
        try:
            me = response.json()
            slug, roles = str(me["slug"]), ", ".join(me.get("roles") or [])
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentError(
                "WordPress users/me: 应答不是用户 JSON / not a user object", http_status=response.status_code
            ) from exc
        return f"WordPress 认证通过：用户 {slug}（{roles}）/ authenticated as {slug} ({roles})"

    # ---------------------------------------------------------------- pure part
    def check(self, version: VersionView) -> list[Problem]:
        problems: list[Problem] = []
        if not version.title.strip():
            problems.append(Problem("title", "标题为空 / empty title"))
        elif len(version.title) > TITLE_MAX:
            problems.append(
                Problem("title", f"网站文章标题不超过{TITLE_MAX}字 / title longer than {TITLE_MAX}")
            )
        if not text_of(version.body_html) and "<img" not in version.body_html and not version.attachments:
            problems.append(Problem("body_html", "正文为空 / empty body"))
        own = urlsplit(self.cfg.base_url).netloc
        for m in media_sources(version.body_html, version.attachments):
            if urlsplit(m["url"]).netloc == own:
                continue
            why = static_problem(m["url"], self.context.egress)
            if why:
                field = (
                    "attachments"
                    if any(a.get("url") == m["url"] for a in version.attachments)
                    else "body_html"
                )
                problems.append(
                    Problem(
                        field, f"该地址不会被获取 / this URL will not be fetched: {m['url'][:200]}: {why}"
                    )
                )
        return problems

    def render(self, version: VersionView, op: Operation) -> Payload:
        body = render_body(version, op, withdraw_mode=self.cfg.withdraw_mode)
        body["category_slug"] = self.cfg.category_slug(version.type)
        return Payload(kind=KIND, operation=op, uid=version.uid, version=version.version, body=body)

    # ---------------------------------------------------------------- remote part
    @property
    def batch_size(self) -> int:
        return self.cfg.batch_size

    def send(self, payload: Payload, *, key: str) -> Receipt:
        if payload.operation is Operation.WITHDRAW:
            return self._withdraw(payload)
        return self._upsert(payload)

    def send_many(self, batch: Sequence[tuple[Payload, str]]) -> list[Receipt | ChannelError]:
        """Publishes and updates in one `/batch/v1` request; withdrawals one by one."""
        out: list[Receipt | ChannelError | None] = [None] * len(batch)
        posts: list[tuple[int, Payload, dict[str, Any]]] = []
        for i, (payload, _key) in enumerate(batch):
            try:
                if payload.operation is Operation.WITHDRAW:
                    out[i] = self._withdraw(payload)
                else:
                    posts.append((i, payload, self._prepare(payload)))
            except ChannelError as exc:
                out[i] = exc
        if len(posts) == 1:
            i, payload, post = posts[0]
            out[i] = self._outcome(partial(self._finish, payload, post, self._create(post)))
        elif posts:
            answers = self._create_many([post for _, _, post in posts])
            written: list[tuple[int, _Written]] = []
            for (i, payload, post), response in zip(posts, answers, strict=True):
                done = self._outcome(partial(self._written, payload, post, response))
                if isinstance(done, _Written):
                    written.append((i, done))
                else:
                    out[i] = done
            checks = [(i, w) for i, w in written if w.verify]
            for i, w in written:
                if not w.verify:
                    out[i] = w.receipt
            if checks:
                with ThreadPoolExecutor(min(self.cfg.verify_concurrency, len(checks))) as pool:
                    verified = list(
                        pool.map(lambda iw: self._outcome(partial(self._verified, iw[1])), checks)
                    )
                for (i, _), result in zip(checks, verified, strict=True):
                    out[i] = result
        return [o if o is not None else ChannelError("内部错误 / internal error: no outcome") for o in out]

    @staticmethod
    def _outcome(call: Callable[[], _T]) -> _T | ChannelError:
        try:
            return call()
        except ChannelError as exc:
            return exc

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        response = request(self._client(), method, path, **kwargs)
        err = error_for(response, what)
        if err is not None:
            raise err
        return response

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            # a 2xx that is not JSON: base_url points at something that is not the REST API
            raise ChannelConfigError(
                f"{what}: 返回的不是 WordPress REST 数据，请检查 base_url / not a WordPress REST answer",
                http_status=response.status_code,
                response_excerpt=response.text[:300],
            ) from None

    def _find(self, uid: str) -> dict[str, Any] | None:
        """The post of this item, in any status including the trash; the oldest if several."""
        what = "查找文章 / look up post"
        response = self._call(
            "GET",
            "/posts",
            what,
            params={
                "publisher_uid": uid,
                "context": "edit",
                "orderby": "id",
                "order": "asc",
                "per_page": 20,
                "_fields": "id,status,link,meta,title,modified_gmt",
            },
        )
        posts = self._json(response, what)
        if not isinstance(posts, list):
            raise ChannelConfigError(
                f"{what}: 意外的应答 / unexpected answer", response_excerpt=response.text[:300]
            )
        if posts and not all(isinstance(p.get("meta"), dict) and "publisher_uid" in p["meta"] for p in posts):
            raise _plugin_missing()
        # Without the plugin's filter WordPress ignores the unknown parameter and lists every
        # post: only an exact meta match counts.
        mine = [p for p in posts if p["meta"].get("publisher_uid") == uid]
        return mine[0] if mine else None

    def _term(
        self,
        taxonomy: str,
        cache: dict[str, int],
        key: str,
        create: dict[str, str],
        lookup: dict[str, str] | None,
        *,
        fresh: bool = False,
    ) -> int:
        """The id of a category (by slug) or tag (by name), created when missing."""
        if not fresh:
            with self._lock:
                if key in cache:
                    return cache[key]
        what = f"栏目/标签 / {taxonomy} {key}"
        term_id: int | None = None
        if lookup is not None:
            found = self._json(
                self._call("GET", f"/{taxonomy}", what, params={**lookup, "_fields": "id,slug,name"}), what
            )
            if isinstance(found, list) and found:
                term_id = int(found[0]["id"])
        if term_id is None:
            response = request(self._client(), "POST", f"/{taxonomy}", json=create)
            if response.status_code == 400 and wp_code(response) == "term_exists":
                # created meanwhile, or the name is taken under another slug: use that term
                data = self._json(response, what).get("data", {})
                term_id = int(data["term_id"])
            else:
                err = error_for(response, what)
                if err is not None:
                    raise err
                term_id = int(self._json(response, what)["id"])
        with self._lock:
            cache[key] = term_id
        return term_id

    def _category(self, slug: str, name: str, *, fresh: bool = False) -> int:
        return self._term(
            "categories", self._categories, slug, {"slug": slug, "name": name}, {"slug": slug}, fresh=fresh
        )

    def _tag(self, name: str, *, fresh: bool = False) -> int:
        # Tags are created straight away: term_exists answers with the existing id, one
        # request instead of a search that also matches substrings.
        return self._term("tags", self._tags, name, {"name": name}, None, fresh=fresh)

    def _download(self, url: str) -> tuple[bytes, str]:
        """One media source, at most max_media_bytes, through the egress guard: a refused
        address, redirect or size is this delivery's PermanentError naming the URL."""
        try:
            got = self._fetcher().fetch(url, max_bytes=self.cfg.max_media_bytes)
        except EgressTooLargeError as exc:
            limit = self.cfg.max_media_bytes
            raise PermanentError(
                f"下载附件 / fetch {url[:200]}: 文件超过{limit}字节 / file larger than {limit} bytes"
            ) from exc
        return got.content, got.content_type

    def _rehost(self, media: list[Mapping[str, str]], content: str) -> tuple[str, int]:
        """Upload every source to the media library (once per distinct file: the media slug is
        a digest of the bytes) and point the content at the copies."""
        own = urlsplit(self.cfg.base_url).netloc
        wanted: list[tuple[Mapping[str, str], bytes, str, str]] = []
        for m in media:
            if urlsplit(m["url"]).netloc == own:
                continue  # already on the site
            data, ctype = self._download(m["url"])
            slug = "pub-" + hashlib.sha256(data).hexdigest()[:24]
            wanted.append((m, data, ctype, slug))
        if not wanted:
            return content, 0
        what = "媒体库 / media library"
        slugs = sorted({w[3] for w in wanted})
        found = self._json(
            self._call(
                "GET",
                "/media",
                what,
                params={"slug": ",".join(slugs), "per_page": 100, "_fields": "id,slug,source_url"},
            ),
            what,
        )
        hosted: dict[str, str] = {m["slug"]: m["source_url"] for m in found if isinstance(m, dict)}
        mapping: dict[str, str] = {}
        uploaded = 0
        for m, data, ctype, slug in wanted:
            if slug not in hosted:
                ext = _extension(m["url"], ctype)
                mime = ctype or mimetypes.guess_type("x" + ext)[0] or "application/octet-stream"
                response = self._call(
                    "POST",
                    "/media",
                    f"上传 / upload {m['url'][:200]}",
                    params={"slug": slug, "title": m.get("title") or slug},
                    content=data,
                    headers={
                        "Content-Type": mime,
                        "Content-Disposition": f'attachment; filename="{slug}{ext}"',
                    },
                )
                hosted[slug] = str(self._json(response, what)["source_url"])
                uploaded += 1
            mapping[m["url"]] = hosted[slug]
        return rewrite_links(content, mapping), uploaded

    def _write(self, post_id: int | None, data: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
        """Create, or update in place; an update of a post deleted meanwhile re-creates it."""
        what = "写入文章 / write post"
        if post_id is not None:
            response = request(
                self._client(), "POST", f"/posts/{post_id}", json=data, params={"context": "edit"}
            )
            if response.status_code != 404 or wp_code(response) == "rest_no_route":
                err = error_for(response, what)
                if err is not None:
                    raise err
                return self._json(response, what), response.status_code
        response = self._call("POST", "/posts", what, json=data, params={"context": "edit"})
        return self._json(response, what), response.status_code

    def _prepare(self, payload: Payload) -> dict[str, Any]:
        """The post as WordPress takes it: terms resolved to ids, media re-hosted."""
        body = payload.body
        post = dict(body["post"])
        post["categories"] = [self._category(body["category_slug"], body["category_name"])]
        post["tags"] = [self._tag(name) for name in body["tags"]]
        post["content"], post["_uploaded"] = self._rehost(list(body["media"]), post["content"])
        return post

    def _create(self, post: Mapping[str, Any]) -> httpx.Response:
        """One create-or-update by item uid (the plugin's idempotent create)."""
        return request(
            self._client(),
            "POST",
            "/posts",
            json=_wire(post),
            params={"context": "edit", "_fields": _WRITE_FIELDS},
        )

    def _create_many(self, posts: list[dict[str, Any]]) -> list[httpx.Response]:
        """Several creates-or-updates in one `/batch/v1` request; one answer per post. A
        failure of the whole request is every post's failure."""
        what = "批量写入文章 / batch write posts"
        url = self.cfg.base_url.rstrip("/") + "/wp-json/batch/v1"
        path = f"/wp/v2/posts?context=edit&_fields={_WRITE_FIELDS}"
        try:
            response = request(
                self._client(),
                "POST",
                url,
                json={"requests": [{"method": "POST", "path": path, "body": _wire(p)} for p in posts]},
            )
        except ChannelError as exc:
            return [_failure_response(exc) for _ in posts]
        err = error_for(response, what)
        if err is not None:
            return [_failure_response(err) for _ in posts]
        data = self._outcome(partial(self._json, response, what))
        answers = data.get("responses") if isinstance(data, dict) else None
        if not isinstance(answers, list) or len(answers) != len(posts):
            bad = ChannelConfigError(
                f"{what}: 意外的应答 / unexpected answer (is /batch/v1 available? WordPress 5.6+)",
                http_status=response.status_code,
                response_excerpt=response.text[:300],
            )
            return [_failure_response(bad) for _ in posts]
        return [
            httpx.Response(
                int(a.get("status") or 500),
                json=a.get("body"),
                headers=a.get("headers") or {},
                request=response.request,
            )
            for a in answers
        ]

    def _upsert(self, payload: Payload) -> Receipt:
        post = self._prepare(payload)
        return self._finish(payload, post, self._create(post))

    def _finish(self, payload: Payload, post: Mapping[str, Any], response: httpx.Response) -> Receipt:
        written = self._written(payload, post, response)
        return self._verified(written) if written.verify else written.receipt

    def _written(self, payload: Payload, post: Mapping[str, Any], response: httpx.Response) -> _Written:
        """The answer to a create-or-update, checked: the plugin's version, the meta kept,
        the terms kept (re-written once when a cached term id went stale)."""
        what = "写入文章 / write post"
        failure = getattr(response, "publisher_failure", None)
        if isinstance(failure, ChannelError):
            raise failure
        body = payload.body
        if response.status_code == 409 and wp_code(response) == "publisher_stale_version":
            # a late retry of an older version must not overwrite the newer one already live
            data = self._json(response, what).get("data") or {}
            return _Written(
                Receipt(
                    external_id=str(data.get("post_id") or "") or None,
                    url=data.get("link") or None,
                    data={"stale": True, "live_version": data.get("live_version")},
                ),
                "",
                "",
                False,
            )
        err = error_for(response, what)
        if err is not None:
            raise err
        if _plugin_version(response) < 2:
            raise _plugin_outdated()
        result = self._json(response, what)
        post_id = int(result["id"])
        self._check_meta(result, payload.uid)
        category_id = post["categories"][0]
        tag_ids = list(post["tags"])
        if category_id not in result.get("categories", []) or set(tag_ids) - set(result.get("tags", [])):
            # WordPress drops unknown term ids without a word: a cached id went stale (term
            # deleted). Resolve afresh once and write the terms again.
            category_id = self._category(body["category_slug"], body["category_name"], fresh=True)
            tag_ids = [self._tag(name, fresh=True) for name in body["tags"]]
            result, _ = self._write(post_id, {"categories": [category_id], "tags": tag_ids})
            if category_id not in result.get("categories", []):
                raise PermanentError(
                    f"栏目 {body['category_slug']} 未能设置到文章 {post_id} / category not kept on the post",
                    response_excerpt=str(result.get("categories")),
                )
        link = str(result.get("link") or "")
        created = response.status_code == 201 and response.headers.get("X-Publisher-Upsert") != "updated"
        receipt = Receipt(
            external_id=str(post_id),
            url=link or None,
            http_status=response.status_code,
            data={
                "status": result.get("status"),
                "created": created,
                "media_uploaded": post["_uploaded"],
                "category_id": category_id,
            },
        )
        return _Written(receipt, link, _rendered_title(result, post["title"]), self.cfg.verify_live)

    def _verified(self, written: _Written) -> Receipt:
        self._verify_live(written.link, written.title)
        return written.receipt

    def _withdraw(self, payload: Payload) -> Receipt:
        existing = self._find(payload.uid)
        if existing is None:
            return Receipt(data={"absent": True})  # nothing to take down
        post_id = int(existing["id"])
        link = str(existing.get("link") or "")
        if payload.body["withdraw_mode"] == "notice":
            post = dict(payload.body["post"])
            result, status = self._write(post_id, post)
            self._check_meta(result, payload.uid)
            new_link = str(result.get("link") or link)
            if self.cfg.verify_live:
                self._verify_live(new_link, _rendered_title(result, post["title"]))
            return Receipt(
                external_id=str(result["id"]),
                url=new_link or None,
                http_status=status,
                data={"status": result.get("status"), "mode": "notice"},
            )
        if existing.get("status") != "trash":
            response = request(self._client(), "DELETE", f"/posts/{post_id}")
            code = wp_code(response)
            gone = response.status_code == 410 and code == "rest_already_trashed"
            gone = gone or (response.status_code == 404 and code == "rest_post_invalid_id")
            if not gone:
                err = error_for(response, "撤回文章 / trash post")
                if err is not None:
                    raise err
        if self.cfg.verify_live and link:
            self._verify_gone(link, str((existing.get("title") or {}).get("rendered") or ""))
        return Receipt(external_id=str(post_id), url=None, data={"status": "trash", "mode": "trash"})

    # ---------------------------------------------------------------- reconciliation
    INVENTORY_STATUSES: ClassVar[str] = "publish,future,draft,pending,private,trash"
    # posts per listing page (WordPress allows at most 100)
    inventory_page: int = 100

    def inventory(self) -> Iterable[Holding]:
        """Every post carrying a publisher_uid, in any status including the trash (edit
        context, so drafts and meta are visible). Live: published, and not a withdrawal
        notice (withdraw_mode "notice" keeps the post up under the 【已撤回】 title)."""
        what = "列出文章 / list posts"
        # A bad Application Password makes WordPress treat us as anonymous, which it answers
        # with 400 on the status filter rather than 401: ask who we are first.
        self._call("GET", "/users/me", "核对账号 / check login", params={"context": "edit", "_fields": "id"})
        holdings: list[Holding] = []
        page, pages = 1, 1
        while page <= pages:
            response = self._call(
                "GET",
                "/posts",
                what,
                params={
                    "context": "edit",
                    "status": self.INVENTORY_STATUSES,
                    "orderby": "id",
                    "order": "asc",
                    "per_page": self.inventory_page,
                    "page": page,
                    "_fields": "id,status,link,meta,title,modified_gmt",
                },
            )
            posts = self._json(response, what)
            if not isinstance(posts, list):
                raise ChannelConfigError(
                    f"{what}: 意外的应答 / unexpected answer", response_excerpt=response.text[:300]
                )
            total = response.headers.get("X-WP-TotalPages", "1")
            pages = int(total) if ascii_digits(total) else 1
            for post in posts:
                meta = post.get("meta")
                if not isinstance(meta, dict) or "publisher_uid" not in meta:
                    raise _plugin_missing()
                if meta.get("publisher_uid"):  # else a post written by hand, not one of ours
                    holdings.append(self._holding(post))
            page += 1
        return holdings

    def inspect(self, ref: CopyRef) -> Holding | None:
        """The item's post, by the same look-up by uid that `send` makes before writing (any
        status, the trash included; `context=edit` refuses an anonymous caller, so a bad
        Application Password is an error, not an empty answer). None: no post carries the
        uid (deleted for good)."""
        post = self._find(ref.uid)
        return None if post is None else self._holding(post)

    @staticmethod
    def _holding(post: Mapping[str, Any]) -> Holding:
        """One post of ours as a holding. Live: published, and not a withdrawal notice
        (withdraw_mode "notice" keeps the post up under the 【已撤回】 title)."""
        meta = post["meta"]
        found = post.get("title")
        title: Mapping[str, Any] = found if isinstance(found, dict) else {}
        raw_title = str(title.get("raw") or title.get("rendered") or "")
        status = str(post.get("status") or "")
        live = status == "publish" and not raw_title.startswith(WITHDRAWN_PREFIX)
        version = meta.get("publisher_version")
        validity = str(meta.get("validity") or "") if live else ""
        modified = str(post.get("modified_gmt") or "")
        try:
            modified_at = datetime.fromisoformat(modified).replace(tzinfo=UTC) if modified else None
        except ValueError:
            modified_at = None
        return Holding(
            uid=str(meta.get("publisher_uid")),
            version=int(version) if isinstance(version, int) and version > 0 else None,
            validity=validity or None,
            live=live,
            external_id=str(post["id"]),
            url=str(post.get("link") or "") or None,
            modified_at=modified_at,
            status=None if live else (status if status != "publish" else "notice"),
        )

    @staticmethod
    def _check_meta(result: Mapping[str, Any], uid: str) -> None:
        meta = result.get("meta")
        if not isinstance(meta, dict) or meta.get("publisher_uid") != uid:
            raise _plugin_missing()

    def _public_page(self, url: str) -> tuple[int, str]:
        """The public page's status and text (through the egress guard: the permalink is the
        provider's word, and a redirect from it is checked hop by hop)."""
        headers = _LIGHT_CHECK if self.cfg.live_check == "light" else None
        got = self._fetcher().fetch(url, headers=headers, max_bytes=PAGE_MAX_BYTES, check_status=False)
        return got.status, got.content.decode("utf-8", "replace")

    def _verify_live(self, link: str, title: str) -> None:
        if not link:
            raise TransientError("尚未上线：WordPress 未返回链接 / not live yet: no permalink")
        status, text = self._public_page(link)
        if status != 200:
            raise TransientError(f"尚未上线 / not live yet: {link} answers {status}", http_status=status)
        if html.unescape(title) not in html.unescape(text):
            raise TransientError(
                f"尚未上线：页面未显示标题 / not live yet: title not on {link}", http_status=status
            )

    def _verify_gone(self, link: str, title: str) -> None:
        status, text = self._public_page(link)
        if status == 200 and title and html.unescape(title) in html.unescape(text):
            raise TransientError(f"仍可访问 / still live: {link}", http_status=200)


def _plugin_missing() -> ChannelConfigError:
    return ChannelConfigError(
        "WordPress 未安装 publisher-disclosure 插件（元数据被忽略）/ the publisher-disclosure must-use plugin "
        "is not installed: post meta is ignored (docs/cms-wordpress.md)"
    )


def _rendered_title(result: Mapping[str, Any], fallback: str) -> str:
    title = result.get("title")
    if isinstance(title, dict) and title.get("rendered"):
        return str(title["rendered"])
    return fallback


def _extension(url: str, ctype: str) -> str:
    path = urlsplit(url).path
    dot = path.rfind(".")
    if dot > path.rfind("/") and 1 < len(path) - dot <= 6:
        return path[dot:].lower()
    guessed = mimetypes.guess_extension(ctype) if ctype else None
    return guessed or ".bin"


# a themed page is far below this; a permalink answering more is not one of ours
PAGE_MAX_BYTES = 5 * 1024 * 1024

# asks plugin 3 for the title-only answer on the public permalink (see CmsSettings.live_check)
_LIGHT_CHECK = {"X-Publisher-Live-Check": "1"}

# what a write asks back: enough to check meta, terms and the permalink, not the rendered body
_WRITE_FIELDS = "id,status,link,title,meta,categories,tags"

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Written:
    receipt: Receipt
    link: str
    title: str
    verify: bool


def _wire(post: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in post.items() if not k.startswith("_")}


def _failure_response(exc: ChannelError) -> httpx.Response:
    """A stand-in answer carrying a failure of the whole batch to each post in it."""
    response = httpx.Response(599)
    response.publisher_failure = exc  # type: ignore[attr-defined]
    return response


def _plugin_version(response: httpx.Response) -> int:
    value = response.headers.get("X-Publisher-Plugin", "")
    return int(value) if ascii_digits(value) else 0


def _plugin_outdated() -> ChannelConfigError:
    return ChannelConfigError(
        "WordPress 上的 publisher-disclosure 插件版本过旧，需要 2 或更高（幂等写入）/ the publisher-disclosure "
        "must-use plugin is older than version 2 (idempotent create): install the one in channels/cms/mu-plugin/ "
        "(docs/cms-wordpress.md)"
    )
