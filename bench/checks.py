"""Content checks benchmark: is the check fast enough to run at every pause in typing?

    .venv/bin/python bench/checks.py            # 20,000-character body, 50,000-entry dictionary
    .venv/bin/python bench/checks.py --quick    # fewer rounds

A body of 20,000 characters (the public 2019 disclosure plan repeated, in paragraphs and
headings, with a few dictionary hits, a name and title, an ID number and a table mixed in) is
checked against the starter dictionary plus 49,800 generated entries of 2 to 6 CJK
characters, by every content rule except the network (`check_subject`). Baseline in the same
run: a plain `str.find` loop over the same 50,000 terms on the same (normalised) text, the
obvious way to write a dictionary check. Target: the whole check under 20 ms (median), as
wall time and as the process's CPU time (on a shared machine the wall time includes waiting
for a core). Also shown: the wording rule alone and the dictionary's build.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import report  # noqa: E402
from publisher.editorial.checks import check_subject, subject_of  # noqa: E402
from publisher.editorial.checks.register import Held, Register  # noqa: E402
from publisher.editorial.checks.wording import STARTER, Dictionary, Kind, Term, read_tsv  # noqa: E402

# the public plan: the repository's copy (tests/data), else the workspace's shared reference
PLAN = next(
    (
        p
        for p in (
            ROOT / "tests" / "data" / "seed-2019-disclosure-plan.txt",
            ROOT.parent.parent / "shared" / "reference" / "seed-2019-disclosure-plan.txt",
        )
        if p.exists()
    ),
    ROOT / "tests" / "data" / "seed-2019-disclosure-plan.txt",
)
FALLBACK = (
    "坚持以人民为中心的发展思想，全面推进决策、执行、管理、服务、结果公开，进一步提升政务公开质量和实效。"
)
TERMS = 50_000
BODY_CHARS = 20_000


def dictionary_terms(rng: random.Random) -> list[Term]:
    starter = read_tsv(STARTER)
    alphabet = [chr(c) for c in range(0x4E00, 0x9FA6)]  # the whole CJK unified block: a wide root
    seen = {t.key for t in starter}
    out = list(starter)
    kinds = (Kind.WRONG, Kind.NORMATIVE, Kind.FORBIDDEN)
    while len(out) < TERMS:
        term = "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 6)))
        if term not in seen:
            seen.add(term)
            kind = kinds[len(out) % 3]
            out.append(Term(term, kind, "正确写法" if kind is Kind.WRONG else None))
    return out


def body_html() -> str:
    lines = PLAN.read_text(encoding="utf-8").splitlines()[3:] if PLAN.exists() else [FALLBACK] * 40
    parts: list[str] = []
    size = 0
    extras = [
        "<p>深入开展扫黑险恶专项斗争，副局长张三出席。</p>",
        "<p>联系人身份证号 11010519491231002X。</p>",
        "<table><tr><th>项目</th><th>金额</th></tr><tr><td>一般公共预算</td><td>1,200</td></tr></table>",
        '<p>详见<a href="https://www.gov.cn/zhengce/">《条例》全文</a>。</p>',
        '<p><img src="https://czj.sh.gov.cn/i/2019-budget-chart.png" alt="2019年预算收支结构图"></p>',
    ]
    n = 0
    while size < BODY_CHARS:
        line = lines[n % len(lines)]
        tag = "h2" if line.startswith(("一、", "二、")) else ("h3" if line.startswith("（") else "p")
        chunk = f"<{tag}>{line}</{tag}>"
        if n % 25 == 0:
            chunk += extras[(n // 25) % len(extras)]
        parts.append(chunk)
        size += len(chunk)
        n += 1
    return "".join(parts)[:BODY_CHARS].rsplit("<", 1)[0]


def timed(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process, in ms. On a shared machine the
    wall time includes waiting for a core; the CPU time is what the check itself costs."""
    fn()  # warm
    wall, cpu = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds = 5 if args.quick else 21
    rng = random.Random(19)
    terms = dictionary_terms(rng)

    t0 = time.perf_counter()
    dictionary = Dictionary(terms)
    build_ms = (time.perf_counter() - t0) * 1000
    people = Register([Held("张三", "局长", date(2018, 1, 1)), Held("李四", "副局长", date(2018, 1, 1))])
    body = body_html()
    content = {
        "type": "policy",
        "title": "上海市财政局2019年政务公开实施方案",
        "issue_date": "2019-04-04",
        "body_html": body,
    }
    now = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)

    def full() -> object:
        subject = subject_of(content)
        return check_subject(subject, dictionary=dictionary, people=people, now=now)

    problems = full()
    assert isinstance(problems, list)
    found = sorted({p.rule for p in problems})

    compact = subject_of(content).texts["body_html"].compact
    keys = list(dictionary.terms)

    def wording_only() -> object:
        return dictionary.find(compact)

    def find_loop() -> object:
        hits = []
        for key in keys:
            at = compact.find(key)
            while at >= 0:
                hits.append((at, key))
                at = compact.find(key, at + 1)
        return hits

    assert {s for s, _ in find_loop()} >= {h.start for h in dictionary.find(compact)}  # type: ignore[attr-defined]
    full_ms, full_cpu = timed(full, rounds)
    wording_ms, wording_cpu = timed(wording_only, rounds)
    baseline_ms, baseline_cpu = timed(find_loop, max(3, rounds // 4))
    print(f"body {len(body)} characters, dictionary {len(dictionary)} entries, build {build_ms:.0f} ms")
    print(f"problems found: {len(problems)} ({', '.join(found)})")
    report(
        [
            (
                f"all content rules, {len(body):,}-char body, {len(dictionary):,} terms (median)",
                f"{full_ms:.1f} ms",
                f"{baseline_ms:.1f} ms str.find loop",
                full_ms / baseline_ms,
                "< 20 ms",
            ),
            (
                "the same, CPU time of the process (median)",
                f"{full_cpu:.1f} ms",
                f"{baseline_cpu:.1f} ms str.find loop",
                full_cpu / baseline_cpu,
                "< 20 ms",
            ),
            (
                "wording rule alone (automaton over the body; wall, CPU)",
                f"{wording_ms:.1f} ms, {wording_cpu:.1f} ms",
                f"{baseline_ms:.1f} ms str.find loop",
                wording_ms / baseline_ms,
                "(reference)",
            ),
            ("dictionary build, once per dictionary version", f"{build_ms:.0f} ms", "", "", "(reference)"),
        ]
    )


if __name__ == "__main__":
    main()
