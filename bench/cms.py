"""CMS deliveries per second to the real local WordPress through the ledger, beside a
baseline of bare httpx POSTs creating the same posts in the same run (issue #5).

    .venv/bin/python bench/cms.py [--posts 20] [--rounds 3] [--threads 4] [--db sqlite]

WordPress is the one from scripts/setup-wordpress.sh (started here when it does not answer;
credentials in $WP_STATE_DIR/wp.env, default /var/lib/publisher-wp/wp.env).

- ledger: items approved beforehand (deliveries queued), then the embedded executor is
  started with `--threads` workers and timed until every delivery is `delivered`. A worker
  takes up to the channel's batch_size (10) queued deliveries at once; the adapter writes
  their posts in one WordPress `/batch/v1` request (the plugin's idempotent create by uid:
  no lookup first) and, with `verify_live` (the default), fetches every public permalink
  to check it is live (up to 4 at once): one request per post plus one per batch. The
  default `live_check = "light"` asks the plugin (version 3) for the title-only answer on
  the permalink; `live_check = "full"` (shown for information) renders the theme page.
- baseline: the same posts (content, excerpt, category, tags, meta copied from a post the
  ledger made) created with one bare `httpx` POST /posts each, on `--threads` threads.
- the ledger again with `live_check = "full"` and with `verify_live = false` (the batch
  write alone), to show what the live check costs: rendering the theme page costs WordPress
  about as much as creating the post, the light answer about half (bare GETs of the
  baseline's permalinks, both ways, measure it in the same run).

Every post made here is force-deleted at the end. Target: ledger >= 0.8x the baseline.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench._common import median, report, scratch_database, wait_deliveries  # noqa: E402
from publisher.delivery.executor import EmbeddedExecutor  # noqa: E402
from publisher.runtime import build_runtime, use_executor  # noqa: E402
from publisher.settings import Settings  # noqa: E402
from publisher.store.models import Delivery  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = Path(os.environ.get("WP_STATE_DIR", "/var/lib/publisher-wp"))
PASSWORD_ENV = "PUBLISHER_BENCH_WP_APP_PASSWORD"
BODY = (
    "<h2>一、总体要求</h2>"
    + "<p>坚持公开为常态、不公开为例外，规范财政资金管理。</p>" * 12
    + (
        "<table><thead><tr><th>项目</th><th>金额（万元）</th></tr></thead>"
        "<tbody><tr><td>一般公共预算</td><td>1,200</td></tr></tbody></table>"
    )
)


def wordpress() -> dict[str, str]:
    env_file = STATE_DIR / "wp.env"

    def read() -> dict[str, str]:
        return dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)

    try:
        wp = read()
        httpx.get(wp["WP_URL"] + "/wp-json/", timeout=10).raise_for_status()
        return wp
    except (OSError, KeyError, httpx.HTTPError):
        pass
    run = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup-wordpress.sh"), "start"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if run.returncode != 0:
        raise SystemExit(f"WordPress could not be started:\n{run.stdout[-1500:]}\n{run.stderr[-1500:]}")
    return read()


def retrying(call: Any, *args: Any, **kwargs: Any) -> httpx.Response:
    """Apache drops idle keep-alive connections under load: repeat an admin call twice."""
    for attempt in range(3):
        try:
            response: httpx.Response = call(*args, **kwargs)
            return response
        except httpx.TransportError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


class Posts:
    """Every post this bench made, force-deleted at the end."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api
        self.ids: list[int] = []
        self.lock = threading.Lock()

    def add(self, post_id: int) -> None:
        with self.lock:
            self.ids.append(post_id)

    def delete_all(self, marker: str) -> int:
        """The posts recorded, and any other whose title carries this run's `marker` (a post
        whose creation answer was lost)."""
        ids = set(self.ids)
        for status in ("publish", "draft", "trash"):
            found = retrying(
                self.api.get,
                "/posts",
                params={
                    "search": marker,
                    "status": status,
                    "per_page": 100,
                    "context": "edit",
                    "_fields": "id,title",
                },
            )
            if found.status_code == 200:
                ids |= {int(p["id"]) for p in found.json() if marker in p["title"]["raw"]}
        deleted = 0
        for post_id in sorted(ids):
            if retrying(self.api.delete, f"/posts/{post_id}", params={"force": "true"}).status_code == 200:
                deleted += 1
        return deleted


