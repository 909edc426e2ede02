"""Fan-out through Celery: N items x 4 webhook endpoints, tracked by the ledger, against a
plain Celery task per POST with no tracking, measured in the same run on the same machine.

    .venv/bin/python bench/fanout.py [--items N] [--rounds 3] [--rate 50] [--seconds 6]

What runs: PostgreSQL (a scratch database), Redis DB 8 on 127.0.0.1:6379 (flushed), one
receiver process (uvicorn, answers 200 at once; it does not verify signatures, so both
sides cost it the same), and 2 `celery worker` processes (`--pool threads`) for each side.

1. throughput, in alternating rounds (medians reported, so load from elsewhere on the
   machine hits both sides alike):
   baseline: N x 4 `bench.post` tasks (one POST each with a keep-alive httpx client, Celery
   defaults otherwise), timed from the first send to the receiver's last hit;
   tracked: N items approved without waking anyone (4 deliveries each, queued in the
   ledger), handed to the workers by CeleryExecutor.wake, timed until the ledger shows
   every one `delivered` (claim, send, attempt row and state change all committed).
2. latency: items approved at --rate items/s for --seconds (beat sweeping as in
   production) by 6 driver threads (BENCH_DRIVER_THREADS), each approval at its due time;
   from the approve call's start (and from its return) to delivered_at. The rate the
   driver actually kept is reported: the driver shares the 2 cores with the workers,
   PostgreSQL, Redis and the receiver, so above what the machine can take it falls behind.
3. isolation: the same with endpoint h4 answering in 2 s; p99 of endpoints h1-h3 compared
   with step 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from celery import Celery  # noqa: E402

from bench._common import Row  # noqa: E402

BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/8")
ENDPOINTS = ("h1", "h2", "h3", "h4")
SECRET = "whsec_" + "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMTI="
BODY = json.dumps(
    {
        "type": "item.published",
        "timestamp": "2026-11-20T08:00:00+00:00",
        "data": {
            "uid": "x" * 26,
            "title": "关于进一步规范财政资金管理的通知" * 2,
            "description": "规范。" * 60,
            "keywords": ["财政", "预算"],
            "url": "http://127.0.0.1:8000/items/x",
        },
    },
    ensure_ascii=False,
).encode()

# -- the baseline: a plain Celery task per POST ------------------------------------------------

baseline = Celery("bench_baseline", broker=BROKER, set_as_current=False)
baseline.conf.update(
    task_ignore_result=True, broker_connection_retry_on_startup=True, task_default_queue="bench.baseline"
)
_client: httpx.Client | None = None
_client_lock = threading.Lock()


@baseline.task(name="bench.post")
def post(url: str) -> int:
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(timeout=10.0, limits=httpx.Limits(max_connections=20))
    return _client.post(url, content=BODY, headers={"Content-Type": "application/json"}).status_code


# -- the receiver (its own process) ------------------------------------------------------------


def serve_receiver(port: int) -> None:
    import uvicorn

    counts: dict[str, int] = {}
    delays: dict[str, float] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        status, body = 200, b'{"ok":true}'
        if scope["method"] == "GET" and path == "/count":
            body = json.dumps(counts).encode()
        elif path == "/delay":
            query = dict(p.split("=") for p in scope["query_string"].decode().split("&") if p)
            delays.clear()
            if query.get("path"):
                delays["/" + query["path"]] = float(query["seconds"])
        elif path == "/reset":
            counts.clear()
        else:
            counts[path] = counts.get(path, 0) + 1
            if path in delays:
                await asyncio.sleep(delays[path])
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


class ReceiverProcess:
    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, __file__, "--receiver", str(self.port)], cwd=ROOT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.counts()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("receiver did not start")

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=5) as r:  # noqa: S310 - local
            return bytes(r.read())

    def counts(self) -> dict[str, int]:
        return dict(json.loads(self._get("/count")))

    def total(self) -> int:
        return sum(self.counts().values())

    def reset(self) -> None:
        self._get("/reset")

    def delay(self, path: str = "", seconds: float = 0.0) -> None:
        self._get(f"/delay?path={path}&seconds={seconds}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# -- processes ---------------------------------------------------------------------------------

CELERY = str(Path(sys.executable).with_name("celery"))


def start_workers(
    app: str, env: dict[str, str], log_dir: Path, concurrency: int, n: int = 2
) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        log = (log_dir / f"{app.replace(':', '_')}-{i}.log").open("ab")
        procs.append(
            subprocess.Popen(
                [
                    CELERY,
                    "-A",
                    app,
                    "worker",
                    "--pool",
                    "threads",
                    "--concurrency",
                    str(concurrency),
                    "-n",
                    f"bench{i}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    os.environ.get("BENCH_WORKER_LOGLEVEL", "warning"),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_ready(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError("workers did not come up")


def worker_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    env.update({"PYTHONPATH": str(ROOT), "BENCH_BROKER_URL": BROKER, **extra})
    return env


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(BROKER).flushdb()


# -- phases ------------------------------------------------------------------------------------


class Baseline:
    """2 workers running the plain task, started once and timed over several rounds."""

    def __init__(self, receiver: ReceiverProcess, log_dir: Path, concurrency: int) -> None:
        self.receiver = receiver
        self.procs = start_workers("bench.fanout:baseline", worker_env({}), log_dir, concurrency)
        # ready once a first round of posts comes back
        receiver.reset()
        for path in ENDPOINTS:
            baseline.send_task("bench.post", args=[f"{receiver.base}/{path}"])
        wait_ready(lambda: receiver.total() >= len(ENDPOINTS))

    def round(self, n: int) -> float:
        self.receiver.reset()
        total = n * len(ENDPOINTS)
        t0 = time.perf_counter()
        with baseline.producer_or_acquire() as producer:
            for _ in range(n):
                for path in ENDPOINTS:
                    baseline.send_task("bench.post", args=[f"{self.receiver.base}/{path}"], producer=producer)
        while self.receiver.total() < total:
            time.sleep(0.02)
        return total / (time.perf_counter() - t0)

    def close(self) -> None:
        stop(self.procs)


def write_config(path: Path, db_url: str, receiver: ReceiverProcess) -> None:
    lines = [
        f'data_dir = "{path.parent / "data"}"',
        "[database]",
        f'url = "{db_url}"',
        "[broker]",
        f'url = "{BROKER}"',
        "[executor]",
        "sweep_interval_seconds = 1.0",
        "[channels.rss]",
        "enabled = false",
        "[channels.webhook]",
        "enabled = true",
        'secret_env = "BENCH_WEBHOOK_SECRET"',
    ]
    for name in ENDPOINTS:
        lines += ["[[channels.webhook.subscribers]]", f'name = "{name}"', f'url = "{receiver.base}/{name}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Tracked:
    """The publisher side of the bench: a web-side runtime that approves, and the workers."""

    def __init__(
        self, db_url: str, config: Path, log_dir: Path, concurrency: int, tunables: dict[str, str]
    ) -> None:
        from publisher.runtime import build_runtime
        from publisher.settings import load_settings

        os.environ["BENCH_WEBHOOK_SECRET"] = SECRET
        self.settings = load_settings(env={}, path=config)
        self.rt = build_runtime(self.settings)
        self.config, self.log_dir, self.concurrency, self.tunables = config, log_dir, concurrency, tunables
        os.environ.update(tunables)  # this process's CeleryExecutor batches by them too
        from publisher.editorial.service import Service

        svc = self.rt.service
        # approves without waking any executor, to queue a backlog in the ledger
        self.quiet = Service(self.rt.db, self.settings, preflight=self.rt.channels.preflight)
        run = uuid.uuid4().hex[:6]  # a kept seeded database is used again by later runs
        self.editor = svc.add_user(f"editor-{run}", "editor")[0]
        self.reviewer = svc.add_user(f"reviewer-{run}", "reviewer")[0]
        self.approver = svc.add_user(f"approver-{run}", "approver")[0]
        self.executor: Any = None
        self.approve_ms: list[float] = []
        self.approved_at: dict[str, float] = {}
        self.procs: list[subprocess.Popen[bytes]] = []

    def reviewed(self, n: int, label: str) -> list[str]:
        """Items waiting for approval (no deliveries yet)."""
        from tests.samples import policy

        svc, uids = self.rt.service, []
        for i in range(n):
            item = svc.create_item(self.editor, policy(title=f"{label}通知第{i}号"))
            svc.submit(self.editor, item.uid)
            svc.review(self.reviewer, item.uid)
            uids.append(item.uid)
        return uids

    def approve(self, uids: list[str], *, wake: bool = True) -> None:
        svc = self.rt.service if wake else self.quiet
        for uid in uids:
            svc.approve(self.approver, uid)

    def start(self) -> None:
        from publisher.runtime import use_executor
        from tasks.executor import CeleryExecutor

        self.executor = CeleryExecutor(self.rt)
        use_executor(self.rt, self.executor)
        env = worker_env(
            {"PUBLISHER_CONFIG": str(self.config), "BENCH_WEBHOOK_SECRET": SECRET, **self.tunables}
        )
        self.procs = start_workers("tasks", env, self.log_dir, self.concurrency)
        self.env = env
        from tasks.heartbeat import live_workers

        wait_ready(lambda: len(live_workers(BROKER)) >= 2)

    def start_beat(self) -> None:
        """The sweeper; left out of the throughput rounds, where it would hand the backlog
        over on its own while the items are still being approved."""
        env = self.env
        self.procs.append(
            subprocess.Popen(
                [
                    CELERY,
                    "-A",
                    "tasks",
                    "beat",
                    "-s",
                    str(self.log_dir / "beat-schedule"),
                    "--pidfile=",
                    "-l",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
                stdout=(self.log_dir / "beat.log").open("ab"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def delivered(self) -> int:
        """Deliveries delivered, from the maintained counts (polled every 20 ms: a COUNT(*) would
        read the whole ledger each time, 5,000,000 rows on the seeded database)."""
        from publisher.store import counters

        with self.rt.db.reader() as s:
            found = counters.read(s, counters.DELIVERY).deliveries
        return sum(n for (_channel, state), n in found.items() if state == "delivered")

    def sweep(self) -> None:
        """What beat's publisher.sweep does: hand due deliveries the broker does not hold
        (or no longer holds) to the workers."""
        due, _accepted = self.rt.engine.sweep(
            stale_after=float(self.tunables.get("PUBLISHER_DISPATCH_STALE_SECONDS", "120"))
        )
        self.executor.wake(due)

    def states(self) -> dict[str, int]:
        from sqlalchemy import func, select

        from publisher.store.models import Delivery

        with self.rt.db.reader() as s:
            return {
                state: n
                for state, n in s.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
            }

    def delivery_ids(self, uids: list[str]) -> list[int]:
        """The deliveries of these items (not the ledger's other undelivered rows: a seeded
        archive has failed ones that are not this round's)."""
        from sqlalchemy import select

        from publisher.store.models import Delivery, Item

        with self.rt.db.reader() as s:
            return list(
                s.execute(
                    select(Delivery.id).join(Item, Item.id == Delivery.item_id).where(Item.uid.in_(uids))
                ).scalars()
            )

    def latencies(self, started: dict[str, float]) -> dict[str, list[float]]:
        from sqlalchemy import select

        from publisher.store.models import Delivery, Item

        out: dict[str, list[float]] = {}
        with self.rt.db.reader() as s:
            rows = s.execute(
                select(Item.uid, Delivery.channel, Delivery.delivered_at)
                .join(Item, Item.id == Delivery.item_id)
                .where(Item.uid.in_(list(started)))
            ).all()
        for uid, channel, delivered_at in rows:
            if delivered_at is not None:
                when = delivered_at.replace(tzinfo=UTC) if delivered_at.tzinfo is None else delivered_at
                out.setdefault(channel, []).append((when.timestamp() - started[uid]) * 1000)
        return out

    def close(self) -> None:
        stop(self.procs)
        if self.executor is not None:
            self.executor.stop()
        self.rt.close()


def run_throughput(t: Tracked, n: int) -> float:
    """n items approved with nobody woken (their deliveries wait in the ledger), then
    handed to the workers at once; timed until the ledger shows all of them delivered."""
    uids = t.reviewed(n, "吞吐")
    t.approve(uids, wake=False)
    ids = t.delivery_ids(uids)
    base = t.delivered()
    t0 = time.perf_counter()
    t.executor.wake(ids)
    # Beat is not running in these rounds (it would hand the backlog over before the clock
    # starts), so once the clock runs this loop sweeps the way beat does every second: a
    # delivery whose send failed transiently (a receiver resetting a kept-alive connection)
    # waits in retry_wait for the sweeper, as in production.
    next_sweep = time.monotonic() + 1.0
    deadline = time.monotonic() + ROUND_TIMEOUT
    while t.delivered() - base < len(ids):
        if time.monotonic() >= next_sweep:
            t.sweep()
            next_sweep = time.monotonic() + 1.0
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"throughput round: {len(ids) - (t.delivered() - base)} of {len(ids)} deliveries "
                f"not delivered after {ROUND_TIMEOUT:g} s (states: {t.states()})"
            )
        time.sleep(0.02)
    return len(ids) / (time.perf_counter() - t0)


