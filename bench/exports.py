"""Memory of the catalogue exports (主动公开目录 .csv / .xlsx / .json) against the archive.

    BENCH_DB_TAG=me .venv/bin/python bench/exports.py                       # SQLite, 10,000 and 100,000 items
    BENCH_DB_TAG=me .venv/bin/python bench/exports.py --db postgres --items 200000

The exports stream (issue 21): rows are read 500 released items at a time and the file is
written as they come. For each format, how much the process's peak resident memory grows while
the whole file is produced (each measurement in a fresh subprocess: ru_maxrss after the file
less ru_maxrss before it), on bench/pages.py's kept seeded databases (the small one,
--flat-base, and --items), through the same calls the web answer makes (`catalogue_stream`,
`stream`). The baseline in the same run: the CSV built the way it was before, every row in a
list and the file rendered whole (`catalogue()` + `render`). Targets: the streamed growth at
--items within 1.5x of its growth at the small size (flat), and below a tenth of the whole-list
way's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.pages as pages  # noqa: E402
from bench._common import Row, report  # noqa: E402
from publisher.compliance.catalogue import catalogue_table  # noqa: E402
from publisher.compliance.tabular import render, stream  # noqa: E402
from publisher.runtime import Runtime, build_runtime  # noqa: E402
from publisher.settings import Settings  # noqa: E402

FLAT_RATIO = 1.5
FORMATS = ("csv", "xlsx", "json")


def measure(url: str, mode: str) -> dict[str, float]:
    """In this process: produce the file (`mode`: a format, or 'whole'), consuming its chunks;
    the peak resident memory's growth, the time and the bytes written."""
    with tempfile.TemporaryDirectory() as tmp:
        rt = runtime(url, tmp)
        try:
            produce = whole(rt) if mode == "whole" else streamed(rt, mode)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            size = 0
            for chunk in produce():
                size += len(chunk)
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        finally:
            rt.close()
    return {"mb": (after - before) / 1024, "seconds": seconds, "bytes": size}


def peak(url: str, mode: str) -> tuple[float, float, int]:
    """`measure` in a fresh subprocess (a peak is a process's whole life)."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", url, mode], check=True, capture_output=True, text=True
    ).stdout
    found = json.loads(out.strip().splitlines()[-1])
    return found["mb"], found["seconds"], int(found["bytes"])


def runtime(url: str, tmp: str) -> Runtime:
    return build_runtime(Settings(data_dir=Path(tmp), database={"url": url}))


def streamed(rt: Runtime, fmt: str) -> Callable[[], Iterator[bytes]]:
    def produce() -> Iterator[bytes]:
        table = catalogue_table(rt.compliance.catalogue_stream(), "基准", None)
        return stream(table, fmt, filters={}, generated_at="")

    return produce


def whole(rt: Runtime) -> Callable[[], Iterator[bytes]]:
    def produce() -> Iterator[bytes]:
        table = catalogue_table(rt.compliance.catalogue(), "基准", None)
        return iter([render(table, "csv")])

    return produce


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--flat-base", type=int, default=10_000)
    ap.add_argument("--db", default="sqlite", help="sqlite or postgres")
    ap.add_argument("--no-whole", action="store_true", help="skip the whole-list baseline (slow at scale)")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(*args.one)))
        return
    kind = args.db
    figures: dict[int, dict[str, tuple[float, float, int]]] = {}
    for size in (args.flat_base, args.items):
        with pages.archive(kind, size) as (url, counts):
            print(pages._describe(kind, counts), flush=True)
            figures[size] = {}
            for fmt in FORMATS:
                figures[size][fmt] = peak(url, fmt)
                mb, seconds, written = figures[size][fmt]
                print(
                    f"  {fmt} streamed: peak RSS +{mb:.1f} MB, {seconds:.1f} s, {written / 2**20:.1f} MB written",
                    flush=True,
                )
            if not args.no_whole:
                figures[size]["whole"] = peak(url, "whole")
                mb, seconds, written = figures[size]["whole"]
                print(f"  csv as a whole list: peak RSS +{mb:.1f} MB, {seconds:.1f} s", flush=True)
    small, large = figures[args.flat_base], figures[args.items]
    rows: list[Row] = []
    for fmt in FORMATS:
        rows.append(
            (
                f"catalogue .{fmt} export ({kind}, {args.items:,} items), peak RSS growth MB, streamed",
                f"{large[fmt][0]:.1f} ({large[fmt][2] / 2**20:.0f} MB file, {large[fmt][1]:.0f} s)",
                f"{small[fmt][0]:.1f} at {args.flat_base:,} items",
                large[fmt][0] / small[fmt][0],
                f"<= {FLAT_RATIO}x",
            )
        )
    if "whole" in large:
        rows.append(
            (
                f"catalogue .csv export ({kind}, {args.items:,} items), streamed vs whole list, peak RSS growth MB",
                f"{large['csv'][0]:.1f}",
                f"{large['whole'][0]:.1f} (whole list, {large['whole'][1]:.0f} s)",
                large["csv"][0] / large["whole"][0],
                "<= 0.1x",
            )
        )
    report(rows)


if __name__ == "__main__":
    main()
