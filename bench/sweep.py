"""CPU of one embedded-executor sweep with the alert clock gated (ticks only when something can
be due: its interval passed or this process recorded an alert) beside the same sweeps with the
clock ticking after every sweep, as it did before, in the same run and on the same database.

    .venv/bin/python bench/sweep.py [--sweeps 400] [--rounds 3] [--db sqlite|postgres]

An idle store (no deliveries due, no alerts): what the WeChat bench's sweeper pays every
0.05 s. CPU is this process's (time.process_time), per sweep; the two modes alternate in each
round. Target: gated <= 0.8x the tick-every-sweep baseline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import Row, median, report, scratch_database  # noqa: E402
from publisher.runtime import build_runtime  # noqa: E402
from publisher.settings import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweeps", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = ap.parse_args()
    with scratch_database(args.db) as url, tempfile.TemporaryDirectory() as tmp:
        rt = build_runtime(Settings(data_dir=Path(tmp), database={"url": url}))
        try:
            engine, clock = rt.engine, rt.alerts.clock
            gated = list(engine.after_sweep)
            # the hook as it was (build_runtime appends the alert clock first): a tick, with its
            # idle probes, after every sweep
            every: list[Callable[[datetime], object]] = [clock.tick, *gated[1:]]
            engine.sweep()  # warm-up: first tick stamps the clock, caches filled
            cpu: dict[str, list[float]] = {"every": [], "gated": []}
            for r in range(args.rounds):
                order = ["every", "gated"] if r % 2 == 0 else ["gated", "every"]
                for mode in order:
                    engine.after_sweep[:] = every if mode == "every" else gated
                    started = time.process_time()
                    for _ in range(args.sweeps):
                        engine.sweep()
                        time.sleep(0.002)  # sweeps are spread in time, as the executor's are
                    cpu[mode].append((time.process_time() - started) * 1000.0 / args.sweeps)
            engine.after_sweep[:] = gated
        finally:
            rt.close()
    before, after = median(cpu["every"]), median(cpu["gated"])
    print(f"CPU ms per sweep, tick every sweep: {[round(v, 2) for v in cpu['every']]}")
    print(f"CPU ms per sweep, gated clock:      {[round(v, 2) for v in cpu['gated']]}")
    rows: list[Row] = [
        (
            f"sweep CPU per round, idle ({args.db}), gated alert clock",
            f"{after:.2f} ms",
            f"{before:.2f} ms (tick every sweep)",
            after / before,
            "<= 0.8x",
        )
    ]
    report(rows)


if __name__ == "__main__":
    main()
