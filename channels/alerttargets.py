"""Alert targets: send one rendered alert (publisher/alerting/) to a webhook — a JSON POST
signed with Standard Webhooks headers like our other webhooks (channels/signing.py), with
every live secret during rotation — or by mail through SMTP. Found by the core through
`channels.registry.alert_sender`; raises on any failure, the alert clock retries."""

from __future__ import annotations

import json
import smtplib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import httpx

from channels import signing


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    starttls: bool = False
    username: str | None = None
    password: str | None = None


class AlertSender:
    def __init__(
        self,
        webhooks: list[str],
        secrets: list[str],
        timeout: float,
        smtp: Smtp | None,
    ) -> None:
        for s in secrets:
            signing.parse_secret(s)  # a broken secret fails at start-up, not at the first alert
        self.webhooks = list(webhooks)
        self.secrets = list(secrets)
        self.timeout = timeout
        self.smtp = smtp

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AlertSender:
        mail = config.get("email")
        smtp = None
        if mail:
            smtp = Smtp(
                host=mail["smtp_host"],
                port=int(mail["smtp_port"]),
                sender=str(mail["sender"]),
                to=tuple(mail["to"]),
                starttls=bool(mail.get("starttls")),
                username=mail.get("username"),
                password=mail.get("password"),
            )
        return cls(
            list(config.get("webhooks") or ()),
            list(config.get("webhook_secrets") or ()),
            float(config.get("timeout_seconds") or 5.0),
            smtp,
        )

    def targets(self) -> list[str]:
        return [f"webhook:{u}" for u in self.webhooks] + (["email"] if self.smtp else [])

    def send(self, target: str, message_id: str, payload: Mapping[str, Any]) -> None:
        if target.startswith("webhook:"):
            self.post(target[len("webhook:") :], message_id, payload)
        elif target == "email" and self.smtp is not None:
            self.mail(self.smtp, message_id, payload)
        else:
            raise ValueError(f"未配置的告警目标 / target not configured: {target}")

    def post(self, url: str, message_id: str, payload: Mapping[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "publisher-alerts"}
        if self.secrets:
            headers.update(signing.signed_headers(self.secrets, message_id, int(time.time()), body))
        else:
            headers["webhook-id"] = message_id  # receivers still de-duplicate a retried alert
        with httpx.Client(timeout=self.timeout) as client:
            client.post(url, content=body, headers=headers).raise_for_status()

    def mail(self, smtp: Smtp, message_id: str, payload: Mapping[str, Any]) -> None:
        domain = smtp.sender.rpartition("@")[2] or "publisher.invalid"
        mail = EmailMessage()
        mail["Subject"] = str(payload["title"])
        mail["From"] = smtp.sender
        mail["To"] = ", ".join(smtp.to)
        mail["Date"] = formatdate(usegmt=True)
        # stable across retries, so a message sent twice is recognisably the same one
        mail["Message-ID"] = f"<{message_id}@{domain}>"
        thread = payload.get("thread")
        if thread:
            mail["References"] = f"<alert-group-{thread}@{domain}>"
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
        mail["X-Publisher-Alert"] = f"{payload.get('kind')}; status={payload.get('status')}"
        mail.set_content(str(payload["text"]), charset="utf-8")
        with smtplib.SMTP(smtp.host, smtp.port, timeout=self.timeout) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.username and smtp.password:
                client.login(smtp.username, smtp.password)
            client.send_message(mail)