ROUND_TIMEOUT = 300.0


# Approving threads of the driver: enough that a slow approve call (the driver shares the 2
# cores with everything else) does not hold the next one back; the rate kept is reported.
DRIVER_THREADS = int(os.environ.get("BENCH_DRIVER_THREADS", "6"))


def paced_approvals(t: Tracked, uids: list[str], rate: float) -> dict[str, float]:
    """Approve at `rate` items/s from DRIVER_THREADS threads, each item at its own due time;
    returns each item's approve-call start."""
    started: dict[str, float] = {}
    t0 = time.time() + 0.2
    lock = threading.Lock()

    def run(mine: list[tuple[int, str]]) -> None:
        for i, uid in mine:
            due = t0 + i / rate
            time.sleep(max(0.0, due - time.time()))
            begun = time.time()
            t.rt.service.approve(t.approver, uid)
            with lock:
                started[uid] = begun
                t.approve_ms.append((time.time() - begun) * 1000)
                t.approved_at[uid] = time.time()

    indexed = list(enumerate(uids))
    threads = [
        threading.Thread(target=run, args=(indexed[k::DRIVER_THREADS],)) for k in range(DRIVER_THREADS)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return started


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_latency(
    t: Tracked, uids: list[str], rate: float, endpoints: tuple[str, ...]
) -> dict[str, list[float]]:
    """Approve at `rate`, then wait (up to 30 s) until `endpoints` have all been delivered."""
    started = paced_approvals(t, uids, rate)
    channels = [f"webhook.{e}" for e in endpoints]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lat = t.latencies(started)
        if sum(len(lat.get(c, [])) for c in channels) >= len(uids) * len(channels):
            break
        time.sleep(0.2)
    return t.latencies(started)


# the seeded archive's deliveries still on their way (bench/pages.py leaves ~1.5 % queued,
# held or retrying, on channels this bench does not configure) are settled before it runs, as
# an archive's are: otherwise every sweep would hand tens of thousands of them to the workers
SETTLE = (
    "UPDATE deliveries SET state = 'delivered', delivered_at = updated_at "
    "WHERE state IN ('queued', 'retry_wait', 'held', 'sending', 'accepted') AND channel NOT LIKE 'webhook.h_'"
)


@contextmanager
def database(seeded: int) -> Iterator[str]:
    """A scratch PostgreSQL database, or (`seeded`) bench/pages.py's kept seeded one of that
    many items (BENCH_DB_TAG: a private copy), its undelivered archive settled."""
    from bench._common import scratch_database

    if not seeded:
        with scratch_database("postgres") as url:
            yield url
        return
    import bench.pages as pages

    with pages.archive("postgres", seeded) as (url, counts):
        print(pages._describe("postgres", counts), flush=True)
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            settled = conn.execute(SETTLE).rowcount
        print(f"  settled {settled} undelivered archive deliveries", flush=True)
        yield url


@contextmanager
def deployment(
    args: argparse.Namespace, seeded: int = 0
) -> Iterator[tuple[ReceiverProcess, Path, str, Path, dict[str, str]]]:
    """The receiver process, a log folder, a database (`database`), the publisher config
    pointing at both, and the worker tunables from the command line; all torn down after
    (Redis DB 8 flushed before and after)."""
    receiver = ReceiverProcess()
    try:
        with tempfile.TemporaryDirectory() as tmp, database(seeded) as db_url:
            log_dir = Path(args.logs or tmp)
            log_dir.mkdir(parents=True, exist_ok=True)
            flush_redis()
            config = log_dir / "publisher.toml"
            write_config(config, db_url, receiver)
            tunables = {
                "PUBLISHER_BATCH_SIZE": str(args.batch_size),
                "PUBLISHER_LANE_THREADS": str(args.lane_threads),
                "PUBLISHER_LANE_SLOTS": str(args.lane_slots),
            }
            yield receiver, log_dir, db_url, config, tunables
    finally:
        receiver.stop()
        flush_redis()


def measure(args: argparse.Namespace, seeded: int = 0) -> list[Row]:
    """Every figure of the bench on one database (scratch, or the seeded one)."""
    from bench._common import median

    paced = int(args.rate * args.seconds)
    base_rates: list[float] = []
    tracked_rates: list[float] = []
    with deployment(args, seeded) as (receiver, log_dir, db_url, config, tunables):
        t = Tracked(db_url, config, log_dir, args.concurrency, tunables)
        base = None if args.throughput_only else Baseline(receiver, log_dir, args.concurrency)
        try:
            t.start()
            # alternate the two, so load from elsewhere on the machine hits both alike
            for r in range(args.rounds):
                if base is not None:
                    base_rates.append(base.round(args.items))
                    print(f"round {r + 1}: baseline {base_rates[-1]:.0f}/s", flush=True)
                tracked_rates.append(run_throughput(t, args.items))
                print(f"round {r + 1}: tracked {tracked_rates[-1]:.0f}/s", flush=True)
            if base is not None:
                base.close()
                base = None
            if args.throughput_only:
                return [
                    (
                        "tracked deliveries/s (4 endpoints)",
                        f"{statistics.median(tracked_rates):.0f}/s",
                        "",
                        "",
                        "",
                    )
                ]
            t.start_beat()
            print(f"latency: {paced} approvals at {args.rate:g}/s ...", flush=True)
            warm_uids = t.reviewed(int(args.rate), "预热")
            normal_uids, slow_uids = t.reviewed(paced, "时延"), t.reviewed(paced, "隔离")
            run_latency(t, warm_uids, args.rate, ENDPOINTS)  # one unmeasured second: connections, lanes
            t.approve_ms.clear()
            normal = run_latency(t, normal_uids, args.rate, ENDPOINTS)
            approve_ms = list(t.approve_ms)
            returned = [t.approved_at[u] for u in normal_uids]
            kept = (len(returned) - 1) / (max(returned) - min(returned)) if len(returned) > 1 else 0.0
            after_commit = [
                v for vs in t.latencies({u: t.approved_at[u] for u in normal_uids}).values() for v in vs
            ]
            print("isolation: the same with endpoint h4 answering in 2 s ...", flush=True)
            receiver.delay("h4", 2.0)
            slow = run_latency(t, slow_uids, args.rate, ENDPOINTS[:3])
            receiver.delay()
        finally:
            if base is not None:
                base.close()
            t.close()

    base_rate, tracked_rate = statistics.median(base_rates), statistics.median(tracked_rates)
    every = [v for vs in normal.values() for v in vs]
    fast = [f"webhook.{e}" for e in ENDPOINTS[:3]]
    p99_before = pct([v for c in fast for v in normal.get(c, [])], 99)
    p99_after = pct([v for c in fast for v in slow.get(c, [])], 99)
    got_normal = len(every)
    got_fast = sum(len(slow.get(c, [])) for c in fast)
    rows = [
        (
            "tracked deliveries/s (4 endpoints)",
            f"{tracked_rate:.0f}/s",
            f"{base_rate:.0f}/s (untracked)",
            f"{tracked_rate / base_rate:.2f}x",
            ">= 1.0x",
        ),
        (
            f"approve->delivered p50 @{args.rate:g}/s",
            f"{statistics.median(every):.0f} ms" if every else "n/a",
            "",
            "",
            "<= 100 ms",
        ),
        (f"approve->delivered p99 @{args.rate:g}/s", f"{pct(every, 99):.0f} ms", "", "", "<= 500 ms"),
        (f"  approvals kept @{args.rate:g}/s", f"{kept:.0f}/s", "", "", ""),
        ("  approve call alone, p50", f"{median(approve_ms):.0f} ms", "", "", ""),
        (
            "  approve returned->delivered p50/p99",
            f"{median(after_commit):.0f}/{pct(after_commit, 99):.0f} ms",
            "",
            "",
            "",
        ),
        (
            "p99 of h1-h3 with h4 at 2 s",
            f"{p99_after:.0f} ms",
            f"{p99_before:.0f} ms (h4 instant)",
            f"{p99_after / p99_before:.2f}x",
            "< 1.2x",
        ),
    ]
    print(
        "\nthroughput rounds: baseline "
        + ", ".join(f"{r:.0f}" for r in base_rates)
        + "/s; tracked "
        + ", ".join(f"{r:.0f}" for r in tracked_rates)
        + "/s"
    )
    print(
        f"(latency samples: {got_normal}/{paced * 4} delivered in the normal run, "
        f"{got_fast}/{paced * 3} of h1-h3 in the isolation run; 2 worker processes x {args.concurrency} threads, "
        f"PostgreSQL, Redis, receiver and this driver on {os.cpu_count()} cores)"
    )

    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=500, help="items for the throughput run (x4 deliveries)")
    parser.add_argument("--rate", type=float, default=50.0, help="approvals per second for the latency runs")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each latency run")
    parser.add_argument("--concurrency", type=int, default=12, help="thread pool size of each worker")
    parser.add_argument("--batch-size", type=int, default=64, help="PUBLISHER_BATCH_SIZE")
    parser.add_argument("--lane-threads", type=int, default=8, help="PUBLISHER_LANE_THREADS")
    parser.add_argument("--lane-slots", type=int, default=1, help="PUBLISHER_LANE_SLOTS")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating throughput rounds (medians reported)"
    )
    parser.add_argument("--throughput-only", action="store_true", help="skip the baseline and latency runs")
    parser.add_argument("--logs", help="keep the worker logs in this directory")
    parser.add_argument(
        "--seeded",
        type=int,
        default=0,
        metavar="ITEMS",
        help="run again on bench/pages.py's kept database of ITEMS items (BENCH_DB_TAG for a private "
        "copy) and print both runs side by side with their ratio",
    )
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        serve_receiver(args.receiver)
        return

    from bench._common import report

    rows = measure(args)
    if not args.seeded:
        report(rows)
        return
    big = measure(args, args.seeded)
    size = f"{args.seeded:,} items"
    print(f"\nthe same bench on an empty database and on {size} (one after the other)")
    print(f"{'figure':<40} | {'empty':>16} | {size:>16} | ratio")
    out = list(rows)
    for (label, a, base_a, ratio_a, _t), (_l, b, _base_b, ratio_b, _tb) in zip(rows, big, strict=True):
        x, y = _number(ratio_a) or _number(a), _number(ratio_b) or _number(b)
        what = "ratio" if _number(ratio_a) else "value"
        change = f"{y / x:.2f}" if x and y else ""
        print(f"{label:<40} | {ratio_a or a:>16} | {ratio_b or b:>16} | {change} ({what})")
        out.append(
            (f"{label}, on {size}", b, base_a and f"{a} (empty database)", change and f"{change}x", "")
        )
    report(out)


def _number(text: str) -> float | None:
    """The leading number of a figure ('763/s', '28 ms', '1.19x'), if any."""
    head = text.split("/")[0].split(" ")[0].rstrip("x")
    try:
        return float(head)
    except ValueError:
        return None


if __name__ == "__main__":
    main()
