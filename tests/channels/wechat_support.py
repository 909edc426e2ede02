"""Fixtures for the WeChat tests: the local stand-in, an image host, a callback receiver,
and channels sharing one Redis (db 5, a per-test key prefix flushed afterwards).

Redis (127.0.0.1:6379, or PUBLISHER_TEST_REDIS) is required: without it these tests fail, they never skip.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import redis
from PIL import Image

from channels.base import ChannelContext, MemoryCheckpoints, MemoryValues
from channels.egress import EgressSettings
from channels.standins.wechat_server import RunningServer, ServerConfig, start_in_thread
from channels.wechat import WechatChannel, WechatSettings
from publisher.domain.item import Operation, VersionView
from tests.conftest import redis_url

# Test modules star-import these fixtures (pytest finds fixtures by name in the module).
__all__ = ["image_host", "make_channel", "receiver", "redis_prefix", "wechat"]

REDIS_URL = redis_url(5)
CALLBACK_TOKEN = "callback-token-for-tests"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters


def picture(
    fmt: str,
    size: tuple[int, int] = (320, 200),
    colour: tuple[int, int, int] = (30, 120, 200),
    noise: bool = False,
) -> bytes:
    image = Image.new("RGB", size, colour)
    if noise:
        image = Image.effect_noise(size, 90).convert("RGB")
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


@dataclass
class ImageHost:
    """Serves test images over real HTTP; `routes` maps a path to (status, headers, body)."""

    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"


@dataclass
class Push:
    query: dict[str, str]
    body: bytes


@dataclass
class CallbackReceiver:
    pushes: list[Push] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/wechat/callback"


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that stops reading an oversized image is expected, not news


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    host = ImageHost()
    host.routes.update(
        {
            "/img/chart.png": (200, {"Content-Type": "image/png"}, picture("PNG")),
            "/img/photo.jpg": (200, {"Content-Type": "image/jpeg"}, picture("JPEG", colour=(200, 90, 20))),
            "/img/cover.jpg": (200, {"Content-Type": "image/jpeg"}, picture("JPEG", (1600, 680), noise=True)),
            "/img/anim.gif": (200, {"Content-Type": "image/gif"}, picture("GIF")),
            "/img/huge.png": (200, {"Content-Type": "image/png"}, picture("PNG", (1800, 1800), noise=True)),
            "/img/fake.jpg": (200, {"Content-Type": "image/jpeg"}, b"<html>not an image</html>"),
            "/img/page": (200, {"Content-Type": "text/html"}, b"<html></html>"),
            "/img/moved.png": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
            "/img/missing.png": (404, {"Content-Type": "text/plain"}, b"not found"),
        }
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            host.hits.append(self.path)
            status, headers, body = host.routes.get(self.path, (404, {}, b"not found"))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server, thread = _serve(Handler)
    host.port = server.server_address[1]
    yield host
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    rec = CallbackReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            rec.pushes.append(Push(dict(parse_qsl(urlsplit(self.path).query)), body))
            self.send_response(200)
            self.send_header("Content-Length", "7")
            self.end_headers()
            self.wfile.write(b"success")
            rec.arrived.set()

        def log_message(self, *args: Any) -> None:
            pass

    server, thread = _serve(Handler)
    rec.port = server.server_address[1]
    yield rec
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def wechat() -> Iterator[RunningServer]:
    server = start_in_thread(
        ServerConfig(
            publish_delay=0.3, mass_delay=0.2, callback_token=CALLBACK_TOKEN, callback_retry_delay=0.1
        )
    )
    yield server
    server.stop()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    client: redis.Redis[bytes] = redis.Redis.from_url(REDIS_URL)
    client.ping()  # no Redis: fail here, loudly
    prefix = f"test:wechat:{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


ChannelFactory = Callable[..., WechatChannel]


@pytest.fixture
def make_channel(wechat: RunningServer, image_host: ImageHost, redis_prefix: str) -> Iterator[ChannelFactory]:
    made: list[WechatChannel] = []
    # channels made with one key_prefix share their checkpoints and values, as the workers of
    # one deployment share the database; another prefix is another deployment
    stores: dict[str, tuple[MemoryCheckpoints, MemoryValues]] = {}

    def factory(**overrides: Any) -> WechatChannel:
        values: dict[str, Any] = dict(
            enabled=True,
            api_base_url=wechat.api_base_url,
            appid=wechat.config.appid,
            secret=wechat.config.secret,
            callback_token=CALLBACK_TOKEN,
            allowed_image_hosts=[image_host.netloc],
            key_prefix=redis_prefix,
            read_timeout=5.0,
        )
        values.update(overrides)
        checkpoints, shared = stores.setdefault(
            str(values["key_prefix"]), (MemoryCheckpoints(), MemoryValues())
        )
        context = ChannelContext(
            public_base_url="http://127.0.0.1:8000",
            data_dir=Path("/tmp"),
            agency_name="上海市财政局",
            checkpoints=checkpoints,
            shared=shared,
            # the test image host is on loopback: allow-listed as an operator would
            egress=EgressSettings(allow_hosts=frozenset({image_host.netloc})),
        )
        channel = WechatChannel(WechatSettings.model_validate(values), context)
        made.append(channel)
        return channel

    yield factory
    for channel in made:
        channel.close()


def submit_and_lose_the_answer(channel: WechatChannel, version: VersionView, key: str) -> None:
    """What an attempt leaves behind when freepublish/submit went through but its answer
    never arrived: the draft, the saved progress marked submitting, no publish_id."""
    payload = channel.render(version, Operation.PUBLISH)
    progress: dict[str, Any] = {}
    article = channel.prepare_article(payload.body, progress, lambda: None)
    progress["media_id"] = str(
        channel.api.post("draft/add", "draft/add", {"articles": [article]})["media_id"]
    )
    progress["submitting"] = True
    progress["submitted_at"] = int(time.time()) - 5
    channel.save_progress(key, progress)
    channel.api.post("freepublish/submit", "freepublish/submit", {"media_id": progress["media_id"]})
