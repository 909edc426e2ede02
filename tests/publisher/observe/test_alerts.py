"""Alerts: grouped per window, sent to a real local webhook collector and a real (minimal)
SMTP server; a dead target never blocks or raises into the emitter; end to end from a
delivery that fails for good."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from publisher.delivery.executor import EmbeddedExecutor
from publisher.observe import alerts, events
from publisher.observe.alerts import Alerter, AlertSettings, EmailTarget
from publisher.runtime import build_runtime, use_executor
from publisher.settings import Settings, SettingsError
from tests.conftest import Team
from tests.receiver import SECRET, Receiver, webhook_channels
from tests.support import publish, wait_for


@dataclass
class Collector:
    """A JSON webhook endpoint that records bodies and answers `status`."""

    status: int = 200
    bodies: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def start(self) -> Collector:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                collector.bodies.append(json.loads(raw))
                self.send_response(collector.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()


class SmtpSink(socketserver.ThreadingTCPServer):
    """Just enough SMTP (RFC 5321 happy path) to receive messages from smtplib."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 sink ESMTP\r\n")
                sender, rcpts = "", []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    cmd = line.decode().strip()
                    upper = cmd.upper()
                    if upper.startswith(("EHLO", "HELO")):
                        self.wfile.write(b"250 sink\r\n")
                    elif upper.startswith("MAIL FROM:"):
                        sender = cmd[10:].strip(" <>")
                        self.wfile.write(b"250 ok\r\n")
                    elif upper.startswith("RCPT TO:"):
                        rcpts.append(cmd[8:].strip(" <>"))
                        self.wfile.write(b"250 ok\r\n")
                    elif upper == "DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk)
                        sink.messages.append({"from": sender, "to": rcpts, "data": b"".join(data)})
                        self.wfile.write(b"250 queued\r\n")
                    elif upper == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector().start()
    yield c
    c.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    s = SmtpSink()
    yield s
    s.shutdown()
    s.server_close()


def failed(n: int, channel: str = "webhook.hooks") -> dict[str, Any]:
    return {
        "delivery": n,
        "channel": channel,
        "operation": "publish",
        "error": f"HTTP 400 第{n}次",
        "attempts": 1,
    }


def test_a_burst_is_one_message_per_target_with_counts_and_first_details(
    collector: Collector, smtp: SmtpSink
) -> None:
    # given an alerter with a short window, a webhook and an SMTP target
    email = EmailTarget(
        smtp_host="127.0.0.1",
        smtp_port=smtp.server_address[1],
        sender="publisher@example.gov.cn",
        to=("ops@example.gov.cn",),
    )
    alerter = Alerter(
        AlertSettings(window_seconds=0.3, webhooks=(collector.url,), email=email, max_details=3)
    )
    alerter.start()
    try:
        # when seven delivery failures, a breaker opening and an ignored event arrive at once
        for n in range(7):
            alerter.handle("delivery.failed", failed(n))
        alerter.handle("breaker.open", {"channel": "webhook.hooks", "reason": "连续失败5次"})
        alerter.handle("channel.paused", {"channel": "cms", "reason": "维护"})
        wait_for(lambda: len(collector.bodies) == 1 and len(smtp.messages) == 1, 5, "one alert per target")
        time.sleep(0.5)
    finally:
        alerter.stop()
    # then exactly one message went to each target, counting everything and detailing the first three
    assert len(collector.bodies) == 1 and len(smtp.messages) == 1
    body = collector.bodies[0]
    assert body["total"] == 8 and body["counts"] == {"delivery.failed": 7, "breaker.open": 1}
    assert [d["delivery"] for d in body["details"]["delivery.failed"]] == [0, 1, 2]
    assert "另有 4 条" in body["text"] and body["title"].startswith("[发布平台告警] 8 条")
    mail = smtp.messages[0]
    assert mail["to"] == ["ops@example.gov.cn"] and mail["from"] == "publisher@example.gov.cn"
    assert b"Subject:" in mail["data"]
    assert alerter.sent == 2


