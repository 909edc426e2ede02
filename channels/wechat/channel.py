"""The `wechat` channel: an item becomes an article in the Official Account.

publish: cover → permanent material; each in-article image → media/uploadimg; draft/add;
freepublish/submit → `accepted` with the publish_id. `confirm` polls freepublish/get (the
PUBLISHJOBFINISH callback, parsed in callback.py, says the same thing sooner).
update: a correction article beside the original, or delete-and-republish (settings); a
change of validity (废止/失效/修订) always deletes the original, then republishes the full text
under 【已废止】 etc. or (`abolition_mode = "notice"`) publishes only a short notice in its
place, linking to the abolishing document (docs/wechat.md).
withdraw: freepublish/delete of exactly this item's article(s), always with an explicit
index ≥ 1 (index 0 or none deletes every article of that publish).

Each step's result is kept in the delivery's checkpoint (ChannelContext.checkpoints, stored
with the delivery in the database), so a retry after a lost answer continues where the
previous attempt stopped instead of uploading or publishing twice; a replay starts afresh (a
new draft and publication after the platform failed one). Values shared across deliveries
(the access token, which item an article belongs to, the day's digest) live in
ChannelContext.shared; Redis is optional (`redis_url`: the token is cached there too).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from html import escape
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

import redis
from pydantic import Field, SecretStr
from redis.exceptions import RedisError

from channels.base import (
    CallbackRequest,
    CallbackResponse,
    Channel,
    ChannelConfigError,
    ChannelContext,
    ChannelSettings,
    Confirmation,
    CopyRef,
    Holding,
    Payload,
    PermanentError,
    Problem,
    Receipt,
    TransientError,
)
from channels.egress import EgressGuard, EgressSettings, static_problem
from channels.wechat.api import WechatApi
from channels.wechat.broadcast import digest_progress, digest_status, pick_digest, send_digest
from channels.wechat.callback import CallbackError, MassEvent, PublishEvent, parse_event, verify_url
from channels.wechat.html import host_allowed, rewrite_images, to_wechat_html
from channels.wechat.media import fetch_image, for_cover, for_uploadimg, generate_cover
from channels.wechat.probe import probe_token
from channels.wechat.status import AFTER_SUCCESS, FAILED, confirmation_for
from publisher.domain.item import Operation, Validity, VersionView
from publisher.domain.sanitize import clean_output

TITLE_MAX = 32
AUTHOR_MAX = 16
DIGEST_MAX = 128
CONTENT_MAX_CHARS = 20_000
CONTENT_MAX_BYTES = 1024 * 1024
SOURCE_URL_MAX = 1024
PROGRESS_TTL = 30 * 24 * 3600
BATCHGET_COUNT = 20  # freepublish/batchget's `count` takes 1 to 20
# A lost freepublish/submit answer: publications this many seconds before the saved submit
# time still count (clocks differ), and one that has not appeared after LOST_SUBMIT_PATIENCE
# seconds is left to ops.
SUBMIT_CLOCK_SLACK = 5
LOST_SUBMIT_PATIENCE = 600
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Long enough for a digest's uploads and sendall; a crashed sender frees the day after this.
DIGEST_LOCK_SECONDS = 600
log = logging.getLogger(__name__)

# #595959 (7:1 on white, the public pages' muted grey): #888 was 3.5:1, under GB/T 37668's 4.5:1
META = "font-size:14px;color:#595959;line-height:1.6;margin:0 0 1.2em;"
NOTICE = "font-size:15px;color:#b22222;line-height:1.6;margin:0 0 1em;"
# the validity line of the metadata block _content() writes into every article
# The validity line of an article's metadata, whatever the agency calls the field (是否有效,
# 有效性, …): a short label, then exactly one of the validity values, then the line's end.
VALIDITY_LINE = re.compile(r"[^：<>]{1,12}：(有效|已废止|已失效|已修订)(?=<|$)")


class WechatSettings(ChannelSettings):
    api_base_url: str = "https://api.weixin.qq.com/cgi-bin/"
    appid: str = ""
    secret: SecretStr | None = None
    callback_token: SecretStr | None = None
    callback_aes_key: SecretStr | None = None
    allowed_image_hosts: list[str] = Field(default_factory=list)
    update_mode: Literal["correction", "republish"] = "correction"
    # A change of validity always deletes the original (it says 有效); in its place either the
    # full text under 【已废止】 etc. ("republish") or a short notice that links to the
    # abolishing document ("notice"), so the abolished text is no longer read as current.
    abolition_mode: Literal["republish", "notice"] = "republish"
    # The daily digest broadcast (群发) is opt-in per item type: empty means no broadcast.
    broadcast_types: list[str] = Field(default_factory=list)
    # Hour (Asia/Shanghai) from which the day's digest goes out: late enough that the day's
    # items are in it, early enough that followers still read it the same evening.
    broadcast_at: int = Field(default=18, ge=0, le=23)
    # optional: with it the shared access token is also cached in Redis (the database holds it
    # either way, so a Redis outage or flush costs no token fetch and loses nothing)
    redis_url: str | None = None
    key_prefix: str = "publisher:wechat"
    author: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    image_max_bytes: int = 5 * 1024 * 1024
    token_margin: float = 300.0
    # The most freepublish/batchget pages (BATCHGET_COUNT each) read when searching the account
    # for an item's articles (withdrawal, republish, a lost submit); None: the whole list.
    # WeChat documents no order for the list, so only the whole list proves an article absent:
    # a search stopped here fails, naming this setting, instead of answering "not found".
    lookup_pages: int | None = Field(default=None, ge=1)
    # Plain-mode signatures do not cover the body: a captured one is only accepted this long.
    callback_max_age: float = Field(default=600.0, gt=0, le=86_400)


def metadata_block(version: VersionView) -> str:
    """The article's metadata paragraph (索引号, 发布机构, 文号, 成文日期, 有效性, in the agency's
    own names from [agency.labels], as on its pages); inventory reads the validity back from it."""
    names = version.labels
    meta = [
        (names["index_number"], version.index_number),
        (names["issuing_body"], version.issuing_body),
        (names["doc_number"], version.doc_number),
        (names["issue_date"], version.issue_date.isoformat()),
        (names["validity"], version.validity),
    ]
    lines = "<br/>".join(f"{label}：{escape(value)}" for label, value in meta if value)
    return f'<p style="{META}">{lines}</p>'


def _fit(prefix: str, title: str) -> str:
    if len(prefix) + len(title) <= TITLE_MAX:
        return prefix + title
    return prefix + title[: TITLE_MAX - len(prefix) - 1] + "…"


class WechatChannel(Channel):
    kind: ClassVar[str] = "wechat"
    # outbound links are shown as text and images re-hosted or left out: a copy on the
    # website or in the feeds is the better carrier of the body's links
    link_rank: ClassVar[int | None] = 2
    link_images: ClassVar[bool] = False  # uploaded to WeChat (media/uploadimg) or left out
    asynchronous: ClassVar[bool] = True
    settings_model: ClassVar[type[ChannelSettings]] = WechatSettings
    settings: WechatSettings

    def __init__(self, settings: ChannelSettings, context: ChannelContext) -> None:
        if not isinstance(settings, WechatSettings):
            settings = WechatSettings.model_validate(settings.model_dump())
        super().__init__(settings, context)
        self.settings = settings
        self._api: WechatApi | None = None
        self._guard: EgressGuard | None = None

    # ---- wiring ---------------------------------------------------------------------------

    @property
    def api(self) -> WechatApi:
        if self._api is None:
            secret = self.settings.secret.get_secret_value() if self.settings.secret else ""
            if not self.settings.appid or not secret:
                raise ChannelConfigError(
                    "微信公众号未配置 AppID/AppSecret / WeChat appid or secret not configured"
                )
            self._api = WechatApi(
                appid=self.settings.appid,
                secret=secret,
                api_base_url=self.settings.api_base_url,
                shared=self.context.shared,
                redis_url=self.settings.redis_url,
                key_prefix=self.settings.key_prefix,
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                token_margin=self.settings.token_margin,
            )
        return self._api

    @property
    def guard(self) -> EgressGuard:
        """Fetches the in-body images and the cover (URLs from content): `allowed_image_hosts`
        decides which hosts, the egress guard which addresses (channels/wechat/media.py)."""
        if self._guard is None:
            base = self.context.egress or EgressSettings()
            self._guard = EgressGuard(
                replace(
                    base,
                    connect_timeout=min(base.connect_timeout, self.settings.connect_timeout),
                    read_timeout=min(base.read_timeout, self.settings.read_timeout),
                )
            )
        return self._guard

    def probe(self) -> str:
        """Live check: an access token for appid/secret (channels/wechat/probe.py)."""
        secret = self.settings.secret.get_secret_value() if self.settings.secret else None
        return probe_token(self.settings.api_base_url, self.settings.appid, secret)

    def dependencies(self) -> dict[str, Callable[[], str]]:
        """Readiness: the Redis token cache, when one is configured (the database, which holds
        the token and every delivery's progress, is checked for the whole service)."""
        url = self.settings.redis_url
        if not url:
            return {}

        def ping() -> str:
            client: redis.Redis[bytes] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            try:
                client.ping()
            except RedisError as exc:
                raise TransientError(
                    f"Redis 不可用 / Redis unavailable: {type(exc).__name__}: {exc}"[:300]
                ) from exc
            finally:
                client.close()
            return "PING ok"

        return {"redis": ping}

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
        if self._guard is not None:
            self._guard.close()

    # ---- pure: render and check -----------------------------------------------------------

    def source_url(self, version: VersionView) -> str:
        return version.channel_urls.get("cms") or version.public_url

    def _content(
        self, version: VersionView, notice: str | None = None
    ) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        transformed = to_wechat_html(
            version.body_html, base_url=version.public_url, allowed_hosts=self.settings.allowed_image_hosts
        )
        parts = []
        if notice:
            parts.append(f'<p style="{NOTICE}">{escape(notice)}</p>')
        parts.append(metadata_block(version))
        parts.append(transformed.content)
        if version.attachments:
            items = "".join(
                f'<li style="font-size:15px;line-height:1.6;">{escape(a.get("title", ""))}'
                f'（<span style="color:#576b95;word-break:break-all;">{escape(a.get("url", ""))}</span>）</li>'
                for a in version.attachments
            )
            parts.append(
                f'<p style="font-size:16px;font-weight:bold;margin:1em 0 0.5em;">附件</p><ol>{items}</ol>'
            )
        # Last, over the whole article: nothing the transformation made may carry a script.
        return clean_output("".join(parts)), transformed.images, transformed.dropped_images

    def _notice(self, version: VersionView, op: Operation) -> tuple[str, str | None]:
        """(title prefix, notice line) for an update article."""
        changed = version.validity_changed_on.isoformat() if version.validity_changed_on else ""
        if version.validity is not Validity.VALID:
            note = f"本文件{('已于' + changed) if changed else '现'}{version.validity.change}，请以最新文件为准。"
            return f"【{version.validity}】", note
        if op is Operation.UPDATE:
            return "【更新】", "本文内容已更新，以下为更新后的全文。"
        return "", None

    def _abolition_notice(self, version: VersionView) -> tuple[str, str]:
        """(content, digest) of the short article left in place of an abolished one: what
        happened and when, the abolishing document's address, the metadata block (whose
        validity line reconcile reads) — no body, no images, no attachments."""
        changed = version.validity_changed_on.isoformat() if version.validity_changed_on else ""
        what = f"本文件{('已于' + changed) if changed else '现'}{version.validity.change}。"
        lines = [f'<p style="{NOTICE}">{escape(what)}原文已删除，不再作为依据。</p>']
        by = version.abolished_by_url
        if by:
            # WeChat lets an article link only to other WeChat articles (html.py): the
            # address is shown as text, and “阅读原文” leads to this item's own page
            lines.append(
                f'<p style="font-size:15px;line-height:1.6;">{version.validity.change}依据：'
                f'<span style="color:#576b95;word-break:break-all;">{escape(by)}</span></p>'
            )
        lines.append(metadata_block(version))
        lines.append('<p style="font-size:15px;line-height:1.6;">原文信息及其有效性见“阅读原文”。</p>')
        return clean_output("".join(lines)), what[:DIGEST_MAX]

    def _author(self, version: VersionView) -> str:
        author = self.settings.author or version.issuing_body or ""
        return author if len(author) <= AUTHOR_MAX else ""

    def render(self, version: VersionView, op: Operation) -> Payload:
        title = version.short_title or version.title
        known = version.channel_urls.get("wechat")
        locate = {
            "uid": version.uid,
            "urls": [known] if known else [],
            "source_urls": sorted({self.source_url(version), version.public_url}),
        }
        if op is Operation.WITHDRAW:
            return Payload(self.kind, op, version.uid, version.version, {"op": op.value, "locate": locate})
        # A published article cannot be edited, and a correction article beside the original
        # would leave the original live claiming 有效: a change of validity (abolished,
        # expired, amended) always deletes the original and republishes it under 【已废止】 etc.
        correction = (
            op is Operation.UPDATE
            and self.settings.update_mode == "correction"
            and version.validity is Validity.VALID
        )
        prefix, notice = (
            self._notice(version, op)
            if (correction or version.validity is not Validity.VALID)
            else ("", None)
        )
        # notice mode: only a short notice takes the abolished article's place
        short = version.validity is not Validity.VALID and self.settings.abolition_mode == "notice"
        if short:
            content, digest = self._abolition_notice(version)
            images: tuple[str, ...] = ()
            dropped: tuple[str, ...] = ()
        else:
            content, images, dropped = self._content(version, notice)
            digest = version.description
        article = {
            "title": _fit(prefix, title) if prefix else title,
            "author": self._author(version),
            "digest": digest,
            "content": content,
            "content_source_url": self.source_url(version),
            "need_open_comment": 0,
            "only_fans_can_comment": 0,
        }
        body = {
            "op": op.value,
            "mode": "correction" if correction else ("republish" if op is Operation.UPDATE else "publish"),
            "article": article,
            "images": list(images),
            "dropped_images": list(dropped),
            "notice": short,
            # a notice has no pictures of the document: its cover is generated, never fetched
            "cover_url": None if short else version.cover_url,
            "cover_caption": f"{version.index_number}  {version.issue_date.isoformat()}",
            "cover_seed": f"{version.uid}:{version.version}",
            "item_type": version.type.value,
            "locate": locate,
        }
        return Payload(self.kind, op, version.uid, version.version, body)

    def check(self, version: VersionView) -> list[Problem]:
        problems: list[Problem] = []
        if version.short_title and len(version.short_title) > TITLE_MAX:
            problems.append(
                Problem(
                    "short_title",
                    f"微信短标题超过{TITLE_MAX}字（现为{len(version.short_title)}字）"
                    f" / short title has {len(version.short_title)} characters, "
                    f"WeChat allows {TITLE_MAX}",
                )
            )
        elif not version.short_title and len(version.title) > TITLE_MAX:
            problems.append(
                Problem(
                    "short_title",
                    f"标题超过{TITLE_MAX}字（现为{len(version.title)}字），请填写微信短标题"
                    f" / title has {len(version.title)} characters (WeChat allows "
                    f"{TITLE_MAX}): add a short title",
                )
            )
        if len(version.description) > DIGEST_MAX:
            problems.append(
                Problem(
                    "description",
                    f"摘要超过{DIGEST_MAX}字（现为{len(version.description)}字）"
                    f" / digest has {len(version.description)} characters, "
                    f"WeChat allows {DIGEST_MAX}",
                )
            )
        content, images, dropped = self._content(version)
        for url in (*images, *([version.cover_url] if version.cover_url else [])):
            why = static_problem(url, self.context.egress)
            if why:
                problems.append(
                    Problem(
                        "cover_url" if url == version.cover_url else "body_html",
                        f"该图片地址不会被获取 / this image URL will not be fetched: {url[:200]}: {why}",
                    )
                )
        if len(content) >= CONTENT_MAX_CHARS or len(content.encode("utf-8")) >= CONTENT_MAX_BYTES:
            problems.append(
                Problem(
                    "body_html",
                    f"正文过长（转换后{len(content)}字符），微信要求少于{CONTENT_MAX_CHARS}字符且小于1MB"
                    f" / content too large for WeChat ({len(content)} characters)",
                )
            )
        if dropped:
            problems.append(
                Problem(
                    "body_html",
                    "以下图片不会出现在微信文章中（来源不在允许列表，或不是图片网址） / images left out "
                    "(host not allowed, or not an image URL): " + ", ".join(dropped)[:500],
                )
            )
        if version.cover_url and not host_allowed(version.cover_url, self.settings.allowed_image_hosts):
            problems.append(Problem("cover_url", "封面图片来源不在允许列表 / cover image host not allowed"))
        if len(self.source_url(version).encode("utf-8")) > SOURCE_URL_MAX:
            problems.append(Problem("public_url", "原文链接超过1KB / source URL longer than 1 KB"))
        return problems

    # ---- progress kept per delivery (its checkpoint) and per day (the digest) -------------

    def load_progress(self, key: str) -> dict[str, Any]:
        return self.context.checkpoints.load(key)

    def save_progress(self, key: str, progress: Mapping[str, Any]) -> None:
        self.context.checkpoints.save(key, progress)

    def load_digest(self, day: date) -> dict[str, Any]:
        found = self.context.shared.get(f"digest:{day.isoformat()}")
        return dict(found) if isinstance(found, dict) else {}

    def save_digest(self, day: date, progress: Mapping[str, Any]) -> None:
        self.context.shared.put(f"digest:{day.isoformat()}", dict(progress), ttl=PROGRESS_TTL)

    # ---- remote steps ---------------------------------------------------------------------

    def _upload_cover(self, body: Mapping[str, Any]) -> str:
        cover_url = body.get("cover_url")
        if cover_url:
            data = fetch_image(
                self.guard,
                str(cover_url),
                allowed_hosts=self.settings.allowed_image_hosts,
                max_bytes=self.settings.image_max_bytes,
            )
            jpeg, kind = for_cover(data), "image"
        else:
            jpeg = generate_cover(str(body["item_type"]), str(body["cover_caption"]), str(body["cover_seed"]))
            kind = "thumb"
        result = self.api.upload(
            "material/add_material", "material/add_material", {"type": kind}, "cover.jpg", jpeg, "image/jpeg"
        )
        return str(result["media_id"])

    def _rehost(self, url: str) -> str:
        data = fetch_image(
            self.guard,
            url,
            allowed_hosts=self.settings.allowed_image_hosts,
            max_bytes=self.settings.image_max_bytes,
        )
        data, filename, ctype = for_uploadimg(data)
        # the same picture in many items is uploaded once (uploadimg URLs do not expire)
        cache = f"img:{hashlib.sha256(data).hexdigest()}"
        known = self.context.shared.get(cache)
        if known:
            return str(known)
        result = self.api.upload("media/uploadimg", "media/uploadimg", {}, filename, data, ctype)
        hosted = str(result["url"])
        self.context.shared.put(cache, hosted, ttl=PROGRESS_TTL)
        return hosted

    def prepare_article(
        self, body: Mapping[str, Any], progress: dict[str, Any], save: Callable[[], None]
    ) -> dict[str, Any]:
        """Upload the cover and images of one rendered article (resuming from `progress`,
        calling `save` after the cover) and return the article as draft/add takes it.

        The cover is a permanent material (a quota WeChat counts), so it is saved at once. An
        in-body image is not saved one by one: `_rehost` records every upload in the shared
        image cache (by content hash) as it happens, so a retry finds it there instead of
        uploading it again, and `progress["images"]` goes out with the next save."""
        if not progress.get("thumb_media_id"):
            progress["thumb_media_id"] = self._upload_cover(body)
            save()
        hosted: dict[str, str] = progress.setdefault("images", {})
        for url in body.get("images", []):
            if url not in hosted:
                hosted[url] = self._rehost(url)
        article = dict(body["article"])
        article["content"] = rewrite_images(article["content"], hosted)
        article["thumb_media_id"] = progress["thumb_media_id"]
        return article

    def _receipt(self, payload: Payload, progress: Mapping[str, Any]) -> Receipt:
        return Receipt(
            external_id=str(progress["publish_id"]),
            accepted=True,
            provider_code="0",
            data={
                "publish_id": progress["publish_id"],
                "media_id": progress.get("media_id"),
                "msg_data_id": progress.get("msg_data_id"),
                "thumb_media_id": progress.get("thumb_media_id"),
                "images": len(progress.get("images", {})),
                "uid": payload.uid,
                "version": payload.version,
                "replaced": progress.get("deleted", []),
            },
        )

    def send(self, payload: Payload, *, key: str) -> Receipt:
        body = payload.body
        if payload.operation is Operation.WITHDRAW:
            deleted = self._delete_item(body["locate"])
            return Receipt(
                accepted=False,
                provider_code="0",
                data={"deleted": deleted, "absent": not deleted, "uid": payload.uid},
            )
        progress = self.load_progress(key)
        if progress.get("publish_id"):
            return self._receipt(payload, progress)
        if progress.get("recovered"):
            return self._recovered_receipt(payload, progress)
        if body.get("mode") == "republish" and "deleted" not in progress:
            progress["deleted"] = self._delete_item(body["locate"])
            self.save_progress(key, progress)
        if progress.get("submitting") and progress.get("media_id"):
            recovered = self._recover_lost_submit(key, payload, progress)
            if recovered is not None:
                return recovered
        if not progress.get("media_id"):
            article = self.prepare_article(body, progress, lambda: self.save_progress(key, progress))
            result = self.api.post("draft/add", "draft/add", {"articles": [article]})
            # saved together with `submitting` just below: nothing remote happens in between
            progress["media_id"] = str(result["media_id"])
        progress["submitting"] = True
        # what a lost answer is recognised by later: publications of this source URL since now
        progress["submitted_at"] = int(time.time()) - SUBMIT_CLOCK_SLACK
        self.save_progress(key, progress)
        result = self.api.post("freepublish/submit", "freepublish/submit", {"media_id": progress["media_id"]})
        progress["publish_id"] = str(result["publish_id"])
        progress["msg_data_id"] = result.get("msg_data_id")
        self.save_progress(key, progress)
        self._index_publish(progress["publish_id"], payload.uid)
        return self._receipt(payload, progress)

    def _index_publish(self, publish_id: str, uid: str) -> None:
        """Which item a publish_id belongs to, for the PUBLISHJOBFINISH push (which names only
        the publish_id) to remember the article for a later withdrawal. Best effort: the
        withdrawal also finds articles by their source URL."""
        try:
            self.context.shared.put(f"publish:{publish_id}", uid, ttl=PROGRESS_TTL)
        except TransientError as exc:
            log.warning("wechat: cannot index publish %s for %s: %s", publish_id, uid, exc)

    def _recover_lost_submit(self, key: str, payload: Payload, progress: dict[str, Any]) -> Receipt | None:
        """The previous attempt sent freepublish/submit but never saw the answer (a worker
        killed, a connection cut, Redis gone before the publish_id was saved). A submitted
        draft leaves the draft box: if it is still there, submitting again is safe (None).
        If it is gone the submit went through: the publication is looked up by its source URL
        among those made since the submit, and delivered from there. A publication can take a
        while to appear (WeChat publishes asynchronously): until LOST_SUBMIT_PATIENCE has
        passed that is a transient error, after it a permanent one for ops to check by hand."""
        try:
            self.api.post("draft/get", "draft/get", {"media_id": str(progress["media_id"])})
            return None
        except PermanentError as exc:
            gone = exc
        since = int(progress.get("submitted_at") or 0)
        found: tuple[str, str] | None = None
        whole, unread = True, ""
        if since:
            found, listing = self._published_since(payload.body["locate"], since)
            whole = listing.whole
            unread = (
                f"发布记录只读了前 lookup_pages = {listing.pages} 页（共 {listing.total} 条），"
                "未读部分可能已有这次发布 / only the first "
                f"lookup_pages = {listing.pages} pages of {listing.total} publications were read: "
                "the publication may be in the rest"
            )
        if found is not None:
            article_id, url = found
            progress["recovered"] = {"article_id": article_id, "url": url}
            self.save_progress(key, progress)
            self.remember(payload.uid, article_id, [url] if url else [])
            return self._recovered_receipt(payload, progress)
        now = int(time.time())
        first = int(progress.setdefault("lost_since", now))
        self.save_progress(key, progress)
        if now - first < LOST_SUBMIT_PATIENCE:
            raise TransientError(
                "已提交发布，发布记录尚未出现 / submitted; the publication has not appeared yet"
                + ("" if whole else f"（{unread}）"),
                provider_code=gone.provider_code,
            )
        if not whole:
            raise PermanentError(
                f"草稿已提交发布但未收到发布编号；{unread}。请调大或删除 [channels.wechat] lookup_pages，"
                "并在公众号后台核对是否已发布，切勿直接重放（重放会再发布一次） / the draft was submitted "
                "but the publish_id was lost and the publication list was not read to its end: "
                "raise or remove lookup_pages and check the account; a replay publishes again",
                provider_code=gone.provider_code,
            )
        raise PermanentError(
            "草稿已提交发布但未收到发布编号，且未找到发布记录，请在公众号后台核对后再重放 / the draft was submitted "
            "but the publish_id was lost and no publication was found: check the account before replaying",
            provider_code=gone.provider_code,
        )

    @staticmethod
    def _recovered_receipt(payload: Payload, progress: Mapping[str, Any]) -> Receipt:
        """Delivered: the publication found after a lost submit answer is live already."""
        found = progress["recovered"]
        return Receipt(
            external_id=str(found["article_id"]),
            url=str(found.get("url") or "") or None,
            accepted=False,
            provider_code="0",
            data={
                "recovered": True,
                "article_id": found["article_id"],
                "media_id": progress.get("media_id"),
                "uid": payload.uid,
                "version": payload.version,
                "replaced": progress.get("deleted", []),
            },
        )

    def _published_since(
        self, locate: Mapping[str, Any], since: int
    ) -> tuple[tuple[str, str] | None, _Listing]:
        """The newest live publication of this item's source URL made at or after `since`
        (unix seconds), as (article_id, article URL), among the publications read (the whole
        list unless `lookup_pages` stopped it: the listing says which). Newest by its
        update_time, not by its place in the list, whose order WeChat does not document."""
        sources = set(locate.get("source_urls") or [])
        listing = self._search_list()
        best: tuple[int, str, str] | None = None
        for item in listing.items:
            at = int(item.get("update_time") or 0)
            if at < since or (best is not None and at <= best[0]):
                continue
            news = (item.get("content") or {}).get("news_item") or []
            for article in news:
                if not article.get("is_deleted") and article.get("content_source_url") in sources:
                    best = (at, str(item["article_id"]), str(article.get("url") or ""))
                    break
        return (None if best is None else (best[1], best[2])), listing

    def confirm(self, receipt: Receipt) -> Confirmation | None:
        if not receipt.accepted or not receipt.external_id:
            return Confirmation(delivered=True, url=receipt.url, data=dict(receipt.data))
        result = self.api.post("freepublish/get", "freepublish/get", {"publish_id": receipt.external_id})
        items = (result.get("article_detail") or {}).get("item") or []
        urls = [str(i.get("article_url", "")) for i in sorted(items, key=lambda i: int(i.get("idx", 0)))]
        article_id = result.get("article_id")
        status = int(result.get("publish_status", 3))
        uid = receipt.data.get("uid")
        if status == 0 and article_id and uid:
            self.remember(str(uid), str(article_id), urls)
        return confirmation_for(
            status,
            publish_id=receipt.external_id,
            article_id=article_id,
            urls=urls,
            fail_idx=[int(i) for i in result.get("fail_idx") or []],
        )

    # ---- pushes from WeChat (/callbacks/wechat) -------------------------------------------

    def handle_callback(self, request: CallbackRequest) -> CallbackResponse | None:
        """URL verification (GET with echostr) and the PUBLISHJOBFINISH / MASSSENDJOBFINISH
        events, plain or safe (AES) mode. A publish result becomes a confirmation of the
        delivery whose Receipt carried that publish_id; WeChat wants "success" back, and a
        push answered otherwise is repeated (three times in all)."""
        if self.settings.callback_token is None:
            return None  # no token configured: this deployment takes no pushes
        token = self.settings.callback_token.get_secret_value()
        aes_key = (
            self.settings.callback_aes_key.get_secret_value() if self.settings.callback_aes_key else None
        )
        max_age = self.settings.callback_max_age
        try:
            if request.method == "GET":
                echostr = verify_url(request.query, token=token, max_age=max_age)
                return CallbackResponse(body=echostr.encode("utf-8"))
            if request.method != "POST":
                return CallbackResponse(status=405, body=b"method not allowed")
            event = parse_event(
                request.query,
                request.body,
                token=token,
                aes_key=aes_key,
                appid=self.settings.appid,
                max_age=max_age,
            )
        except CallbackError as exc:
            log.warning("wechat callback refused (%s %s): %s", request.method, exc.status, exc)
            return CallbackResponse(status=exc.status, body=str(exc).encode("utf-8"))
        try:
            first = self._first_sight(request.query, max_age)
        except TransientError as exc:
            log.warning("wechat callback: cannot check for a replay, WeChat will repeat it: %s", exc)
            return CallbackResponse(status=503, body=b"busy")
        if not first:
            # a signed push seen before (a replay, or WeChat repeating one we answered): the
            # first one had its effect, this one has none; "success" stops WeChat repeating
            log.warning("wechat callback: (timestamp, nonce) seen before, ignored")
            return CallbackResponse()
        if isinstance(event, PublishEvent):
            return self._on_publish(event)
        if isinstance(event, MassEvent):
            self._on_mass(event)
        else:
            log.info("wechat callback: %s/%s ignored", event.msg_type, event.event)
        return CallbackResponse()

    def _first_sight(self, query: Mapping[str, str], max_age: float) -> bool:
        """Whether this (timestamp, nonce) is new: claimed in the durable shared store (the
        database, across processes) until no push carrying it could still pass the age check."""
        name = f"callback-nonce:{query.get('timestamp', '')}:{query.get('nonce', '')}"[:200]
        return self.context.shared.claim(name, uuid.uuid4().hex, ttl=2 * max_age + 60)

    def _on_publish(self, event: PublishEvent) -> CallbackResponse:
        confirmation = event.confirmation()
        log.info("wechat PUBLISHJOBFINISH publish_id=%s status=%s", event.publish_id, event.status)
        if event.status == 0 and event.article_id:
            try:
                owner = self.context.shared.get(f"publish:{event.publish_id}")
                if owner:
                    self.remember(str(owner), event.article_id, event.article_urls)
            except TransientError as exc:
                # The withdrawal still finds the article through freepublish/batchget.
                log.warning("wechat: cannot remember article of publish %s: %s", event.publish_id, exc)
        if confirmation is None:
            return CallbackResponse()
        return CallbackResponse(confirmations=((event.publish_id, confirmation),))

    def _on_mass(self, event: MassEvent) -> None:
        """The digest broadcast is not a ledger delivery: keep its result where
        `mass_result` (and so broadcast.digest_status) finds it without asking WeChat."""
        confirmation = event.confirmation()
        log.info(
            "wechat MASSSENDJOBFINISH msg_id=%s status=%s sent=%s errors=%s",
            event.msg_id,
            event.status,
            event.sent_count,
            event.error_count,
        )
        record = {
            "delivered": confirmation.delivered,
            "error": confirmation.error,
            "data": dict(confirmation.data),
            "total_count": event.total_count,
            "filter_count": event.filter_count,
        }
        try:
            self.context.shared.put(f"mass:{event.msg_id}", record, ttl=PROGRESS_TTL)
        except TransientError as exc:
            log.warning("wechat: cannot record broadcast %s: %s", event.msg_id, exc)

    def mass_result(self, msg_id: str) -> Confirmation | None:
        """The MASSSENDJOBFINISH outcome pushed for `msg_id`, if one arrived."""
        record = self.context.shared.get(f"mass:{msg_id}")
        if not isinstance(record, dict):
            return None
        return Confirmation(delivered=record["delivered"], error=record["error"], data=record["data"])

    # ---- the daily digest broadcast (broadcast.py) ----------------------------------------

    def digest(self, versions: Sequence[VersionView], *, day: date, now: datetime) -> Receipt | None:
        """The day's digest: the items of `broadcast_types` (at most 8), once the Shanghai
        clock reaches `broadcast_at`, sent once a day (the account's quota). Off when no
        broadcast type is configured."""
        if not self.settings.broadcast_types:
            return None
        if digest_progress(self, day).get("msg_id"):
            return send_digest(self, versions, day=day)  # already sent: that day's receipt, no call
        if now.astimezone(SHANGHAI).hour < self.settings.broadcast_at:
            return None
        if not pick_digest(versions, types=self.settings.broadcast_types):
            return None
        # Every process's sweeper may run this: one of them sends, the others wait for tomorrow's
        # question (or for this run's receipt on their next run).
        lock, owner = f"digest-lock:{day.isoformat()}", uuid.uuid4().hex
        if not self.context.shared.claim(lock, owner, DIGEST_LOCK_SECONDS):
            return None
        try:
            return send_digest(self, versions, day=day)
        finally:
            try:
                self.context.shared.release(lock, owner)
            except TransientError as exc:  # the lease expires on its own
                log.warning("wechat: cannot release the digest lock for %s: %s", day, exc)

    def digest_status(self, receipt: Receipt) -> Confirmation | None:
        return digest_status(self, receipt)

    # ---- finding and deleting an item's articles ------------------------------------------

    def remember(self, uid: str, article_id: str, urls: Sequence[str]) -> None:
        """Record where an item's article lives (from confirm or a PUBLISHJOBFINISH event)."""
        self.context.shared.put(f"article:{uid}:{article_id}", {"article_id": article_id, "urls": list(urls)})

    def _remembered(self, uid: str) -> list[tuple[str, int]]:
        # We publish one article per publish, so it is article 1 of that publish.
        return [
            (str(entry["article_id"]), 1) for entry in self.context.shared.items(f"article:{uid}:").values()
        ]

    def _scan(self, locate: Mapping[str, Any]) -> tuple[list[tuple[str, int]], _Listing]:
        """Search the account's publications for this item's articles (by its WeChat URL, or
        by the source URL we set as content_source_url): every one in the list read, which is
        the whole list unless `lookup_pages` stopped it (the listing says which)."""
        urls = set(locate.get("urls") or [])
        sources = set(locate.get("source_urls") or [])
        listing = self._search_list()
        found: list[tuple[str, int]] = []
        for item in listing.items:
            news = (item.get("content") or {}).get("news_item") or []
            for idx, article in enumerate(news, start=1):
                if article.get("is_deleted"):
                    continue
                if article.get("url") in urls or article.get("content_source_url") in sources:
                    found.append((str(item["article_id"]), idx))
        return found, listing

    def _pages(self, *, content: bool = False) -> Iterator[tuple[list[Mapping[str, Any]], int, bool]]:
        """The account's successful publications, one freepublish/batchget page at a time, as
        (items, total_count, last): `offset` from 0 advanced by the items returned, `count` 20
        (the most it takes), until an empty page or `total_count`. In the order WeChat lists
        them, which its documentation does not state: nothing here relies on one. Without `content` (`no_content: 1`) each article comes without its
        HTML. https://developers.weixin.qq.com/doc/offiaccount/Publish/Get_publication_records.html"""
        offset = 0
        while True:
            result = self.api.post(
                "freepublish/batchget",
                "freepublish/batchget",
                {"offset": offset, "count": BATCHGET_COUNT, "no_content": 0 if content else 1},
            )
            page = result.get("item") or []
            total = int(result.get("total_count") or 0)
            offset += len(page)
            last = not page or offset >= total
            yield page, total, last
            if last:
                return

    def _publications(self, *, content: bool = False) -> Iterator[Mapping[str, Any]]:
        """Every publication of the account (all pages)."""
        for page, _total, _last in self._pages(content=content):
            yield from page

    def _search_list(self) -> _Listing:
        """The publications without content, for a search that must not miss one: every page,
        or the first `lookup_pages` when that is set (then `whole` says whether they were all)."""
        limit = self.settings.lookup_pages
        items: list[Mapping[str, Any]] = []
        pages, total = 0, 0
        for page, total, last in self._pages():
            items += page
            pages += 1
            if last:
                return _Listing(items, True, pages, total)
            if limit is not None and pages >= limit:
                break
        return _Listing(items, False, pages, total)

    def inventory(self) -> Iterable[Holding]:
        """The account's publications (freepublish/batchget, every page) mapped back to item
        uids: by the articles remembered per uid (confirm / PUBLISHJOBFINISH), else by a
        content_source_url of the form <public_base_url>/items/<uid>. An article neither
        maps is reported under "wechat:<article_id>:<idx>" (the comparison shows it as
        extra). Live: not deleted. The version is not recoverable from an article (None);
        the validity is read from the metadata block of its content. In correction mode an
        update adds an article beside the original by design: only the newest live article
        of an item counts as live, older ones are reported as not live."""
        owners = self._remembered_owners()
        prefix = self.context.public_base_url.rstrip("/") + "/items/"
        found: list[tuple[int, Holding]] = []
        for item in self._publications(content=True):
            article_id = str(item.get("article_id") or "")
            updated = int(item.get("update_time") or 0)
            news = (item.get("content") or {}).get("news_item") or []
            for idx, article in enumerate(news, start=1):
                source = str(article.get("content_source_url") or "")
                uid = owners.get(article_id) or (source[len(prefix) :] if source.startswith(prefix) else "")
                found.append(
                    (updated, _article_holding(uid or f"wechat:{article_id}:{idx}", article_id, idx, article))
                )
        if self.settings.update_mode != "correction":
            return [h for _at, h in found]
        newest: dict[str, str | None] = {}
        for _at, h in sorted(found, key=lambda f: f[0], reverse=True):
            if h.live:
                newest.setdefault(h.uid, h.external_id)
        return [
            h if not h.live or newest[h.uid] == h.external_id else replace(h, live=False, validity=None)
            for _at, h in found
        ]

    def inspect(self, ref: CopyRef) -> Holding | None:
        """One delivered article: its publication's status (freepublish/get by the publish_id
        the delivery's receipt carries), then the article itself (freepublish/getarticle),
        mapped like `inventory` maps it. Deleted by the account (status 5, or the article
        marked deleted): None. Banned by WeChat (6): not live, with the reason."""
        if not ref.external_id:
            return None
        article_id, status = ref.external_id, 0
        try:
            result = self.api.post("freepublish/get", "freepublish/get", {"publish_id": ref.external_id})
        except PermanentError:
            result = None  # not a publish_id: a publication found after a lost submit keeps its article_id
        if result is not None:
            status = int(result.get("publish_status", 3))
            article_id = str(result.get("article_id") or "")
        if status == 5:
            return None
        if status != 0:
            reason = AFTER_SUCCESS.get(status) or FAILED.get(status) or f"publish_status {status}"
            return Holding(ref.uid, None, None, live=False, external_id=ref.external_id, status=reason)
        if not article_id:
            return None
        try:
            found = self.api.post(
                "freepublish/getarticle", "freepublish/getarticle", {"article_id": article_id}
            )
        except PermanentError as exc:
            if exc.provider_code == "53600":  # the article is gone
                return None
            raise
        news = found.get("news_item") or []
        if not news or news[0].get("is_deleted"):
            return None
        held = _article_holding(ref.uid, article_id, 1, news[0])
        if self.settings.abolition_mode == "notice" and held.validity not in (None, Validity.VALID):
            # in notice mode an abolished item's article is the short notice: no body
            held = replace(held, body=False)
        return held

    def _remembered_owners(self) -> dict[str, str]:
        """article_id -> uid from the articles remembered (name article:<uid>:<article_id>)."""
        owners: dict[str, str] = {}
        for name in self.context.shared.items("article:"):
            uid, _sep, article_id = name[len("article:") :].partition(":")
            owners[article_id] = uid
        return owners

    def _delete_item(self, locate: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Delete every article of this item: those remembered and those the account's list
        shows. A list not read to its end (`lookup_pages`) may hide more of them: what was
        found is deleted, then the attempt fails naming the setting, never "done"."""
        uid = str(locate["uid"])
        # Both sources: the list may hold articles never remembered (confirmed only by a push
        # that could not be attributed), and a remembered one is deleted even if unlisted.
        scanned, listing = self._scan(locate)
        targets = self._remembered(uid) + scanned
        deleted = []
        for article_id, index in dict.fromkeys(targets):
            if index < 1:  # index 0 would delete every article of that publish
                raise PermanentError("拒绝删除整组图文 / refusing to delete a whole publish")
            try:
                self.api.post(
                    "freepublish/delete", "freepublish/delete", {"article_id": article_id, "index": index}
                )
            except PermanentError as exc:
                if exc.provider_code != "53600":  # already gone: that is what we wanted
                    raise
            deleted.append({"article_id": article_id, "index": index})
        if not listing.whole:
            raise PermanentError(
                f"公众号发布记录未读完（lookup_pages = {listing.pages} 页，每页 {BATCHGET_COUNT} 条，"
                f"共 {listing.total} 条），无法确认本条目的文章已全部删除（已删除 {len(deleted)} 篇）："
                "请调大或删除 [channels.wechat] lookup_pages 后重放 / the account's publication list was "
                f"not read to its end (lookup_pages = {listing.pages} pages of {BATCHGET_COUNT}, "
                f"{listing.total} publications): this item may still have live articles "
                f"({len(deleted)} deleted); raise or remove lookup_pages and replay"
            )
        for name in self.context.shared.items(f"article:{uid}:"):
            self.context.shared.delete(name)
        return deleted


@dataclass(frozen=True)
class _Listing:
    """What a search read of the account's list: the publications, whether that was the whole
    list (else `lookup_pages` stopped it), the pages read and the list's total_count."""

    items: list[Mapping[str, Any]]
    whole: bool
    pages: int
    total: int


def _article_holding(uid: str, article_id: str, idx: int, article: Mapping[str, Any]) -> Holding:
    """One article of a publication as a holding: live unless deleted; the version is not
    recoverable from an article (None), the validity is read from its metadata block."""
    live = not article.get("is_deleted")
    match = VALIDITY_LINE.search(str(article.get("content") or "")) if live else None
    return Holding(
        uid=uid,
        version=None,
        validity=match.group(1) if match else None,
        live=live,
        external_id=f"{article_id}:{idx}",
        url=str(article.get("url") or "") or None,
        status=None if live else "已删除 / deleted",
    )
