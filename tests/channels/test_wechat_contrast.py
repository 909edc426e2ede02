"""Every colour the WeChat articles are written in keeps 4.5:1 against WeChat's white page
(GB/T 37668, the rule `a11y.contrast` applies to what editors write): judged by that rule on
the articles the channel renders, a publication, an update notice and an abolition notice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from channels.base import ChannelContext
from channels.wechat import WechatChannel, WechatSettings
from publisher.domain.item import Operation, Validity
from publisher.editorial.checks import subject_of
from publisher.editorial.checks.a11y import check
from tests.factories import make_version

BODY = (
    "<h2>一、总体要求</h2><p>正文，见<a href='https://www.shanghai.gov.cn/x'>《办法》全文</a>。</p>"
    "<blockquote>引用的原文</blockquote>"
    "<table><tr><th>项目</th><th>金额</th></tr><tr><td>甲</td><td>1</td></tr></table>"
)


@pytest.mark.parametrize("mode", ["republish", "notice"])
def test_the_articles_colours_keep_their_contrast(tmp_path: Path, mode: str) -> None:
    context = ChannelContext(
        public_base_url="http://127.0.0.1:8000", data_dir=tmp_path, agency_name="上海市财政局"
    )
    channel = WechatChannel(WechatSettings.model_validate({"enabled": True, "abolition_mode": mode}), context)
    attachments = ({"title": "实施细则", "url": "https://www.shanghai.gov.cn/a.pdf"},)
    versions = [
        (make_version(body_html=BODY, attachments=attachments), Operation.PUBLISH),
        (make_version(body_html=BODY, attachments=attachments), Operation.UPDATE),
        (
            make_version(
                body_html=BODY,
                validity=Validity.ABOLISHED,
                validity_changed_on=date(2026, 1, 1),
                abolished_by="01jabolishingnotice00000000",
            ),
            Operation.UPDATE,
        ),
    ]
    for version, op in versions:
        content = str(channel.render(version, op).body["article"]["content"])
        assert "color:" in content  # the article is written in colours: they are judged
        found = [p for p in check(subject_of({"body_html": content})) if p.rule == "a11y.contrast"]
        assert found == [], [(p.matched, p.message) for p in found]
