"""No false alarm on correct documents: the six sample items (publisher/data/items.json, the
same as the workspace's shared fixtures) and the bureau's public 2019 disclosure plan (copied
into tests/data so a fresh clone has it), under every rule."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest

from publisher.editorial.checks import check_subject, subject_of
from publisher.editorial.checks.links import Probe
from publisher.editorial.checks.register import Held, Register
from tests.publisher.editorial.checks.support import NOW, d, dictionary

ROOT = Path(__file__).resolve().parents[4]
SOURCES = [ROOT / "publisher" / "data" / "items.json"]
PLAN = ROOT / "tests" / "data" / "seed-2019-disclosure-plan.txt"
# a register that names people and titles, so the register rules run over the samples too
PEOPLE = Register([Held("张三", "局长", d("2018-01-01")), Held("李四", "副局长", d("2018-01-01"))])


def _items(path: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["items"]
    return items


def _all_links_fine(subject: Any) -> dict[str, Probe]:
    return {link.url: Probe(link.url, 200, link.url) for link in subject.links}


SAMPLES = [(path, item) for path in SOURCES for item in _items(path)]


def test_the_fixtures_are_there() -> None:
    assert len(SAMPLES) == 6 and PLAN.exists(), "the sample items and the plan are part of the repository"


@pytest.mark.parametrize("path,item", SAMPLES, ids=[f"{p.parent.name}-{i['ref']}" for p, i in SAMPLES])
def test_no_problem_on_a_sample_item(path: Path, item: dict[str, Any]) -> None:
    subject = subject_of(item)
    problems = check_subject(
        subject, dictionary=dictionary(), people=PEOPLE, now=NOW, link_results=_all_links_fine(subject)
    )
    assert [(p.rule, p.field, p.matched) for p in problems] == []


def test_no_problem_on_the_public_2019_plan() -> None:
    lines = PLAN.read_text(encoding="utf-8").splitlines()
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines[1:])
    item = {
        "type": "policy",
        "title": lines[0],
        "issue_date": "2019-04-04",
        "subject": "综合政务\\政务公开",
        "description": "根据2019年上海市政务公开工作要点等要求，结合市财政局工作实际，制定本实施方案。",
        "body_html": body,
    }
    problems = check_subject(subject_of(item), dictionary=dictionary(), people=PEOPLE, now=NOW)
    assert [(p.rule, p.field, p.matched) for p in problems] == []
    assert "保密审查" in body and "公开为常态" in body  # the near-misses it holds are really read
