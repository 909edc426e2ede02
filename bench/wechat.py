"""WeChat articles per second through the ledger against the local WeChat stand-in, beside a
baseline of bare wechatpy calls doing the same uploads and publishes in the same run (issue #6).

    .venv/bin/python bench/wechat.py [--articles 30] [--rounds 3] [--threads 4] [--db sqlite]

Each article has its own cover and two in-article images (all distinct, so the adapter's
image cache never saves an upload), a table and a link. Per article both paths fetch the three
images from a local image host, upload the cover (material/add_material) and the two images
(media/uploadimg), add the draft and submit it (freepublish/submit): five WeChat calls.

- ledger: items approved beforehand (deliveries queued), then the embedded executor is
  started with `--threads` workers; timed until every delivery is `accepted` (claim, render,
  send, record in the store). The stand-in pushes no callbacks in this run, as in the baseline.
- baseline: the same work with wechatpy on `--threads` threads, each with its own client and
  a token fetched once; no store, no Redis, no HTML transform, images passed through as-is.
- info: a third run of the ledger, timed until every delivery is `delivered` by the
  stand-in's signed PUBLISHJOBFINISH pushed to the app's /callbacks/wechat (served by
  uvicorn in this process); the baseline has no equivalent, so this figure has no target.

The stand-in runs as a subprocess (python -m channels.standins.wechat_server), so its work
does not compete for this process's GIL. Target: ledger >= 0.8x the baseline.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import redis  # noqa: E402
import uvicorn  # noqa: E402
from PIL import Image  # noqa: E402
from wechatpy import WeChatClient  # noqa: E402

from bench._common import (  # noqa: E402
    WECHAT_APPID,
    WECHAT_REDIS_URL,
    WECHAT_SECRET,
    WechatStandin,
    median,
    report,
    scratch_database,
    wait_deliveries,
)
from publisher.delivery.executor import EmbeddedExecutor  # noqa: E402
from publisher.runtime import Runtime, build_runtime, use_executor  # noqa: E402
from publisher.settings import Settings  # noqa: E402
from publisher.web import create_app  # noqa: E402


def picture(fmt: str, size: tuple[int, int], n: int) -> bytes:
    image = Image.new("RGB", size, ((n * 37) % 256, (n * 91) % 256, (n * 53) % 256))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


class ImageHost:
    """Serves every article's cover and images over real HTTP."""

    def __init__(self, images: dict[str, tuple[str, bytes]]) -> None:
        routes = images

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                ctype, body = routes.get(self.path, ("text/plain", b""))
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.netloc = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class App:
    """create_app(runtime) under uvicorn on a free port, for the stand-in's pushes."""

    def __init__(self, rt: Runtime) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.sock = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(rt), log_level="warning", lifespan="off", access_log=False)
        )
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def article_body(host: ImageHost, tag: str) -> str:
    return (
        f"<h2>一、总体要求</h2><p>坚持公开为常态、不公开为例外。基准{tag}。</p>"
        f'<p><img src="{host.url(f"/{tag}/chart.png")}" alt="图表"></p>'
        "<table><thead><tr><th>项目</th><th>金额（万元）</th></tr></thead>"
        "<tbody><tr><td>一般公共预算</td><td>1,200</td></tr></tbody></table>"
        f'<p><img src="{host.url(f"/{tag}/photo.jpg")}" alt="现场"></p>'
        '<p>详见<a href="https://www.gov.cn/zhengce/">条例全文</a>。</p>' + "<p>正文段落。</p>" * 20
    )


def images_for(tags: list[str], start: int) -> dict[str, tuple[str, bytes]]:
    out: dict[str, tuple[str, bytes]] = {}
    for n, tag in enumerate(tags, start=start):
        out[f"/{tag}/cover.jpg"] = ("image/jpeg", picture("JPEG", (900, 383), n))
        out[f"/{tag}/chart.png"] = ("image/png", picture("PNG", (320, 200), n + 1))
        out[f"/{tag}/photo.jpg"] = ("image/jpeg", picture("JPEG", (320, 200), n + 2))
    return out


