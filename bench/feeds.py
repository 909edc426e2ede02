"""Feed benchmark: regeneration cost against archive size, and serving speed.

    .venv/bin/python bench/feeds.py              # default run, about a minute
    .venv/bin/python bench/feeds.py --quick      # 10,000 instead of 100,000, short HTTP runs

1. Regeneration: the rss channel's own store is filled with 100 and with 100,000 entries
   (bulk insert), then new items are published one by one through `send()` (store upsert +
   regeneration of every affected feed, RSS and Atom, + index.json). Every archive entry has
   the same type and subject class as the new items, so each affected feed is full (50
   entries) in both cases: the comparison isolates archive size. Target: within 1.5x.
2. Serving: one uvicorn process serves `publisher.web.feeds` plus two baselines of the same
   size from the same app: a Starlette FileResponse of the same file ("static file") and a
   bytes Response built once. A separate load generator (wrk when installed, else a
   multi-threaded http.client process) runs for a bounded time per scenario.
   Target: cached feed >= 0.8x the static-file baseline.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import free_port, report  # noqa: E402
from channels.base import ChannelContext, Operation  # noqa: E402
from channels.rss import RssChannel, render_entry  # noqa: E402
from channels.rss.entry import feed_labels  # noqa: E402
from publisher.domain.item import ItemType, VersionView  # noqa: E402

BASE = "http://127.0.0.1:8000"
SUBJECT = "财政\\预算"
BODY = "<p>" + "根据《中华人民共和国预算法》和本市预算管理有关规定，现将有关事项通知如下。" * 12 + "</p>"


def make_view(n: int, body: str = BODY) -> VersionView:
    uid = f"01jbench{n:018d}"
    at = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    return VersionView(
        uid=uid,
        version=1,
        content_hash="0" * 64,
        type=ItemType.POLICY,
        title=f"关于做好{n}号财政预算管理工作的通知",
        short_title=None,
        issuing_body="上海市财政局",
        issue_date=at.date(),
        doc_number=f"沪财预〔2020〕{n + 1}号",
        index_number=f"AB1900010-2020-{n % 100000:05d}",
        subject=SUBJECT,
        disclosure="主动公开",
        scope="面向社会",
        validity="有效",
        validity_changed_on=None,
        abolished_by=None,
        keywords=("预算",),
        description=f"第{n}号通知：规范预算管理。",
        body_html=body,
        attachments=(),
        cover_url=None,
        interprets=None,
        interpreted_by=(),
        release_group=None,
        published_at=at,
        created_at=at,
        public_url=f"{BASE}/items/{uid}",
        structured={},
    )


def channel_in(folder: Path) -> RssChannel:
    context = ChannelContext(
        public_base_url=BASE, data_dir=folder / "channels" / "rss", agency_name="上海市财政局"
    )
    channel = RssChannel.from_config({"enabled": True}, context)
    assert isinstance(channel, RssChannel)
    return channel


def fill(channel: RssChannel, count: int) -> float:
    started = time.perf_counter()
    template = render_entry(make_view(0), Operation.PUBLISH)
    feeds = feed_labels(template["type"], template["subject"])

    def entries() -> Any:
        for n in range(count):
            # entries differ in what the index and the feed need; the body is shared
            at = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
            uid = f"01jbench{n:018d}"
            e = dict(
                template,
                uid=uid,
                id=f"{BASE}/items/{uid}",
                link=f"{BASE}/items/{uid}",
                title=f"关于做好{n}号财政预算管理工作的通知",
                published=at.isoformat(),
                updated=at.isoformat(),
            )
            yield e, feeds

    channel.store.bulk_load(entries(), now=time.time())
    channel.rebuild_all()
    return time.perf_counter() - started


def regeneration(
    sizes: tuple[int, int], publishes: int
) -> tuple[dict[int, list[float]], dict[int, float], Path]:
    """Fill one store per size, then publish into them alternately, so disk and CPU noise from
    neighbours falls on both sizes alike."""
    channels, fills = {}, {}
    for count in sizes:
        folder = Path(tempfile.mkdtemp(prefix=f"feeds-bench-{count}-"))
        channels[count] = channel_in(folder)
        fills[count] = fill(channels[count], count)
        print(f"filled {count:,} entries in {fills[count]:.1f} s", flush=True)
    times: dict[int, list[float]] = {count: [] for count in sizes}
    for i in range(publishes):
        for count, channel in channels.items():
            payload = channel.render(make_view(10_000_000 + i), Operation.PUBLISH)
            started = time.perf_counter()
            receipt = channel.send(payload, key=f"bench-{i}")
            times[count].append(time.perf_counter() - started)
            assert len(receipt.data["written"]) == 4, receipt.data
    for count, channel in channels.items():
        channel.close()
        if count != sizes[-1]:
            shutil.rmtree(channel.context.data_dir.parents[1], ignore_errors=True)
    return times, fills, channels[sizes[-1]].output_dir


# -- serving ----------------------------------------------------------------------------------
def serve(feed_folder: str, port: int) -> None:
    """The server process: the feeds router and two same-size baselines."""
    import uvicorn
    from fastapi import FastAPI, Response
    from fastapi.responses import FileResponse

    from publisher.settings import Settings
    from publisher.web import feeds

    folder = Path(feed_folder)
    app = FastAPI()
    app.state.runtime = SimpleNamespace(
        settings=Settings(data_dir=folder, channels={"rss": {"enabled": True, "output_dir": str(folder)}})
    )
    app.include_router(feeds.router)
    data = (folder / "all.rss").read_bytes()

    @app.get("/static/all.rss")
    async def static_file() -> FileResponse:
        return FileResponse(folder / "all.rss", media_type="application/rss+xml; charset=utf-8")

    @app.get("/bytes/all.rss")
    async def static_bytes() -> Response:
        return Response(data, media_type="application/rss+xml; charset=utf-8")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def load_wrk(url: str, headers: dict[str, str], seconds: float, connections: int) -> float:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, int(seconds))}s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match or "Non-2xx" in out and "304" not in str(headers):
        raise RuntimeError(f"wrk output not understood:\n{out}")
    return float(match.group(1))


def load_python(url: str, headers: dict[str, str], seconds: float, connections: int) -> float:
    """Fallback load generator: threads with keep-alive http.client connections (in this
    process, which is not the server's)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    stop = time.monotonic() + seconds
    counts = [0] * connections

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        while time.monotonic() < stop:
            conn.request("GET", parts.path, headers=headers)
            response = conn.getresponse()
            response.read()
            counts[i] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def http_figures(folder: Path, seconds: float) -> dict[str, float]:
    import httpx

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(folder), str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(port)
        base = f"http://127.0.0.1:{port}"
        identity = {"Accept-Encoding": "identity"}
        first = httpx.get(f"{base}/feeds/all.rss", headers=identity)
        static = httpx.get(f"{base}/static/all.rss", headers=identity)
        assert first.status_code == 200 and len(first.content) == len(static.content)
        etag = first.headers["etag"]
        assert httpx.get(f"{base}/feeds/all.rss", headers={"If-None-Match": etag}).status_code == 304
        load = load_wrk if shutil.which("wrk") else load_python
        scenarios = {
            "static": (f"{base}/static/all.rss", identity),
            "bytes": (f"{base}/bytes/all.rss", identity),
            "feed": (f"{base}/feeds/all.rss", identity),
            "feed_gzip": (f"{base}/feeds/all.rss", {"Accept-Encoding": "gzip"}),
            "not_modified": (f"{base}/feeds/all.rss", {"If-None-Match": etag}),
        }
        out: dict[str, float] = {"size": float(len(first.content)), "wrk": float(load is load_wrk)}
        for url, headers in scenarios.values():
            load(url, headers, 1, 16)  # warm-up
        # interleave two rounds so a neighbour's burst does not land on one scenario only
        runs: dict[str, list[float]] = {k: [] for k in scenarios}
        for _ in range(2):
            for name, (url, headers) in scenarios.items():
                runs[name].append(load(url, headers, seconds / 2, 16))
        out.update({k: statistics.mean(v) for k, v in runs.items()})
        return out
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10,000-entry archive and 2 s HTTP runs")
    parser.add_argument("--large", type=int, default=None, help="size of the large archive (default 100,000)")
    parser.add_argument("--publishes", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=None, help="HTTP seconds per scenario (default 6)")
    parser.add_argument("--serve", nargs=2, metavar=("FOLDER", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    large = args.large or (10_000 if args.quick else 100_000)
    seconds = args.seconds or (2.0 if args.quick else 6.0)

    times, _fills, large_dir = regeneration((100, large), args.publishes)
    small_t, large_t = times[100], times[large]
    small_ms, large_ms = statistics.median(small_t) * 1000, statistics.median(large_t) * 1000
    figures = http_figures(large_dir, seconds)
    shutil.rmtree(large_dir.parents[2], ignore_errors=True)

    rows = [
        (
            "regeneration after a publish, median ms",
            f"{large_ms:.1f} ({large:,})",
            f"{small_ms:.1f} (100)",
            large_ms / small_ms,
            "<= 1.5x",
        ),
        (
            "cached feed, req/s",
            f"{figures['feed']:.0f}",
            f"{figures['static']:.0f} (FileResponse)",
            figures["feed"] / figures["static"],
            ">= 0.8x",
        ),
        (
            "cached feed vs bytes Response, req/s",
            f"{figures['feed']:.0f}",
            f"{figures['bytes']:.0f} (bytes)",
            figures["feed"] / figures["bytes"],
            "(info)",
        ),
        (
            "cached feed gzip, req/s",
            f"{figures['feed_gzip']:.0f}",
            f"{figures['static']:.0f} (FileResponse)",
            figures["feed_gzip"] / figures["static"],
            "(info)",
        ),
        (
            "304 Not Modified, req/s",
            f"{figures['not_modified']:.0f}",
            f"{figures['static']:.0f} (FileResponse)",
            figures["not_modified"] / figures["static"],
            ">= 1.0x",
        ),
    ]
    print()
    print(
        f"feed all.rss: {figures['size'] / 1024:.0f} KiB, 50 entries; load generator: "
        f"{'wrk -t1 -c16' if figures['wrk'] else 'python http.client, 16 threads'}; {os.cpu_count()} CPUs"
    )
    print(
        f"regeneration p90: {sorted(large_t)[int(len(large_t) * 0.9)] * 1000:.1f} ms ({large:,}) / "
        f"{sorted(small_t)[int(len(small_t) * 0.9)] * 1000:.1f} ms (100)"
    )
    report(rows)


if __name__ == "__main__":
    main()
