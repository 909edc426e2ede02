"""The alert tests' pieces: a minimal SMTP sink, a runtime whose alerts go to a signed
webhook receiver, and reads of the alert tables."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from publisher.alerting.clock import TickReport
from publisher.domain.clock import utcnow
from publisher.runtime import Runtime
from publisher.store.models import AlertAttempt, AlertGroup, AlertNotification
from tests.receiver import SECRET, Receiver, webhook_channels


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


TIMING = {"group_wait_seconds": 30, "group_interval_seconds": 300, "repeat_interval_seconds": 3600}
FAST_RETRY = {"max_attempts": 3, "base_seconds": 10, "cap_seconds": 60, "jitter": 0.0}


@dataclass
class Ops:
    """A runtime without an executor (the test drives deliveries and the alert clock with its
    own `now`), one webhook subscriber `subscriber`, and alerts going to `alerts`."""

    rt: Runtime
    subscriber: Receiver
    alerts: Receiver
    channel: str = "webhook.hooks"

    def deliver_all(self) -> None:
        """Run every due delivery once (what the executor would do)."""
        from publisher.delivery import ledger

        with self.rt.db.reader() as s:
            due = ledger.due_ids(s, utcnow() + timedelta(days=1))
        for delivery_id in due:
            self.rt.engine.process(delivery_id)

    def tick(self, at: datetime) -> TickReport:
        return self.rt.alerts.clock.tick(at)

    def bodies(self) -> list[dict[str, Any]]:
        return [h.body for h in self.alerts.hits if h.status < 300]

    def notifications(self) -> list[AlertNotification]:
        with self.rt.db.reader() as s:
            return list(s.execute(select(AlertNotification).order_by(AlertNotification.id)).scalars())

    def attempts(self) -> list[AlertAttempt]:
        with self.rt.db.reader() as s:
            return list(s.execute(select(AlertAttempt).order_by(AlertAttempt.id)).scalars())

    def groups(self) -> dict[tuple[str, str], AlertGroup]:
        with self.rt.db.reader() as s:
            return {(g.kind, g.channel): g for g in s.execute(select(AlertGroup)).scalars()}


def ops_runtime(
    make_runtime: Callable[..., Runtime],
    subscriber: Receiver,
    alerts: Receiver,
    **alert_settings: Any,
) -> Ops:
    rt = make_runtime(
        channels=webhook_channels(subscriber.url),
        executor=False,
        alerts={
            **TIMING,
            "webhooks": [alerts.url],
            "webhook_secret": SECRET,
            "retry": FAST_RETRY,
            "dashboard_url": "https://publisher.example.gov.cn",
            **alert_settings,
        },
    )
    return Ops(rt, subscriber, alerts)