def test_a_dead_target_never_blocks_or_raises_and_the_others_still_get_it(collector: Collector) -> None:
    # given a target that refuses connections, one that answers 500, and a working one
    broken = Collector(status=500).start()
    try:
        alerter = Alerter(
            AlertSettings(
                window_seconds=0.2, webhooks=("http://127.0.0.1:9/refused", broken.url, collector.url)
            )
        )
        alerter.start()
        events.subscribe(alerter.handle)
        try:
            # when an event is emitted through the bus, the emitter returns at once
            started = time.perf_counter()
            events.emit("channel.credentials_rejected", {"channel": "cms", "error": "401 rest_cannot_create"})
            assert time.perf_counter() - started < 0.05
            wait_for(lambda: len(collector.bodies) == 1, 5, "alert at the working target")
        finally:
            events.unsubscribe(alerter.handle)
            alerter.stop()
        # then the working target got it, the 500 target was tried, and only the working one counts as sent
        assert collector.bodies[0]["counts"] == {"channel.credentials_rejected": 1}
        assert len(broken.bodies) == 1
        assert alerter.sent == 1
    finally:
        broken.stop()


def test_settings_parse_targets_and_refuse_bad_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_SMTP_PW", "s3cret")
    s = AlertSettings.parse(
        {
            "window_seconds": 10,
            "webhooks": ["https://ops.example/hook"],
            "email": {
                "smtp_host": "mail",
                "from": "a@b",
                "to": "ops@b",
                "username": "u",
                "password_env": "ALERT_SMTP_PW",
            },
        }
    )
    assert s.window_seconds == 10 and s.webhooks == ("https://ops.example/hook",)
    assert s.email is not None and s.email.to == ("ops@b",) and s.email.password == "s3cret"
    assert not AlertSettings.parse({}).has_targets
    with pytest.raises(SettingsError, match="not an http"):
        AlertSettings.parse({"webhooks": ["ftp://x"]})
    with pytest.raises(SettingsError, match="from"):
        AlertSettings.parse({"email": {"smtp_host": "mail"}})
    with pytest.raises(SettingsError, match="must not be written"):
        AlertSettings.parse(
            {"email": {"smtp_host": "mail", "from": "a@b", "to": ["c@d"], "password": "inline"}}
        )


def test_install_end_to_end_a_delivery_that_fails_for_good_alerts_ops_with_the_item(
    settings: Settings, team: Team, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a runtime whose webhook subscriber answers 400, with alerts to the collector
    monkeypatch.setenv("PUBLISHER_TEST_WEBHOOK_SECRET", SECRET)
    receiver = Receiver(default=400).start()
    s = settings.replace(
        channels=webhook_channels(receiver.url),
        alerts={"window_seconds": 0.3, "webhooks": [collector.url]},
    )
    rt = build_runtime(s)
    use_executor(rt, EmbeddedExecutor(rt.engine, threads_per_channel=1, sweep_interval=0.05))
    rt.start()
    alerter = alerts.install(rt)
    assert alerter is not None and rt.extras["alerts"] is alerter
    try:
        # when an approved policy's delivery is refused
        uid = publish(rt.service, team, title="告警测试政策")
        wait_for(lambda: rt.service.deliveries(uid)[0]["state"] == "failed")
        wait_for(lambda: len(collector.bodies) == 1, 5, "the alert")
    finally:
        alerts.uninstall(alerter)
        rt.close()
        receiver.stop()
    # then ops hear about it once, with the item's uid and title and the stored error
    [detail] = collector.bodies[0]["details"]["delivery.failed"]
    assert detail["item"] == uid and detail["title"] == "告警测试政策"
    assert detail["channel"] == "webhook.hooks" and "400" in detail["error"]


def test_install_without_targets_subscribes_nothing(settings: Settings) -> None:
    rt = build_runtime(settings)
    try:
        assert alerts.install(rt) is None and "alerts" not in rt.extras
    finally:
        rt.close()
