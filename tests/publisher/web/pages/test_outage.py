"""An outage reads at a glance on the ops dashboard (a real webhook receiver answering 503):
the channel by name, the last error in plain Chinese with the technical text behind a toggle,
since when, the next retry and what to do; the deliveries waiting to retry have their own
queue. The plain wording of each kind of failure is checked too."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from publisher.editorial.outages import explain
from publisher.runtime import Runtime
from publisher.web import create_app
from tests.conftest import Team
from tests.publisher.web.pages.conftest import PASSWORD, log_in
from tests.receiver import Receiver, webhook_channels
from tests.support import publish, wait_for

SLOW_RETRY = {"retry": {"base_seconds": 600, "cap_seconds": 600, "jitter": 0.0, "max_attempts": 5}}


@pytest.fixture
def failing(make_runtime: Callable[..., Runtime]) -> Iterator[tuple[Runtime, Receiver]]:
    receiver = Receiver(default=503).start()
    rt = make_runtime({"rss": {"enabled": True}, **webhook_channels(receiver.url, **SLOW_RETRY)}, sweep=0.05)
    rt.service.add_user("duty", "ops", PASSWORD)
    try:
        yield rt, receiver
    finally:
        receiver.stop()


def test_an_outage_banner_and_the_retry_queue(failing: tuple[Runtime, Receiver], team: Team) -> None:
    rt, receiver = failing
    uid = publish(rt, team, title="关于发布预算公开目录的通知")
    wait_for(
        lambda: (
            rt.service.deliveries(uid)
            and {d["channel"]: d["state"] for d in rt.service.deliveries(uid)}.get("webhook.hooks")
            == "retry_wait"
        )
    )
    with TestClient(create_app(rt)) as client:
        log_in(client, "duty")
        soup = BeautifulSoup(client.get("/app/ops").text, "html.parser")
        banner = soup.select_one('.outage[data-channel="webhook.hooks"]')
        assert banner is not None, soup.select(".outage")
        text = banner.get_text(" ", strip=True)
        assert "对方服务器出错（HTTP 503）" in banner.select_one(".outage-what").get_text()
        assert "自 " in text and "下次重试" in text and "1 条投递在等待" in text
        assert "处理建议" in text and "自动重试" in text
        # the technical text only behind the toggle
        details = banner.select_one("details")
        assert (
            "HTTP 503" in details.select_one("code").get_text() and "outcome=transient" in details.get_text()
        )
        assert "outcome=" not in banner.select_one(".outage-what").get_text()
        assert soup.select('.outage[data-channel="rss"]') == []  # a healthy channel has none
        # the retry queue lists it, soonest first, in plain words
        queue = BeautifulSoup(client.get("/app/ops/retrying").text, "html.parser")
        rows = queue.select("#retrying tr[data-id]")
        assert len(rows) == 1 and "关于发布预算公开目录的通知" in rows[0].get_text()
        assert "推送（hooks）" in rows[0].get_text() and "对方服务器出错" in rows[0].get_text()
        empty = BeautifulSoup(client.get("/app/ops/retrying?channel=rss").text, "html.parser")
        assert empty.select_one("#retrying-empty") is not None
    assert receiver.hits


@pytest.mark.parametrize(
    ("kind", "status", "error", "plain"),
    [
        ("transient", 503, "Service Unavailable", "对方服务器出错（HTTP 503）"),
        ("transient", None, "ReadTimeout: timed out", "连接对方服务器超时"),
        ("transient", None, "ConnectError: [Errno 111] Connection refused", "无法连接对方服务器"),
        ("permanent", 401, "invalid credential", "对方拒绝了我们的凭据"),
        ("rate_limited", 429, None, "对方限制了发送频率"),
        ("permanent", 422, "title too long", "对方拒绝了这条内容（HTTP 422）"),
        ("config", None, "no url", "渠道配置有误"),
        ("error", None, "KeyError: 'x'", "内部错误"),
    ],
)
def test_each_failure_reads_in_plain_chinese(
    kind: str, status: int | None, error: str | None, plain: str
) -> None:
    problem = explain(kind, status, error)
    assert plain in problem.plain and problem.advice
    assert "Error" not in problem.plain and "HTTP 5" not in problem.advice
