"""Sample items for tests, from the project's copy of the fixtures."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "publisher" / "data" / "items.json"


def sample(ref: str, **overrides: Any) -> dict[str, Any]:
    """A fixture item as an editor submits it: without its legacy 索取号 (the system's alone;
    `legacy_index_number(ref)` gives it, for `Service.import_index_number`)."""
    item = copy.deepcopy(_fixture(ref))
    item.pop("index_number", None)
    item.update(overrides)
    return item


def legacy_index_number(ref: str) -> str:
    return str(_fixture(ref)["index_number"])


def _fixture(ref: str) -> dict[str, Any]:
    items = json.loads(FIXTURES.read_text(encoding="utf-8"))["items"]
    found: dict[str, Any] = next(i for i in items if i["ref"] == ref)
    return found


def policy(**overrides: Any) -> dict[str, Any]:
    base = {
        "type": "policy",
        "title": "关于进一步规范财政资金管理的通知",
        "issue_date": "2026-11-20",
        "doc_number": "沪财预[2026]12号",
        "subject": "财政\\预算",
        "description": "规范财政资金管理。",
        "body_html": "<p>正文。</p>",
    }
    base.update(overrides)
    return base
