"""Post-publication inspection (issue 18): live copies inspected per second per channel against
the local servers, and delivery latency at 50 items/s with and without inspection running, in
one run.

    .venv/bin/python bench/inspection.py [--items 40] [--rate 50] [--seconds 6] [--inspect-rate 2] [--db postgres]

1. **Copies per second per channel.** `--items` items are published to every channel — the
   feeds (rss), the real WordPress of scripts/setup-wordpress.sh (cms), the local WeChat
   stand-in (wechat) and the city platform's reference receiver (cityplatform), the two
   stand-ins as subprocesses so their work does not compete for this process's GIL — then
   `publisher inspect` runs over each channel alone, unpaced (`Inspector.run`), one copy after
   another as the clock's rounds do. Baseline in the same run: the same channel's whole store
   listed through `inventory()` (what `publisher reconcile` reads), as holdings per second.
   Target: at least 1.2 copies/s per channel, what 100,000 live copies a day need
   (100,000 / 86,400 s = 1.16/s) from one channel's share of one worker.
2. **Delivery latency while inspection runs.** On a fresh store with the feeds and the
   reference receiver, `--rate` items/s are approved for `--seconds` (paced, two driver
   threads) and each delivery's latency (approve call → `delivered_at`) is taken: first with
   no inspection (baseline), then again with the inspector reading every live copy of the
   first round continuously in the background at `--inspect-rate` copies/s per channel
   (default: the clock's `[inspection] rate_per_second`, 2/s, i.e. 172,800 copies a day per
   channel, above the 100,000-a-day need; a run at 10/s on this shared machine at load 20
   did not drain the second round within 300 s). Target: p50 and p99 with inspection within
   1.5x of the baseline's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench._common import CityReceiver, WechatStandin, report, scratch_database, wait_deliveries  # noqa: E402
from bench.cms import PASSWORD_ENV, wordpress  # noqa: E402
from channels.base import Listing  # noqa: E402
from publisher.delivery.executor import EmbeddedExecutor  # noqa: E402
from publisher.delivery.inspection import Inspector  # noqa: E402
from publisher.runtime import Runtime, build_runtime, use_executor  # noqa: E402
from publisher.settings import Settings  # noqa: E402
from publisher.store.models import Delivery, Item  # noqa: E402

DRIVER_THREADS = 2
CHANNELS = ("rss", "cms", "wechat", "cityplatform")


def users(rt: Runtime) -> tuple[Any, Any, Any]:
    svc = rt.service
    return (
        svc.add_user("bench-editor", "editor")[0],
        svc.add_user("bench-reviewer", "reviewer")[0],
        svc.add_user("bench-approver", "approver")[0],
    )


def reviewed(rt: Runtime, who: tuple[Any, Any, Any], n: int, label: str) -> list[str]:
    from tests.samples import policy

    editor, reviewer, _ = who
    uids = []
    for i in range(n):
        item = rt.service.create_item(editor, policy(title=f"{label}巡检基准第{i}号"))
        rt.service.submit(editor, item.uid)
        rt.service.review(reviewer, item.uid)
        uids.append(item.uid)
    return uids


def wait_delivered(rt: Runtime, uids: list[str], channels: tuple[str, ...]) -> None:
    mine = (Delivery.item_id.in_(select(Item.id).where(Item.uid.in_(uids))), Delivery.channel.in_(channels))
    wait_deliveries(rt, len(uids) * len(channels), bad=(), where=mine, timeout=900, poll=0.2)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")
    )


# -- 1. copies per second per channel --------------------------------------------------------
def throughput(kind: str, items: int, folder: Path) -> dict[str, tuple[float, float]]:
    """Per channel: (copies inspected per second, holdings listed per second)."""
    wp = wordpress()
    os.environ[PASSWORD_ENV] = wp["WP_APP_PASSWORD"]
    standin, receiver = WechatStandin(), CityReceiver(folder)
    marker = f"bench-inspect-{uuid.uuid4().hex[:8]}"
    out: dict[str, tuple[float, float]] = {}
    try:
        with scratch_database(kind) as url:
            channels = {
                "rss": {"enabled": True},
                "cms": {
                    "enabled": True,
                    "base_url": wp["WP_URL"],
                    "user": wp["WP_USER"],
                    "app_password_env": PASSWORD_ENV,
                },
                "wechat": standin.section(marker, confirm_interval_seconds=0.3),
                "cityplatform": receiver.section(),
            }
            settings = Settings(
                database={"url": url},
                data_dir=folder / "throughput",
                checks={"links": False},
                egress={"allow_hosts": ["127.0.0.1"]},
                inspection={"enabled": False},  # the clock stays out of the measurement
            ).replace(channels=channels)
            rt = build_runtime(settings)
            try:
                who = users(rt)
                uids = reviewed(rt, who, items, marker)
                use_executor(rt, EmbeddedExecutor(rt.engine, threads_per_channel=4, sweep_interval=0.1))
                rt.start()
                for uid in uids:
                    rt.service.approve(who[2], uid)
                wait_delivered(rt, uids, CHANNELS)
                for name in CHANNELS:
                    t0 = time.perf_counter()
                    result = rt.deliveries.inspect([name])
                    elapsed = time.perf_counter() - t0
                    [summary] = result.channels
                    if summary.inspected != items or summary.drifted or summary.unchecked:
                        raise RuntimeError(f"{name}: {summary.as_dict()}")
                    adapter = rt.channels.get(name)
                    assert isinstance(adapter, Listing)
                    t1 = time.perf_counter()
                    held = [h for h in adapter.inventory() if h.uid in set(uids)]
                    listed = time.perf_counter() - t1
                    out[name] = (summary.inspected / elapsed, len(held) / listed)
                    print(
                        f"{name}: {summary.inspected / elapsed:.1f} copies/s, list {len(held) / listed:.1f}/s"
                    )
            finally:
                rt.close()
                with httpx.Client(
                    base_url=wp["WP_URL"] + "/wp-json/wp/v2",
                    auth=(wp["WP_USER"], wp["WP_APP_PASSWORD"]),
                    timeout=60,
                ) as api:
                    for uid in uids:
                        for post in api.get(
                            "/posts", params={"publisher_uid": uid, "context": "edit"}
                        ).json():
                            api.delete(f"/posts/{post['id']}", params={"force": "true"})
    finally:
        standin.stop()
        receiver.stop()
    return out


# -- 2. delivery latency with and without inspection -------------------------------------------
def paced(rt: Runtime, approver: Any, uids: list[str], rate: float) -> dict[str, float]:
    """Approve at `rate` items/s (each at its own due time, from DRIVER_THREADS threads);
    each item's approve-call start."""
    started: dict[str, float] = {}
    lock = threading.Lock()
    t0 = time.time() + 0.2

    def run(mine: list[tuple[int, str]]) -> None:
        for i, uid in mine:
            time.sleep(max(0.0, t0 + i / rate - time.time()))
            begun = time.time()
            rt.service.approve(approver, uid)
            with lock:
                started[uid] = begun

    indexed = list(enumerate(uids))
    threads = [
        threading.Thread(target=run, args=(indexed[k::DRIVER_THREADS],)) for k in range(DRIVER_THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return started


def latencies(rt: Runtime, started: dict[str, float]) -> list[float]:
    with rt.db.reader() as s:
        rows = s.execute(
            select(Item.uid, Delivery.delivered_at)
            .join(Item, Item.id == Delivery.item_id)
            .where(Item.uid.in_(list(started)), Delivery.state == "delivered")
        ).all()
    return [(at.timestamp() - started[uid]) * 1000 for uid, at in rows]


def latency(kind: str, rate: float, seconds: float, inspect_rate: float, folder: Path) -> dict[str, Any]:
    n = int(rate * seconds)
    receiver = CityReceiver(folder)
    try:
        with scratch_database(kind) as url:
            settings = Settings(
                database={"url": url},
                data_dir=folder / "latency",
                checks={"links": False},
                inspection={"enabled": False},  # the background loop below is the inspection
            ).replace(
                channels={"rss": {"enabled": True}, "cityplatform": receiver.section()},
            )
            rt = build_runtime(settings)
            try:
                who = users(rt)
                first, second = reviewed(rt, who, n, "甲"), reviewed(rt, who, n, "乙")
                use_executor(rt, EmbeddedExecutor(rt.engine, threads_per_channel=4, sweep_interval=0.1))
                rt.start()
                names = ("rss", "cityplatform")
                started = paced(rt, who[2], first, rate)
                achieved = [len(started) / (max(started.values()) - min(started.values()) or 1.0)]
                wait_delivered(rt, first, names)
                without = latencies(rt, started)

                inspector = Inspector(rt.db, rt.settings, rt.channels, None)
                stop, done = threading.Event(), [0]

                def inspect_forever() -> None:
                    while not stop.is_set():
                        report_ = inspector.run(list(names), rate=inspect_rate)
                        done[0] += report_.inspected

                t0 = time.perf_counter()
                background = threading.Thread(target=inspect_forever, daemon=True)
                background.start()
                time.sleep(1.0)  # inspection under way before the first approval
                started = paced(rt, who[2], second, rate)
                achieved.append(len(started) / (max(started.values()) - min(started.values()) or 1.0))
                wait_delivered(rt, second, names)
                stop.set()
                background.join(timeout=120)
                inspected_rate = done[0] / (time.perf_counter() - t0)
                with_ = latencies(rt, started)
            finally:
                rt.close()
    finally:
        receiver.stop()
    return {"without": without, "with": with_, "inspected_per_s": inspected_rate, "approved_per_s": achieved}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument(
        "--inspect-rate", type=float, default=2.0, help="copies/s per channel while measuring latency"
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--skip", choices=("throughput", "latency"), action="append", default=[])
    args = parser.parse_args()
    rows: list[Any] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "throughput" not in args.skip:
            for name, (inspect_s, list_s) in throughput(args.db, args.items, folder).items():
                rows.append(
                    (
                        f"{name}: live copies inspected/s ({args.items} copies, unpaced)",
                        f"{inspect_s:.1f} copies/s",
                        f"{list_s:.1f} holdings/s listed (inventory)",
                        inspect_s / list_s,
                        ">= 1.2 copies/s",
                    )
                )
        if "latency" not in args.skip:
            lat = latency(args.db, args.rate, args.seconds, args.inspect_rate, folder)
            for p in (50, 99):
                w, wo = pct(lat["with"], p), pct(lat["without"], p)
                rows.append(
                    (
                        f"delivery p{p} at {args.rate:.0f} items/s asked (approved {lat['approved_per_s'][1]:.0f}/s "
                        f"vs {lat['approved_per_s'][0]:.0f}/s; rss + cityplatform), inspection at "
                        f"{lat['inspected_per_s']:.1f} copies/s vs none",
                        f"{w:.0f} ms",
                        f"{wo:.0f} ms",
                        w / wo,
                        "<= 1.5x",
                    )
                )
    report(rows)


if __name__ == "__main__":
    main()
