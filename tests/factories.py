"""Builders for domain objects in tests (no store needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from publisher.domain.item import ItemType, VersionView


def make_version(**overrides: Any) -> VersionView:
    """A published policy version; override any field."""
    values: dict[str, Any] = dict(
        uid="01jdisclosure000000000test",
        version=1,
        content_hash="0" * 64,
        type=ItemType.POLICY,
        title="上海市财政局2019年政务公开实施方案",
        short_title=None,
        issuing_body="上海市财政局",
        issue_date=date(2019, 4, 4),
        doc_number="沪财预〔2019〕12号",
        index_number="AB1900010-2019-146",
        subject="综合政务\\政务公开",
        disclosure="主动公开",
        scope="面向社会",
        validity="有效",
        validity_changed_on=None,
        abolished_by=None,
        keywords=("政务公开", "实施方案"),
        description="根据2019年上海市政务公开工作要点等要求，制定本实施方案。",
        body_html="<p>正文第一段。</p><h2>一、总体要求</h2><p>坚持公开为常态。</p>",
        attachments=(),
        cover_url=None,
        interprets=None,
        interpreted_by=(),
        release_group=None,
        published_at=datetime(2019, 4, 4, 2, 0, tzinfo=UTC),
        created_at=datetime(2019, 4, 3, 2, 0, tzinfo=UTC),
        public_url="http://127.0.0.1:8000/items/01jdisclosure000000000test",
        structured={},
    )
    values.update(overrides)
    return VersionView(**values)