def ledger_round(
    settings: Settings,
    host: ImageHost,
    standin: WechatStandin,
    tags: list[str],
    threads: int,
    callbacks: bool,
) -> tuple[float, float]:
    """Articles per second through the ledger: to `accepted`, or with `callbacks` to
    `delivered` by the stand-in's pushes to the app."""
    rt = build_runtime(settings)
    app = App(rt) if callbacks else None
    standin.admin("POST", "config", {"callback_url": f"{app.url}/callbacks/wechat" if app else None})
    try:
        svc = rt.service
        editor, _ = svc.add_user(f"e{uuid.uuid4().hex[:6]}", "editor")
        reviewer, _ = svc.add_user(f"r{uuid.uuid4().hex[:6]}", "reviewer")
        approver, _ = svc.add_user(f"a{uuid.uuid4().hex[:6]}", "approver")
        for tag in tags:
            uid = svc.create_item(
                editor,
                {
                    "type": "policy",
                    "title": f"关于规范预算管理的通知{tag}",
                    "issue_date": "2026-11-20",
                    "subject": "财政\\预算",
                    "description": "基准测试。",
                    "body_html": article_body(host, tag),
                    "cover_url": host.url(f"/{tag}/cover.jpg"),
                },
            ).uid
            svc.submit(editor, uid)
            svc.review(reviewer, uid)
            svc.approve(approver, uid)  # no executor yet: the deliveries wait, queued
        t0, c0 = time.perf_counter(), time.process_time()
        use_executor(rt, EmbeddedExecutor(rt.engine, threads_per_channel=threads, sweep_interval=0.05))
        rt.start()
        states = ("delivered",) if callbacks else ("accepted", "delivered")
        wait_deliveries(rt, len(tags), states, bad=("failed", "held", "retry_wait"), timeout=300)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        if app is not None:
            app.stop()
        rt.close()
    return len(tags) / elapsed, cpu * 1000 / len(tags)


def baseline_round(
    host: ImageHost, standin: WechatStandin, tags: list[str], threads: int
) -> tuple[float, float]:
    """The same fetches, uploads, drafts and submits with bare wechatpy, articles per second."""
    local = threading.local()
    fetch = httpx.Client(timeout=20)

    def client() -> WeChatClient:
        if not hasattr(local, "client"):
            token = httpx.get(
                f"{standin.base}cgi-bin/token",
                params={"grant_type": "client_credential", "appid": WECHAT_APPID, "secret": WECHAT_SECRET},
                timeout=20,
            ).json()
            c = WeChatClient(
                WECHAT_APPID, WECHAT_SECRET, access_token=token["access_token"], timeout=20, auto_retry=False
            )
            c.API_BASE_URL = f"{standin.base}cgi-bin/"
            local.client = c
        result: WeChatClient = local.client
        return result

    def one(tag: str) -> None:
        c = client()
        cover = fetch.get(host.url(f"/{tag}/cover.jpg")).content
        thumb = c.material.add("image", ("cover.jpg", cover, "image/jpeg"))["media_id"]
        content = article_body(host, tag)
        for path, ctype in ((f"/{tag}/chart.png", "image/png"), (f"/{tag}/photo.jpg", "image/jpeg")):
            data = fetch.get(host.url(path)).content
            hosted = c.media.upload_image(("image" + path[-4:], data, ctype))
            content = content.replace(host.url(path), hosted)
        media_id = c.post(
            "draft/add",
            data={
                "articles": [
                    {
                        "title": f"关于规范预算管理的通知{tag}",
                        "author": "上海市财政局",
                        "digest": "基准测试。",
                        "content": content,
                        "content_source_url": f"http://127.0.0.1:8000/items/{tag}",
                        "thumb_media_id": thumb,
                        "need_open_comment": 0,
                        "only_fans_can_comment": 0,
                    }
                ]
            },
        )["media_id"]
        c.post("freepublish/submit", data={"media_id": media_id})

    try:
        t0, c0 = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, tags))
        return len(tags) / (time.perf_counter() - t0), (time.process_time() - c0) * 1000 / len(tags)
    finally:
        fetch.close()


