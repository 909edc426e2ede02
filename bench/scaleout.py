"""Scale-out curve: tracked deliveries/s with 1, 2 and 4 worker processes, and approve ->
delivered p50/p99 at 10, 50 and 200 items/s. Built on bench/fanout.py (same receiver,
PostgreSQL scratch database, Redis DB 8, Celery workers with `--pool threads`).

    .venv/bin/python bench/scaleout.py [--items 250] [--rounds 3] [--seconds 4] [--workers 1,2,4]

1. throughput, for each worker count W: W `celery worker` processes of the publisher and W
   of the plain-task baseline run side by side; alternating rounds of N items x 4 endpoints
   (tracked: approved with nobody woken, then handed over by CeleryExecutor.wake and timed
   until the ledger shows all delivered; baseline: N x 4 untracked `bench.post` tasks, timed
   until the receiver has every hit). Medians reported; the ratio is tracked / baseline of
   the same W, so the curve is read as "does tracking keep up as workers are added".
2. latency with 2 workers (and beat): items approved at 10, 50 and 200 items/s for
   --seconds each, after one unmeasured warm-up second; approve-call start -> delivered_at.
   The approvals come from fanout's paced driver (2 threads, each approve a full request's
   worth of work); on 2 cores it keeps roughly 35-45 approvals/s, so the rate it actually
   kept is reported beside each offered rate ("approvals kept"): above that, "@200/s" is
   the offered rate, not the load the workers saw.

The defaults (N = 250 rather than fanout's 500, 3 rounds after an unmeasured 50-item one,
4 s per rate) keep the whole run to about 2-3 minutes on a 2-core machine; note that on 2 cores, 4 worker processes (plus
PostgreSQL, Redis, the receiver and this driver) contend for the same CPUs, so the curve
flattens for both sides — the ratio, not the absolute figure, is the claim.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fanout import (  # noqa: E402
    BROKER,
    ENDPOINTS,
    SECRET,
    Baseline,
    ReceiverProcess,
    Tracked,
    baseline,
    deployment,
    pct,
    run_latency,
    run_throughput,
    start_workers,
    stop,
    wait_ready,
    worker_env,
)

RATES = (10.0, 50.0, 200.0)
WARMUP_ITEMS = 50
LATENCY_WORKERS = 2


class ScaledBaseline(Baseline):
    """fanout's Baseline with W worker processes instead of 2."""

    def __init__(self, receiver: ReceiverProcess, log_dir: Path, concurrency: int, workers: int) -> None:
        self.receiver = receiver
        self.procs = start_workers("bench.fanout:baseline", worker_env({}), log_dir, concurrency, workers)
        # every process must answer before timing starts, or the first round measures start-up;
        # the publisher workers are not up yet, so only these answer the broadcast
        wait_ready(lambda: len(baseline.control.ping(timeout=0.5) or []) >= workers, timeout=60)