def ledger_round(
    kind: str, wp: dict[str, str], posts: Posts, n: int, threads: int, live: str, tag: str
) -> float:
    """`live`: "light" or "full" (the live check done that way) or "off" (`verify_live = false`)."""
    with scratch_database(kind) as url:
        section = {
            "enabled": True,
            "base_url": wp["WP_URL"],
            "user": wp["WP_USER"],
            "app_password_env": PASSWORD_ENV,
            "verify_live": live != "off",
            "live_check": "full" if live == "full" else "light",
            "retry": {"base_seconds": 0.2, "max_attempts": 5},
        }
        rt = build_runtime(Settings(database={"url": url}).replace(channels={"cms": section}))
        try:
            svc = rt.service
            editor, _ = svc.add_user("bench-editor", "editor")
            reviewer, _ = svc.add_user("bench-reviewer", "reviewer")
            approver, _ = svc.add_user("bench-approver", "approver")
            for i in range(n):
                uid = svc.create_item(
                    editor,
                    {
                        "type": "policy",
                        "title": f"关于规范财政资金管理的通知（{tag}-{i:03d}）",
                        "issue_date": "2026-11-20",
                        "doc_number": f"沪财预[2026]{i + 1}号",
                        "subject": "财政\\预算",
                        "description": "规范财政资金管理。",
                        "body_html": BODY,
                    },
                ).uid
                svc.submit(editor, uid)
                svc.review(reviewer, uid)
                svc.approve(approver, uid)  # no executor yet: the deliveries wait, queued
            t0 = time.perf_counter()
            use_executor(rt, EmbeddedExecutor(rt.engine, threads_per_channel=threads, sweep_interval=0.05))
            rt.start()
            wait_deliveries(rt, n)
            elapsed = time.perf_counter() - t0
        finally:
            rt.close()
            with rt.db.reader() as s:  # also after a failed round: nothing is left behind
                for external_id in s.execute(select(Delivery.external_id)).scalars():
                    if external_id:
                        posts.add(int(external_id))
    return n / elapsed


def baseline_round(
    api: httpx.Client,
    template: dict[str, Any],
    posts: Posts,
    n: int,
    threads: int,
    tag: str,
    links: list[str],
) -> float:
    """The same posts with one bare POST /posts each (one client per thread)."""
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=str(api.base_url), auth=api.auth, timeout=60)
            made.append(local.client)
        result: httpx.Client = local.client
        return result

    def one(i: int) -> None:
        uid = f"bench-bare-{tag}-{i:03d}"
        data = {
            **template,
            "title": f"关于规范财政资金管理的通知（{tag}-{i:03d}）",
            "meta": {**template["meta"], "publisher_uid": uid},
        }
        for attempt in range(3):  # the bare client may retry a dropped connection too
            try:
                response = client().post("/posts", json=data)
                break
            except httpx.TransportError:
                if attempt == 2:
                    raise
        response.raise_for_status()
        posts.add(int(response.json()["id"]))
        links.append(str(response.json()["link"]))

    made: list[httpx.Client] = []
    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(n)))
        return n / (time.perf_counter() - t0)
    finally:
        for c in made:
            c.close()


def pages_round(links: list[str], threads: int, light: bool) -> float:
    """Bare GETs of public permalinks, one client per thread: what a live check costs (the
    themed page, or with `light` the plugin's title-only answer)."""
    headers = {"X-Publisher-Live-Check": "1"} if light else {}
    local = threading.local()
    made: list[httpx.Client] = []

    def one(link: str) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=60)
            made.append(local.client)
        response = local.client.get(link, headers=headers)
        response.raise_for_status()
        if light and "X-Publisher-Live-Check" not in response.headers:
            raise SystemExit(
                "the light live check needs the must-use plugin version 3: run scripts/setup-wordpress.sh"
            )

    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, links))
        return len(links) / (time.perf_counter() - t0)
    finally:
        for c in made:
            c.close()


