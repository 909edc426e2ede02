"""Run every benchmark and write the figures into docs/benchmarks.md.

    .venv/bin/python bench/run_all.py            # every bench with its defaults
    .venv/bin/python bench/run_all.py approve feeds

Each bench runs as its own process (so one cannot skew another's memory or threads) and hands
its rows back through BENCH_JSON. Ratios are measured against a baseline in the same run: on a
shared machine compare ratios, not absolute figures.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A bench script is run as `python bench/NAME.py`, so bench/ is first on sys.path: NAME must
# never be a standard-library module (bench/inspect.py shadowed `inspect` and broke them all).
BENCHES = [
    "approve",
    "fanout",
    "scaleout",
    "feeds",
    "cms",
    "wechat",
    "pages",
    "pages-pg",
    "jobs",
    "exports",
    "checks",
    "inspection",
    "sweep",
]
# a bench name with its arguments: the pages at a bureau's scale on SQLite and at a city's on
# PostgreSQL, each with the flatness table against 10,000 items in the same run (the seeded
# databases are kept and reused). The 1,000,000-item run is by hand:
#     .venv/bin/python bench/pages.py --db postgres --items 1000000
# The periodic jobs (bench/jobs.py) at 200,000 items beside 10,000 on PostgreSQL and at 100,000
# on SQLite; a city by hand:
#     .venv/bin/python bench/jobs.py --items 1000000
# Approvals and fan-out on the 1,000,000-item archive beside an empty database, by hand:
#     .venv/bin/python bench/approve.py --db postgres --seeded 1000000
#     .venv/bin/python bench/fanout.py --seeded 1000000
VARIANTS = {
    "pages": ("pages", ["--db", "sqlite", "--items", "100000"]),
    "pages-pg": ("pages", ["--db", "postgres", "--items", "200000"]),
    "jobs-sqlite": ("jobs", ["--db", "sqlite", "--items", "100000"]),
}
OUT = ROOT / "docs" / "benchmarks.md"


def _number(text: object) -> float | None:
    try:
        return float(str(text).split()[0].rstrip("x").rstrip("/s"))
    except (ValueError, IndexError):
        return None


def met(measured: object, ratio: object, target: str) -> str:
    """Judge a row: ratio targets ("<= 1.5x", ">= 0.8x") against the ratio, absolute ones
    ("<= 100 ms", "< 200 ms") against the measured figure."""
    parts = target.split()
    if len(parts) < 2 or parts[0] not in ("<=", ">=", "<"):
        return ""
    bound = _number(parts[1])
    value = _number(ratio) if parts[1].endswith("x") else _number(measured)
    if bound is None or value is None:
        return ""
    ok = {"<=": value <= bound, ">=": value >= bound, "<": value < bound}[parts[0]]
    return "yes" if ok else "**no**"


def run(name: str) -> tuple[list[list[object]], str | None, float]:
    script_name, args = VARIANTS.get(name, (name, []))
    script = ROOT / "bench" / f"{script_name}.py"
    if not script.exists():
        return [], "not present", 0.0
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        target = tmp.name
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=ROOT,
        env={**os.environ, "BENCH_JSON": target},
        text=True,
        capture_output=True,
    )
    elapsed = time.monotonic() - t0
    sys.stdout.write(proc.stdout[-3000:])
    rows: list[list[object]] = []
    try:
        rows = json.loads(Path(target).read_text(encoding="utf-8") or "[]")
    except (OSError, json.JSONDecodeError):
        pass
    finally:
        Path(target).unlink(missing_ok=True)
    error = None if proc.returncode == 0 and rows else f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    return rows, error, elapsed


def main() -> None:
    names = sys.argv[1:] or BENCHES
    lines = [
        "# Benchmarks",
        "",
        f"Written by `bench/run_all.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}. Every figure is beside a baseline measured in the same run; "
        "the machine is shared, so read the ratios.",
        "",
        "| bench | figure | measured | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    for name in names:
        print(f"== bench/{name}.py", flush=True)
        rows, error, elapsed = run(name)
        for figure, measured, baseline, ratio, target in rows:
            shown = f"{ratio:.2f}x" if isinstance(ratio, float) else str(ratio)
            lines.append(
                f"| {name} | {figure} | {measured} | {baseline} | {shown} | {target} | "
                f"{met(measured, ratio, str(target))} |"
            )
        if error:
            notes.append(f"- `bench/{name}.py`: {error}")
        else:
            notes.append(f"- `bench/{name}.py`: {elapsed:.0f} s")
    lines += ["", "Runs:", "", *notes, ""]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