class ScaledTracked(Tracked):
    """fanout's Tracked whose worker processes can be restarted with a different count."""

    def start_workers(self, workers: int) -> None:
        from publisher.runtime import use_executor
        from tasks.executor import CeleryExecutor
        from tasks.heartbeat import live_workers

        if self.executor is None:
            self.executor = CeleryExecutor(self.rt)
            use_executor(self.rt, self.executor)
        self.env = worker_env(
            {"PUBLISHER_CONFIG": str(self.config), "BENCH_WEBHOOK_SECRET": SECRET, **self.tunables}
        )
        self.procs = start_workers("tasks", self.env, self.log_dir, self.concurrency, workers)
        wait_ready(lambda: len(live_workers(BROKER)) >= workers, timeout=60)

    def stop_workers(self) -> None:
        from tasks.heartbeat import KEY_PREFIX, client, live_workers

        stop(self.procs)
        self.procs = []
        # a worker's heartbeat key goes on clean exit; a killed one's would outlive it and let
        # the next, smaller set look ready before it is
        r = client(BROKER)
        try:
            for name in live_workers(BROKER):
                r.delete(KEY_PREFIX + name)
        finally:
            r.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=250, help="items per throughput round (x4 deliveries)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per worker count (medians)")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts for the throughput curve")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each latency run")
    parser.add_argument("--concurrency", type=int, default=12, help="thread pool size of each worker")
    parser.add_argument("--batch-size", type=int, default=64, help="PUBLISHER_BATCH_SIZE")
    parser.add_argument("--lane-threads", type=int, default=8, help="PUBLISHER_LANE_THREADS")
    parser.add_argument("--lane-slots", type=int, default=1, help="PUBLISHER_LANE_SLOTS")
    parser.add_argument("--logs", help="keep the worker logs in this directory")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",") if w.strip()]

    from bench._common import report

    curve: dict[int, tuple[list[float], list[float]]] = {}
    latency: dict[float, tuple[list[float], int, float]] = {}
    started = time.monotonic()
    with deployment(args) as (receiver, log_dir, db_url, config, tunables):
        t = ScaledTracked(db_url, config, log_dir, args.concurrency, tunables)
        try:
            for workers in counts:
                base = ScaledBaseline(receiver, log_dir, args.concurrency, workers)
                try:
                    t.start_workers(workers)
                    # unmeasured: the first round after a start pays for connections and lanes
                    base.round(WARMUP_ITEMS)
                    run_throughput(t, WARMUP_ITEMS)
                    base_rates, tracked_rates = [], []
                    for r in range(args.rounds):
                        base_rates.append(base.round(args.items))
                        tracked_rates.append(run_throughput(t, args.items))
                        print(
                            f"{workers} worker(s), round {r + 1}: baseline {base_rates[-1]:.0f}/s, "
                            f"tracked {tracked_rates[-1]:.0f}/s",
                            flush=True,
                        )
                    curve[workers] = (base_rates, tracked_rates)
                finally:
                    base.close()
                    t.stop_workers()

            t.start_workers(LATENCY_WORKERS)
            t.start_beat()
            run_latency(t, t.reviewed(50, "预热"), 50.0, ENDPOINTS)  # unmeasured: connections, lanes
            for rate in RATES:
                uids = t.reviewed(int(rate * args.seconds), f"时延{rate:g}")
                print(f"latency: {len(uids)} approvals at {rate:g}/s ...", flush=True)
                lat = run_latency(t, uids, rate, ENDPOINTS)
                # the driver shares the 2 cores too: the rate it actually kept is reported
                returned = [t.approved_at[u] for u in uids if u in t.approved_at]
                kept = (len(returned) - 1) / (max(returned) - min(returned)) if len(returned) > 1 else 0.0
                latency[rate] = ([v for vs in lat.values() for v in vs], len(uids) * len(ENDPOINTS), kept)
        finally:
            t.close()

    rows: list[tuple[str, str, str, float | str, str]] = []
    for workers, (base_rates, tracked_rates) in curve.items():
        b, tr = statistics.median(base_rates), statistics.median(tracked_rates)
        rows.append(
            (
                f"tracked deliveries/s, {workers} worker process{'es' if workers > 1 else ''}",
                f"{tr:.0f}/s",
                f"{b:.0f}/s (untracked, {workers}w)",
                tr / b,
                ">= 1.0x",
            )
        )
    for rate, (values, expected, kept) in latency.items():
        info = rate > 50
        rows.append((f"  approvals kept @{rate:g}/s", f"{kept:.0f}/s", "", "", ""))
        if kept < 0.9 * rate:
            print(f"note: the driver kept only {kept:.0f} approvals/s of the {rate:g}/s offered", flush=True)
        for p, bound in ((50, "<= 100 ms"), (99, "<= 500 ms")):
            shown = f"{pct(values, p):.0f} ms" if values else "n/a"
            if len(values) < expected:
                shown += f" ({len(values)}/{expected} delivered in 30 s)"
            rows.append((f"approve->delivered p{p} @{rate:g}/s", shown, "", "", "(info)" if info else bound))
    report(rows)
    print(
        f"\n(throughput: {args.items} items x {len(ENDPOINTS)} endpoints per round, {args.rounds} alternating "
        f"rounds per worker count, {args.concurrency} threads per worker; latency: {LATENCY_WORKERS} workers, "
        f"{args.seconds:g} s per rate; PostgreSQL, Redis, receiver and this driver on the same "
        f"{os.cpu_count()} cores; {time.monotonic() - started:.0f} s in all)"
    )


if __name__ == "__main__":
    main()
