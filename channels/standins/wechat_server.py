"""A local stand-in for the WeChat Official Account API (LOCAL STAND-IN, not WeChat).

Tests and demos cannot reach api.weixin.qq.com, so this server speaks the same paths under
/cgi-bin/, the same JSON shapes and errcodes, and the quirks client code has to survive
(see /work/shared/DOMAIN.md §4 and https://developers.weixin.qq.com/doc/offiaccount/):

- access_token travels in the query string; JSON bodies arrive without a Content-Type;
- tokens expire (configurable TTL, 42001); fetching a new one leaves the previous one valid
  for 5 minutes, after which it answers 40001;
- draft/add enforces the documented limits (45003 title, 45004 digest, 45110 author,
  45002 content, 45005 source url, 40007 unknown thumb), strips scripts and drops images
  not hosted here (WeChat filters external image URLs out of the content);
- freepublish/submit only *accepts* a job; it finishes after `publish_delay` seconds and the
  server POSTs a signed PUBLISHJOBFINISH event to the callback URL (plain or AES safe mode);
- freepublish/delete with index 0 or no index deletes every article of that publish;
- message/mass/sendall is limited to `mass_quota_per_day` (45028) and ends with a signed
  MASSSENDJOBFINISH event;
- freepublish/batchget lists the account's publications newest first by default, but WeChat's
  documentation promises no order: `publication_order` "oldest" lists them oldest first,
  "shuffled" in an order that has nothing to do with time (stable from one page to the next,
  fixed by `publication_seed`), so client code can be tested against either.

Fault injection and inspection live under /_admin/ (never part of WeChat's API):
POST /_admin/faults {"errcode": -1, "count": 5, "paths": ["draft/add"]} | {"http_status": 500}
| {"delay": 2.0} | {"publish_status": 4}; DELETE /_admin/faults; GET /_admin/state;
POST /_admin/expire_tokens; POST /_admin/config {...}; POST /_admin/reset;
POST /_admin/publishes/{publish_id}/ban; POST /_admin/publications {"count": 250} (that many
finished one-article publications of other items, older than anything published so far, so a
test can put an item beyond a page bound without publishing hundreds of drafts).

The AES safe-mode encryption is written here from the protocol description (AES-256-CBC, IV =
the key's first 16 bytes, PKCS#7 to 32-byte blocks) rather than borrowed from wechatpy, so the
adapter's wechatpy-based decryption is checked against an independent implementation.

Run on its own: python -m channels.standins.wechat_server --port 8101 --callback-url URL --token T
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import secrets
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from bs4 import BeautifulSoup
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

SHANGHAI = ZoneInfo("Asia/Shanghai")
BANNER = "LOCAL STAND-IN, not WeChat: a local imitation of the WeChat Official Account API"

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40004: "invalid media type",
    40005: "invalid file type",
    40007: "invalid media_id",
    40009: "invalid image size",
    40013: "invalid appid",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    42001: "access_token expired",
    44002: "empty post data",
    45002: "content size out of limit",
    45003: "title size out of limit",
    45004: "description size out of limit",
    45005: "url size out of limit",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45028: "has no masssend quota",
    45110: "author size out of limit",
    47001: "data format error",
    53503: "该草稿未通过发布检查",
    53600: "Article ID 无效",
}

JPEG = b"\xff\xd8\xff"
PNG = b"\x89PNG\r\n\x1a\n"
GIF = (b"GIF87a", b"GIF89a")
TOKEN_PATHS = ("token", "stable_token")


@dataclass
class ServerConfig:
    appid: str = "wx0000localstandin"
    secret: str = "local-standin-secret"
    ghid: str = "gh_localstandin0"
    token_ttl: float = 7200.0
    old_token_grace: float = 300.0
    publish_delay: float = 0.3
    mass_delay: float = 0.3
    callback_url: str | None = None
    callback_token: str = ""
    aes_key: str | None = None  # EncodingAESKey (43 characters); set = safe mode
    callback_attempts: int = 3
    callback_retry_delay: float = 0.5
    mass_quota_per_day: int = 1
    followers: int = 1000
    # freepublish/batchget's order: "newest" (first), "oldest" (first) or "shuffled"
    publication_order: str = "newest"
    publication_seed: int = 0  # which shuffled order
    daily_limits: dict[str, int] = field(default_factory=lambda: {"token": 2000})


@dataclass
class Fault:
    errcode: int | None = None
    errmsg: str | None = None
    http_status: int | None = None
    delay: float = 0.0
    count: int = 1  # -1: until cleared
    paths: list[str] | None = None  # endpoint names such as "draft/add"; None: every non-token call
    publish_status: int | None = None

    def matches(self, endpoint: str) -> bool:
        if self.paths is None:
            return endpoint not in TOKEN_PATHS
        return endpoint in self.paths


def _rid() -> str:
    return f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


def error(code: int, errmsg: str | None = None) -> JSONResponse:
    # WeChat reports errors inside HTTP 200 bodies and appends a request id to errmsg.
    return JSONResponse({"errcode": code, "errmsg": f"{errmsg or ERRMSG.get(code, 'error')} rid: {_rid()}"})


def ok(**extra: Any) -> JSONResponse:
    return JSONResponse({"errcode": 0, "errmsg": "ok", **extra})


class AesCipher:
    """WeChat's safe-mode message encryption (an independent implementation for the stand-in)."""

    def __init__(self, encoding_aes_key: str, appid: str) -> None:
        self.key = base64.b64decode(encoding_aes_key + "=")
        if len(self.key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes (43 characters)")
        self.appid = appid.encode()

    def encrypt(self, xml: str) -> str:
        body = xml.encode("utf-8")
        plain = os.urandom(16) + struct.pack(">I", len(body)) + body + self.appid
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class WechatStandin:
    """All state of the stand-in, guarded by one lock (handlers run on one event loop, the
    lock protects readers in other threads such as tests calling `snapshot`)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.tokens: dict[str, dict[str, Any]] = {}
            self.current_token: str | None = None
            self.materials: dict[str, dict[str, Any]] = {}
            self.images: dict[str, dict[str, Any]] = {}
            self.drafts: dict[str, dict[str, Any]] = {}
            self.publishes: dict[str, dict[str, Any]] = {}
            self.articles: dict[str, str] = {}  # article_id -> publish_id
            self.mass: dict[str, dict[str, Any]] = {}
            self.faults: list[Fault] = []
            self.publish_outcomes: list[int] = []
            self.callbacks: list[dict[str, Any]] = []
            self.delete_log: list[dict[str, Any]] = []  # every freepublish/delete body, as received
            self.daily_calls: dict[tuple[str, str], int] = {}
            self.counters: dict[str, Any] = {
                "token_fetches": 0,
                "stable_token_fetches": 0,
                "api_calls": {},
                "faults_fired": 0,
                "callbacks_sent": 0,
                "callbacks_failed": 0,
            }
            self._seq = 1000

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    # ---- tokens -------------------------------------------------------------------------

    def issue_token(self) -> tuple[str, int]:
        now = time.time()
        with self.lock:
            old = self.current_token
            if old is not None:
                entry = self.tokens[old]
                entry["superseded_at"] = now
                entry["expires_at"] = min(entry["expires_at"], now + self.config.old_token_grace)
            token = secrets.token_urlsafe(96)[:128]
            self.tokens[token] = {"expires_at": now + self.config.token_ttl, "superseded_at": None}
            self.current_token = token
            return token, int(self.config.token_ttl)

    def check_token(self, token: str | None) -> int:
        if not token:
            return 41001
        with self.lock:
            entry = self.tokens.get(token)
        if entry is None:
            return 40001
        if time.time() < entry["expires_at"]:
            return 0
        # A token replaced by a newer fetch stops working after the grace period with 40001;
        # one that simply ran out of time answers 42001.
        return 40001 if entry["superseded_at"] is not None else 42001

    def expire_tokens(self) -> None:
        with self.lock:
            for entry in self.tokens.values():
                entry["expires_at"] = time.time() - 1

    # ---- accounting ---------------------------------------------------------------------

    def count_call(self, endpoint: str) -> int | None:
        """Count the call; return 45009 if the endpoint's daily quota is used up."""
        day = datetime.now(SHANGHAI).date().isoformat()
        with self.lock:
            calls = self.counters["api_calls"]
            calls[endpoint] = calls.get(endpoint, 0) + 1
            key = (day, endpoint)
            self.daily_calls[key] = self.daily_calls.get(key, 0) + 1
            limit = self.config.daily_limits.get(endpoint)
            if limit is not None and self.daily_calls[key] > limit:
                return 45009
        return None

    def take_fault(self, endpoint: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.publish_status is None and fault.matches(endpoint):
                    if fault.count > 0:
                        fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    self.counters["faults_fired"] += 1
                    return fault
        return None

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            if fault.publish_status is not None:
                self.publish_outcomes.extend([fault.publish_status] * max(1, fault.count))
            else:
                self.faults.append(fault)

    # ---- background jobs ----------------------------------------------------------------

    def spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def finish_publish(self, publish_id: str) -> None:
        await asyncio.sleep(self.config.publish_delay)
        with self.lock:
            job = self.publishes[publish_id]
            status = self.publish_outcomes.pop(0) if self.publish_outcomes else 0
            job["publish_status"] = status
            if status == 0:
                article_id = secrets.token_urlsafe(33)
                job["article_id"] = article_id
                self.articles[article_id] = publish_id
                for idx, item in enumerate(job["articles"], start=1):
                    sn = hashlib.md5(f"{article_id}{idx}".encode()).hexdigest()
                    item["url"] = (
                        f"{job['base']}s?__biz=MzAwMDAwMDAwMA==&mid={job['msg_data_id']}&idx={idx}&sn={sn}"
                    )
                    item["is_deleted"] = False
            else:
                job["fail_idx"] = list(range(1, len(job["articles"]) + 1)) if status in (2, 4) else []
            xml = self.publish_event_xml(job)
        await self.push_event(xml, "PUBLISHJOBFINISH")

    def publish_event_xml(self, job: dict[str, Any]) -> str:
        info = f"<publish_id>{job['publish_id']}</publish_id><publish_status>{job['publish_status']}</publish_status>"
        if job["publish_status"] == 0:
            items = "".join(
                f"<item><idx>{i}</idx><article_url>{_cdata(a['url'])}</article_url></item>"
                for i, a in enumerate(job["articles"], start=1)
            )
            info += (
                f"<article_id>{_cdata(job['article_id'])}</article_id>"
                f"<article_detail><count>{len(job['articles'])}</count>{items}</article_detail>"
            )
        else:
            info += "".join(f"<fail_idx>{i}</fail_idx>" for i in job.get("fail_idx", []))
        return self._event_xml("PUBLISHJOBFINISH", f"<PublishEventInfo>{info}</PublishEventInfo>")

    async def finish_mass(self, msg_id: str) -> None:
        # The delay is read again while waiting, so a test can hold a send open for as long as
        # it needs to observe SENDING on a busy machine and then let it finish at once.
        started = time.monotonic()
        while time.monotonic() - started < self.config.mass_delay:
            await asyncio.sleep(0.05)
        with self.lock:
            job = self.mass[msg_id]
            job["msg_status"] = "SEND_SUCCESS"
            total = self.config.followers
            body = (
                f"<MsgID>{msg_id}</MsgID><Status>{_cdata('send success')}</Status>"
                f"<TotalCount>{total}</TotalCount><FilterCount>{total}</FilterCount>"
                f"<SentCount>{total}</SentCount><ErrorCount>0</ErrorCount>"
            )
            xml = self._event_xml("MASSSENDJOBFINISH", body)
        await self.push_event(xml, "MASSSENDJOBFINISH")

    def _event_xml(self, event: str, inner: str) -> str:
        return (
            f"<xml><ToUserName>{_cdata(self.config.ghid)}</ToUserName>"
            f"<FromUserName>{_cdata('mphelper')}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType>{_cdata('event')}</MsgType>"
            f"<Event>{_cdata(event)}</Event>{inner}</xml>"
        )

    def signed_request(self, xml: str) -> tuple[dict[str, str], str]:
        """Query parameters and body of one event push, signed as WeChat signs them."""
        cfg = self.config
        timestamp = str(int(time.time()))
        nonce = str(secrets.randbelow(10**10))
        params = {
            "signature": sha1_signature(cfg.callback_token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": "mphelper",
        }
        if not cfg.aes_key:
            return params, xml
        encrypt = AesCipher(cfg.aes_key, cfg.appid).encrypt(xml)
        params["encrypt_type"] = "aes"
        params["msg_signature"] = sha1_signature(cfg.callback_token, timestamp, nonce, encrypt)
        body = f"<xml><ToUserName>{_cdata(cfg.ghid)}</ToUserName><Encrypt>{_cdata(encrypt)}</Encrypt></xml>"
        return params, body

    async def push_event(self, xml: str, event: str) -> None:
        url = self.config.callback_url
        if not url:
            return
        record: dict[str, Any] = {"event": event, "attempts": 0, "http_status": None, "error": None}
        with self.lock:
            self.callbacks.append(record)
        async with httpx.AsyncClient(timeout=5.0) as client:
            for attempt in range(self.config.callback_attempts):
                # WeChat retries a push that is not answered with 200 within 5 seconds, 3 times in all.
                params, body = self.signed_request(xml)
                record["attempts"] = attempt + 1
                try:
                    res = await client.post(
                        url, params=params, content=body.encode("utf-8"), headers={"Content-Type": "text/xml"}
                    )
                    record["http_status"] = res.status_code
                    if res.status_code == 200:
                        with self.lock:
                            self.counters["callbacks_sent"] += 1
                        return
                except httpx.HTTPError as exc:
                    record["error"] = f"{type(exc).__name__}: {exc}"[:200]
                await asyncio.sleep(self.config.callback_retry_delay)
        with self.lock:
            self.counters["callbacks_failed"] += 1

    # ---- inspection ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            articles = {}
            for article_id, publish_id in self.articles.items():
                job = self.publishes[publish_id]
                articles[article_id] = {
                    "publish_id": publish_id,
                    "items": [
                        {k: a.get(k) for k in ("title", "url", "is_deleted", "content_source_url")}
                        for a in job["articles"]
                    ],
                }
            snap: dict[str, Any] = json.loads(
                json.dumps(
                    {
                        "config": {
                            k: v for k, v in asdict(self.config).items() if k not in ("secret", "aes_key")
                        },
                        "drafts": self.drafts,
                        "publishes": {
                            k: {x: y for x, y in v.items() if x != "base"} for k, v in self.publishes.items()
                        },
                        "articles": articles,
                        "materials": {
                            k: {x: y for x, y in v.items() if x != "data"} for k, v in self.materials.items()
                        },
                        "images": {
                            k: {x: y for x, y in v.items() if x != "data"} for k, v in self.images.items()
                        },
                        "mass": self.mass,
                        "faults": [asdict(f) for f in self.faults],
                        "publish_outcomes": list(self.publish_outcomes),
                        "callbacks": self.callbacks,
                        "delete_log": self.delete_log,
                        "counters": self.counters,
                        "valid_tokens": sum(1 for e in self.tokens.values() if e["expires_at"] > time.time()),
                    }
                )
            )
            return snap


def listed(jobs: list[dict[str, Any]], order: str, seed: int = 0) -> list[dict[str, Any]]:
    """The publications as freepublish/batchget lists them (`publication_order`): newest first
    (ties in the order they were submitted), oldest first, or shuffled — by a hash of the seed
    and the publish_id, so every page of one listing comes from the same order."""
    if order == "oldest":
        return sorted(jobs, key=lambda j: j["create_time"])
    if order == "shuffled":
        return sorted(jobs, key=lambda j: hashlib.sha256(f"{seed}:{j['publish_id']}".encode()).digest())
    if order != "newest":
        raise ValueError(f"publication_order must be newest, oldest or shuffled, not {order!r}")
    return sorted(jobs, key=lambda j: j["create_time"], reverse=True)


async def _json_body(request: Request) -> dict[str, Any] | None:
    # WeChat parses the raw body whatever the Content-Type (wechatpy sends none at all).
    raw = await request.body()
    if not raw:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _sniff(data: bytes) -> str | None:
    if data.startswith(JPEG):
        return "jpg"
    if data.startswith(PNG):
        return "png"
    if data.startswith(GIF):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    return None


def _media_url(request: Request, fmt: str, media_id: str) -> str:
    return f"{request.base_url}mmbiz_{fmt}/{media_id}/0"


def _filter_content(content: str, own_host: str) -> str:
    """What WeChat does to submitted content: scripts stripped, external images removed."""
    soup = BeautifulSoup(content, "html.parser")
    for tag in soup.find_all(["script"]):
        tag.decompose()
    for img in soup.find_all("img"):
        src = str(img.get("src") or "")
        if urlsplit(src).netloc != own_host:
            img.decompose()
    for tag in soup.find_all(True):
        for attr in [a for a in tag.attrs if a.lower().startswith("on")]:
            del tag[attr]
    return str(soup)


Handler = Callable[[Request, WechatStandin], Awaitable[Response]]


def create_app(config: ServerConfig | None = None) -> Starlette:
    standin = WechatStandin(config or ServerConfig())
    cfg = standin.config

    def api(
        endpoint: str, needs_token: bool = True
    ) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
        def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint_handler(request: Request) -> Response:
                quota = standin.count_call(endpoint)  # every request counts, faulted ones too
                fault = standin.take_fault(endpoint)
                if fault is not None:
                    if fault.delay:
                        await asyncio.sleep(fault.delay)
                    if fault.http_status is not None:
                        return PlainTextResponse("injected fault", status_code=fault.http_status)
                    if fault.errcode is not None:
                        return error(fault.errcode, fault.errmsg)
                if quota is not None:
                    return error(quota)
                if needs_token:
                    code = standin.check_token(request.query_params.get("access_token"))
                    if code:
                        return error(code)
                return await handler(request, standin)

            return endpoint_handler

        return wrap

    def credentials(appid: str | None, secret: str | None, grant_type: str | None) -> int:
        if grant_type != "client_credential":
            return 40002
        if not appid:
            return 41002
        if appid != cfg.appid:
            return 40013
        if not secret:
            return 41004
        if not secrets.compare_digest(secret, cfg.secret):
            return 40125
        return 0

    @api("token", needs_token=False)
    async def token(request: Request, s: WechatStandin) -> Response:
        q = request.query_params
        code = credentials(q.get("appid"), q.get("secret"), q.get("grant_type"))
        if code:
            return error(code)
        with s.lock:
            s.counters["token_fetches"] += 1
        value, ttl = s.issue_token()
        return JSONResponse({"access_token": value, "expires_in": ttl})

    @api("stable_token", needs_token=False)
    async def stable_token(request: Request, s: WechatStandin) -> Response:
        body = await _json_body(request)
        if body is None:
            return error(47001)
        code = credentials(body.get("appid"), body.get("secret"), body.get("grant_type"))
        if code:
            return error(code)
        with s.lock:
            s.counters["stable_token_fetches"] += 1
            current = s.current_token
            entry = s.tokens.get(current) if current else None
            if entry and not body.get("force_refresh") and entry["expires_at"] - time.time() > 0:
                return JSONResponse(
                    {"access_token": current, "expires_in": int(entry["expires_at"] - time.time())}
                )
        value, ttl = s.issue_token()
        return JSONResponse({"access_token": value, "expires_in": ttl})

    async def _upload(request: Request) -> bytes | None:
        form = await request.form()
        media = form.get("media")
        if not isinstance(media, UploadFile):
            return None
        return await media.read()

    @api("material/add_material")
    async def add_material(request: Request, s: WechatStandin) -> Response:
        kind = request.query_params.get("type")
        if kind not in ("image", "thumb", "voice", "video"):
            return error(40004)
        data = await _upload(request)
        if data is None:
            return error(41005, "media data missing")
        fmt = _sniff(data)
        if kind == "thumb":
            if fmt != "jpg":
                return error(40005)
            if len(data) > 64 * 1024:
                return error(40009)
        elif kind == "image":
            if fmt is None:
                return error(40005)
            if len(data) > 10 * 1024 * 1024:
                return error(40009)
        else:
            return error(40005)
        media_id = secrets.token_urlsafe(48)[:64]
        url = _media_url(request, fmt, media_id)
        with s.lock:
            s.materials[media_id] = {
                "type": kind,
                "format": fmt,
                "bytes": len(data),
                "url": url,
                "data": data,
            }
        return JSONResponse({"media_id": media_id, "url": url})

    @api("media/uploadimg")
    async def uploadimg(request: Request, s: WechatStandin) -> Response:
        data = await _upload(request)
        if data is None:
            return error(41005, "media data missing")
        fmt = _sniff(data)
        if fmt not in ("jpg", "png"):
            return error(40005)
        if len(data) >= 1024 * 1024:
            return error(40009)
        image_id = secrets.token_urlsafe(48)[:64]
        url = _media_url(request, fmt, image_id)
        with s.lock:
            s.images[image_id] = {"format": fmt, "bytes": len(data), "url": url, "data": data}
        return JSONResponse({"url": url})

    async def serve_media(request: Request) -> Response:
        media_id = request.path_params["media_id"]
        with standin.lock:
            entry = standin.images.get(media_id) or standin.materials.get(media_id)
        if entry is None:
            return PlainTextResponse("not found", status_code=404)
        ctype = "image/png" if entry["format"] == "png" else f"image/{entry['format'].replace('jpg', 'jpeg')}"
        return Response(entry["data"], media_type=ctype)

    def validate_article(article: Any, s: WechatStandin, own_host: str) -> tuple[int, dict[str, Any]]:
        if not isinstance(article, dict):
            return 47001, {}
        title = article.get("title")
        content = article.get("content")
        if not isinstance(title, str) or not title or not isinstance(content, str) or not content:
            return 47001, {}
        if len(title) > 32:
            return 45003, {}
        author = str(article.get("author") or "")
        if len(author) > 16:
            return 45110, {}
        digest = str(article.get("digest") or "")
        if len(digest) > 128:
            return 45004, {}
        if len(content) >= 20_000 or len(content.encode("utf-8")) >= 1024 * 1024:
            return 45002, {}
        source = str(article.get("content_source_url") or "")
        if len(source.encode("utf-8")) > 1024:
            return 45005, {}
        thumb = article.get("thumb_media_id")
        with s.lock:
            material = s.materials.get(str(thumb)) if thumb else None
        if material is None or material["type"] not in ("image", "thumb"):
            return 40007, {}
        return 0, {
            "title": title,
            "author": author,
            "digest": digest,
            "content": _filter_content(content, own_host),
            "content_source_url": source,
            "thumb_media_id": thumb,
            "thumb_url": material["url"],
            "need_open_comment": int(article.get("need_open_comment") or 0),
            "only_fans_can_comment": int(article.get("only_fans_can_comment") or 0),
            "show_cover_pic": int(article.get("show_cover_pic") or 0),
            "url": "",
        }

    @api("draft/add")
    async def draft_add(request: Request, s: WechatStandin) -> Response:
        body = await _json_body(request)
        articles = body.get("articles") if body else None
        if not isinstance(articles, list) or not articles:
            return error(47001 if body is None else 44002)
        if len(articles) > 8:
            return error(45008)
        stored = []
        for article in articles:
            code, item = validate_article(article, s, request.url.netloc)
            if code:
                return error(code)
            stored.append(item)
        media_id = secrets.token_urlsafe(48)[:64]
        now = int(time.time())
        with s.lock:
            s.drafts[media_id] = {"news_item": stored, "create_time": now, "update_time": now}
        return JSONResponse({"media_id": media_id})

    async def _media_id(request: Request) -> tuple[str | None, Response | None]:
        body = await _json_body(request)
        if body is None:
            return None, error(47001)
        media_id = body.get("media_id")
        with standin.lock:
            if not isinstance(media_id, str) or media_id not in standin.drafts:
                return None, error(40007)
        return media_id, None

    @api("draft/get")
    async def draft_get(request: Request, s: WechatStandin) -> Response:
        media_id, err = await _media_id(request)
        if err is not None or media_id is None:
            return err or error(40007)
        with s.lock:
            return JSONResponse({"news_item": s.drafts[media_id]["news_item"]})

    @api("draft/delete")
    async def draft_delete(request: Request, s: WechatStandin) -> Response:
        media_id, err = await _media_id(request)
        if err is not None or media_id is None:
            return err or error(40007)
        with s.lock:
            del s.drafts[media_id]
        return ok()

    @api("draft/count")
    async def draft_count(request: Request, s: WechatStandin) -> Response:
        with s.lock:
            return JSONResponse({"total_count": len(s.drafts)})

    @api("freepublish/submit")
    async def freepublish_submit(request: Request, s: WechatStandin) -> Response:
        media_id, err = await _media_id(request)
        if err is not None or media_id is None:
            return err or error(40007)
        with s.lock:
            # A submitted draft leaves the draft box; its articles live on in the publish job.
            draft = s.drafts.pop(media_id)
            publish_id = str(2247480000 + s._next())
            msg_data_id = s._next()
            s.publishes[publish_id] = {
                "publish_id": publish_id,
                "media_id": media_id,
                "msg_data_id": msg_data_id,
                "publish_status": 1,
                "article_id": None,
                "fail_idx": [],
                "articles": [dict(a) for a in draft["news_item"]],
                "create_time": int(time.time()),
                "base": str(request.base_url),
            }
        s.spawn(s.finish_publish(publish_id))
        return ok(publish_id=publish_id, msg_data_id=msg_data_id)

    @api("freepublish/get")
    async def freepublish_get(request: Request, s: WechatStandin) -> Response:
        body = await _json_body(request)
        if body is None:
            return error(47001)
        with s.lock:
            job = s.publishes.get(str(body.get("publish_id")))
            if job is None:
                return error(40007, "invalid publish_id")
            out: dict[str, Any] = {"publish_id": job["publish_id"], "publish_status": job["publish_status"]}
            if job["publish_status"] == 0:
                out["article_id"] = job["article_id"]
                out["article_detail"] = {
                    "count": len(job["articles"]),
                    "item": [
                        {"idx": i, "article_url": a["url"]} for i, a in enumerate(job["articles"], start=1)
                    ],
                }
            out["fail_idx"] = job["fail_idx"]
            return JSONResponse(out)

    def _job_of(article_id: Any) -> dict[str, Any] | None:
        publish_id = standin.articles.get(str(article_id))
        return standin.publishes.get(publish_id) if publish_id else None

    @api("freepublish/delete")
    async def freepublish_delete(request: Request, s: WechatStandin) -> Response:
        body = await _json_body(request)
        if body is None:
            return error(47001)
        with s.lock:
            s.delete_log.append(body)
            job = _job_of(body.get("article_id"))
            if job is None or job["publish_status"] not in (0, 5):
                return error(53600)
            index = int(body.get("index") or 0)
            items = job["articles"]
            if index < 0 or index > len(items):
                return error(53600, "invalid index")
            # The documented trap: index 0 or no index deletes every article of the publish.
            targets = items if index == 0 else [items[index - 1]]
            for item in targets:
                item["is_deleted"] = True
            if all(a["is_deleted"] for a in items):
                job["publish_status"] = 5
        return ok()

    def _news_items(job: dict[str, Any], no_content: bool) -> list[dict[str, Any]]:
        items = []
        for a in job["articles"]:
            item = {k: v for k, v in a.items() if not (no_content and k == "content")}
            items.append(item)
        return items

    @api("freepublish/getarticle")
    async def freepublish_getarticle(request: Request, s: WechatStandin) -> Response:
        body = await _json_body(request)
        if body is None:
            return error(47001)
        with s.lock:
            job = _job_of(body.get("article_id"))
            if job is None:
                return error(53600)
            return JSONResponse({"news_item": _news_items(job, False)})

    @api("freepublish/batchget")
    async def freepublish_batchget(request: Request, s: WechatStandin) -> Response:
        body = await _json_body(request)
        if body is None:
            return error(47001)
        offset = int(body.get("offset") or 0)
        count = int(body.get("count") or 0)
        if count < 1 or count > 20 or offset < 0:
            return error(40007, "invalid count")
        no_content = bool(body.get("no_content"))
        with s.lock:
            # Fully deleted publishes drop out; the order is `publication_order` (newest first
            # by default, as the account's list shows them, though nothing documents it).
            jobs = listed(
                [j for j in s.publishes.values() if j["publish_status"] == 0],
                cfg.publication_order,
                cfg.publication_seed,
            )
            page = jobs[offset : offset + count]
            return JSONResponse(
                {
                    "total_count": len(jobs),
                    "item_count": len(page),
                    "item": [
                        {
                            "article_id": j["article_id"],
                            # as documented: content holds news_item only, the time is the item's
                            "content": {"news_item": _news_items(j, no_content)},
                            "update_time": j["create_time"],
                        }
                        for j in page
                    ],
                }
            )

    @api("message/mass/sendall")
    async def mass_sendall(request: Request, s: WechatStandin) -> Response:
        body = await _json_body(request)
        if body is None:
            return error(47001)
        if body.get("msgtype") != "mpnews":
            return error(40008, "invalid message type")
        media_id = (body.get("mpnews") or {}).get("media_id")
        today = datetime.now(SHANGHAI).date().isoformat()
        with s.lock:
            if media_id not in s.drafts:
                return error(40007)
            if sum(1 for m in s.mass.values() if m["day"] == today) >= cfg.mass_quota_per_day:
                return error(45028)
            msg_id = str(1000000000 + s._next())
            msg_data_id = s._next()
            s.mass[msg_id] = {
                "msg_id": msg_id,
                "media_id": media_id,
                "day": today,
                "msg_status": "SENDING",
                "filter": body.get("filter"),
                "articles": len(s.drafts[media_id]["news_item"]),
            }
        s.spawn(s.finish_mass(msg_id))
        return JSONResponse(
            {
                "errcode": 0,
                "errmsg": "send job submission success",
                "msg_id": int(msg_id),
                "msg_data_id": msg_data_id,
            }
        )

    @api("message/mass/get")
    async def mass_get(request: Request, s: WechatStandin) -> Response:
        body = await _json_body(request)
        if body is None:
            return error(47001)
        with s.lock:
            job = s.mass.get(str(body.get("msg_id")))
            if job is None:
                return error(40007, "invalid msg_id")
            return JSONResponse({"msg_id": int(job["msg_id"]), "msg_status": job["msg_status"]})

    async def article_page(request: Request) -> Response:
        mid, idx = request.query_params.get("mid"), int(request.query_params.get("idx") or 1)
        with standin.lock:
            for job in standin.publishes.values():
                if (
                    str(job["msg_data_id"]) == mid
                    and job["publish_status"] in (0, 5)
                    and idx <= len(job["articles"])
                ):
                    item = job["articles"][idx - 1]
                    if item.get("is_deleted"):
                        break
                    return HTMLResponse(
                        f"<!doctype html><meta charset=utf-8><title>{item['title']}</title>"
                        f"<p>{BANNER}</p><h1>{item['title']}</h1>{item['content']}"
                    )
        return HTMLResponse("<p>该内容已被发布者删除 / deleted</p>", status_code=404)

    # ---- admin ------------------------------------------------------------------------

    async def admin_faults(request: Request) -> Response:
        if request.method == "DELETE":
            with standin.lock:
                standin.faults.clear()
                standin.publish_outcomes.clear()
            return JSONResponse({"ok": True})
        body = await _json_body(request) or {}
        names = {f.name for f in fields(Fault)}
        fault = Fault(**{k: v for k, v in body.items() if k in names})
        standin.add_fault(fault)
        return JSONResponse({"ok": True, "fault": asdict(fault)})

    async def admin_state(request: Request) -> Response:
        return JSONResponse(standin.snapshot())

    async def admin_expire(request: Request) -> Response:
        standin.expire_tokens()
        return JSONResponse({"ok": True})

    async def admin_config(request: Request) -> Response:
        body = await _json_body(request) or {}
        names = {f.name for f in fields(ServerConfig)}
        with standin.lock:
            for key, value in body.items():
                if key in names:
                    setattr(cfg, key, value)
        return JSONResponse({"ok": True})

    async def admin_reset(request: Request) -> Response:
        standin.reset()
        return JSONResponse({"ok": True})

    async def admin_ban(request: Request) -> Response:
        with standin.lock:
            job = standin.publishes.get(request.path_params["publish_id"])
            if job is None:
                return JSONResponse({"ok": False}, status_code=404)
            job["publish_status"] = 6
        return JSONResponse({"ok": True})

    async def admin_publications(request: Request) -> Response:
        """`count` finished one-article publications of other items (source URLs
        `source_prefix` + n), all older than every publication so far."""
        body = await _json_body(request) or {}
        count = int(body.get("count") or 0)
        prefix = str(body.get("source_prefix") or "http://filler.invalid/items/filler")
        base = str(request.base_url)
        with standin.lock:
            oldest = min((j["create_time"] for j in standin.publishes.values()), default=int(time.time()))
            made = []
            for n in range(count):
                publish_id = str(2247480000 + standin._next())
                msg_data_id = standin._next()
                article_id = secrets.token_urlsafe(33)
                sn = hashlib.md5(f"{article_id}1".encode()).hexdigest()
                standin.publishes[publish_id] = {
                    "publish_id": publish_id,
                    "media_id": None,
                    "msg_data_id": msg_data_id,
                    "publish_status": 0,
                    "article_id": article_id,
                    "fail_idx": [],
                    "articles": [
                        {
                            "title": f"填充文章{n}",
                            "author": "",
                            "digest": "",
                            "content": f"<p>填充文章{n}</p>",
                            "content_source_url": f"{prefix}{n}",
                            "thumb_media_id": "",
                            "thumb_url": "",
                            "need_open_comment": 0,
                            "only_fans_can_comment": 0,
                            "show_cover_pic": 0,
                            "url": f"{base}s?__biz=MzAwMDAwMDAwMA==&mid={msg_data_id}&idx=1&sn={sn}",
                            "is_deleted": False,
                        }
                    ],
                    # one second apart, the newest a minute before the oldest publication so far
                    "create_time": oldest - 60 - (count - n),
                    "base": base,
                }
                standin.articles[article_id] = publish_id
                made.append(publish_id)
        return JSONResponse({"ok": True, "publish_ids": made})

    async def index(request: Request) -> Response:
        return PlainTextResponse(BANNER + "\n")

    routes = [
        Route("/", index),
        Route("/cgi-bin/token", token, methods=["GET"]),
        Route("/cgi-bin/stable_token", stable_token, methods=["POST"]),
        Route("/cgi-bin/material/add_material", add_material, methods=["POST"]),
        Route("/cgi-bin/media/uploadimg", uploadimg, methods=["POST"]),
        Route("/cgi-bin/draft/add", draft_add, methods=["POST"]),
        Route("/cgi-bin/draft/get", draft_get, methods=["POST"]),
        Route("/cgi-bin/draft/delete", draft_delete, methods=["POST"]),
        Route("/cgi-bin/draft/count", draft_count, methods=["GET"]),
        Route("/cgi-bin/freepublish/submit", freepublish_submit, methods=["POST"]),
        Route("/cgi-bin/freepublish/get", freepublish_get, methods=["POST"]),
        Route("/cgi-bin/freepublish/delete", freepublish_delete, methods=["POST"]),
        Route("/cgi-bin/freepublish/getarticle", freepublish_getarticle, methods=["POST"]),
        Route("/cgi-bin/freepublish/batchget", freepublish_batchget, methods=["POST"]),
        Route("/cgi-bin/message/mass/sendall", mass_sendall, methods=["POST"]),
        Route("/cgi-bin/message/mass/get", mass_get, methods=["POST"]),
        Route("/mmbiz_{fmt}/{media_id}/0", serve_media, methods=["GET"]),
        Route("/s", article_page, methods=["GET"]),
        Route("/_admin/faults", admin_faults, methods=["POST", "DELETE"]),
        Route("/_admin/state", admin_state, methods=["GET"]),
        Route("/_admin/expire_tokens", admin_expire, methods=["POST"]),
        Route("/_admin/config", admin_config, methods=["POST"]),
        Route("/_admin/reset", admin_reset, methods=["POST"]),
        Route("/_admin/publishes/{publish_id}/ban", admin_ban, methods=["POST"]),
        Route("/_admin/publications", admin_publications, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.standin = standin
    return app


class RunningServer:
    """A stand-in running in a background thread (for tests and the README's run command)."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.standin: WechatStandin = app.state.standin
        self._server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)
        )
        self._thread = threading.Thread(target=self._server.run, name="wechat-standin", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("WeChat stand-in did not start")
            time.sleep(0.01)
        bound = self._server.servers[0].sockets[0].getsockname()
        self.host, self.port = host, int(bound[1])
        self.base_url = f"http://{host}:{self.port}/"
        self.api_base_url = f"{self.base_url}cgi-bin/"

    @property
    def config(self) -> ServerConfig:
        return self.standin.config

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        res = httpx.request(method, f"{self.base_url}_admin/{path}", json=body, timeout=10)
        res.raise_for_status()
        return res.json()

    def fault(self, **spec: Any) -> None:
        self.admin("POST", "faults", spec)

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("GET", "state")
        return result

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def start_in_thread(
    config: ServerConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningServer:
    return RunningServer(create_app(config), host, port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=BANNER)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--appid", default=ServerConfig.appid)
    parser.add_argument("--secret", default=os.environ.get("WECHAT_STANDIN_SECRET", ServerConfig.secret))
    parser.add_argument("--callback-url", default=None)
    parser.add_argument("--token", default="", help="callback token shared with the account's server config")
    parser.add_argument("--aes-key", default=None, help="EncodingAESKey (43 characters): safe mode")
    parser.add_argument("--publish-delay", type=float, default=ServerConfig.publish_delay)
    parser.add_argument("--token-ttl", type=float, default=ServerConfig.token_ttl)
    parser.add_argument(
        "--publication-order",
        choices=("newest", "oldest", "shuffled"),
        default=ServerConfig.publication_order,
        help="the order freepublish/batchget lists publications in (WeChat documents none)",
    )
    args = parser.parse_args(argv)
    config = ServerConfig(
        appid=args.appid,
        secret=args.secret,
        callback_url=args.callback_url,
        callback_token=args.token,
        aes_key=args.aes_key,
        publish_delay=args.publish_delay,
        token_ttl=args.token_ttl,
        publication_order=args.publication_order,
    )
    line = "=" * len(BANNER)
    print(f"{line}\n{BANNER}\n{line}", flush=True)
    print(
        f"API base: http://{args.host}:{args.port}/cgi-bin/  appid={config.appid}  "
        f"callback={config.callback_url or '(none)'}  mode={'aes' if config.aes_key else 'plain'}",
        flush=True,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