def clean_redis(prefix: str) -> None:
    client: redis.Redis[bytes] = redis.Redis.from_url(WECHAT_REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def run(kind: str, articles: int, rounds: int, threads: int) -> dict[str, float]:
    prefix = f"bench:wechat:{uuid.uuid4().hex[:10]}"
    all_tags = [[f"r{r}{side}{i:03d}" for i in range(articles)] for r in range(rounds) for side in "lbc"]
    images: dict[str, tuple[str, bytes]] = {}
    for n, tags in enumerate(all_tags):
        images.update(images_for(tags, n * articles * 3))
    host, standin = ImageHost(images), WechatStandin()
    ours, delivered, base, ours_cpu, base_cpu = [], [], [], [], []
    try:
        for r in range(rounds):
            with scratch_database(kind) as url:  # a fresh store per round: counts start at zero
                section = standin.section(
                    prefix, allowed_image_hosts=[host.netloc], confirm_interval_seconds=3600
                )
                # the image host is on loopback (allow-listed as an operator would); the body's
                # gov.cn link is unreachable offline, so the approval's link probe is off
                settings = Settings(
                    database={"url": url},
                    egress={"allow_hosts": [host.netloc]},
                    checks={"links": False},
                ).replace(channels={"wechat": section})
                standin.admin("POST", "reset")
                rate, cpu = ledger_round(settings, host, standin, all_tags[3 * r], threads, callbacks=False)
                ours.append(rate)
                ours_cpu.append(cpu)
            standin.admin("POST", "reset")
            rate, cpu = baseline_round(host, standin, all_tags[3 * r + 1], threads)
            base.append(rate)
            base_cpu.append(cpu)
            with scratch_database(kind) as url:
                # A push that overtakes the record of `accepted` finds nothing to confirm (the
                # stand-in finishes jobs in 50 ms, WeChat in minutes): polling is the fallback.
                section = {**section, "confirm_interval_seconds": 1.0}
                settings = settings.replace(database={"url": url}, channels={"wechat": section})
                standin.admin("POST", "reset")
                delivered.append(
                    ledger_round(settings, host, standin, all_tags[3 * r + 2], threads, callbacks=True)[0]
                )
            print(
                f"round {r + 1}: ledger {ours[-1]:.1f}/s accepted ({ours_cpu[-1]:.0f} ms CPU each), bare "
                f"wechatpy {base[-1]:.1f}/s ({base_cpu[-1]:.0f} ms CPU each); ledger {delivered[-1]:.1f}/s "
                "delivered by callback",
                flush=True,
            )
    finally:
        standin.stop()
        host.stop()
        clean_redis(prefix)
    return {
        "ours": median(ours),
        "base": median(base),
        "delivered": median(delivered),
        "ours_cpu": median(ours_cpu),
        "base_cpu": median(base_cpu),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--db", default="sqlite")
    args = ap.parse_args()
    rows = []
    for kind in args.db.split(","):
        m = run(kind, args.articles, args.rounds, args.threads)
        rows.append(
            (
                f"articles/s to accepted ({kind}, {args.threads} threads)",
                f"{m['ours']:.1f}",
                f"{m['base']:.1f}",
                f"{m['ours'] / m['base']:.2f}x",
                ">= 0.8x",
            )
        )
        rows.append(
            (
                "CPU ms per article in this process",
                f"{m['ours_cpu']:.0f}",
                f"{m['base_cpu']:.0f}",
                f"{m['ours_cpu'] / m['base_cpu']:.2f}x",
                "(info)",
            )
        )
        rows.append(
            (f"articles/s to delivered by callback ({kind})", f"{m['delivered']:.1f}", "-", "-", "(info)")
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    report(rows)


if __name__ == "__main__":
    main()