def template_from(api: httpx.Client, post_id: int) -> dict[str, Any]:
    """What the adapter wrote, as a plain REST body: content, excerpt, terms and meta."""
    post = retrying(api.get, f"/posts/{post_id}", params={"context": "edit"}).json()
    return {
        "status": "publish",
        "content": post["content"]["raw"],
        "excerpt": post["excerpt"]["raw"],
        "categories": post["categories"],
        "tags": post["tags"],
        "meta": dict(post["meta"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--db", default="sqlite")
    args = ap.parse_args()
    wp = wordpress()
    os.environ[PASSWORD_ENV] = wp["WP_APP_PASSWORD"]
    api = httpx.Client(
        base_url=wp["WP_URL"] + "/wp-json/wp/v2", auth=(wp["WP_USER"], wp["WP_APP_PASSWORD"]), timeout=60
    )
    posts = Posts(api)
    marker = f"基准{uuid.uuid4().hex[:6]}"
    rows = []
    try:
        for kind in args.db.split(","):
            ours, bare, full, quick, pages, lights = [], [], [], [], [], []
            for r in range(args.rounds):
                run = f"{marker}{kind[0]}{r}"
                ours.append(ledger_round(kind, wp, posts, args.posts, args.threads, "light", f"{run}L"))
                links: list[str] = []
                bare.append(
                    baseline_round(
                        api,
                        template_from(api, posts.ids[-1]),
                        posts,
                        args.posts,
                        args.threads,
                        f"{run}B",
                        links,
                    )
                )
                pages.append(pages_round(links, args.threads, light=False))
                lights.append(pages_round(links, args.threads, light=True))
                full.append(ledger_round(kind, wp, posts, args.posts, args.threads, "full", f"{run}F"))
                quick.append(ledger_round(kind, wp, posts, args.posts, args.threads, "off", f"{run}Q"))
                print(
                    f"round {r + 1}: ledger {ours[-1]:.1f}/s (light live check), bare POST {bare[-1]:.1f}/s, "
                    f"ledger {full[-1]:.1f}/s (full page check), ledger {quick[-1]:.1f}/s (verify_live = false), "
                    f"bare GETs {pages[-1]:.1f}/s themed page, {lights[-1]:.1f}/s light",
                    flush=True,
                )
            o, b, f, q = median(ours), median(bare), median(full), median(quick)
            g, lg = median(pages), median(lights)
            rows.append(
                (
                    f"deliveries/s ({kind}, {args.threads} threads, verify_live, light check)",
                    f"{o:.1f}",
                    f"{b:.1f}",
                    f"{o / b:.2f}x",
                    ">= 0.8x",
                )
            )
            rows.append(
                (
                    f"deliveries/s ({kind}, live_check = full)",
                    f"{f:.1f}",
                    f"{b:.1f}",
                    f"{f / b:.2f}x",
                    "(info)",
                )
            )
            rows.append(
                (
                    f"deliveries/s ({kind}, verify_live = false)",
                    f"{q:.1f}",
                    f"{b:.1f}",
                    f"{q / b:.2f}x",
                    "(info)",
                )
            )
            rows.append(
                (
                    "themed page GETs/s (the full check alone, bare)",
                    f"{g:.1f}",
                    f"{b:.1f}",
                    f"{g / b:.2f}x",
                    "(info)",
                )
            )
            rows.append(
                (
                    "light check GETs/s (the light check alone, bare)",
                    f"{lg:.1f}",
                    f"{b:.1f}",
                    f"{lg / b:.2f}x",
                    "(info)",
                )
            )
    finally:
        deleted = posts.delete_all(marker)
        api.close()
        print(f"cleaned up: {deleted} posts force-deleted ({len(posts.ids)} recorded)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    report(rows)


if __name__ == "__main__":
    main()
