"""Alerts to ops: a delivery failed for good, a breaker opened, credentials were rejected, a
channel flagged a live copy, a disclosure deadline is at risk.

Grouped, not one message per error: events from `publisher.observe.events` are buffered, and one
window (30 s by default) after the first of them a single summary goes to every target —
counts per kind and the first few details. Handlers run on the caller's thread right after
a commit, so `handle` only appends to a bounded buffer; sending happens on the alerter's own
thread, and a target that is down is logged, never raised.

Configuration (`[alerts]` in the settings file):

    [alerts]
    window_seconds = 30
    webhooks = ["https://ops.example/hooks/publisher"]      # JSON POST of the summary
    events = ["delivery.failed", "breaker.open", …]          # optional: defaults to ALERT_EVENTS
    [alerts.email]                                           # optional: only with an SMTP host
    smtp_host = "127.0.0.1"
    smtp_port = 25
    starttls = false
    username = "publisher"                                   # optional
    password_env = "PUBLISHER_ALERTS_SMTP_PASSWORD"          # optional; never inline
    from = "publisher@example.gov.cn"
    to = ["ops@example.gov.cn"]

`install(runtime)` wires it up for `publisher serve`.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy import select

from publisher.domain.clock import local
from publisher.observe import events
from publisher.runtime import Runtime
from publisher.settings import AlertsSettings, SettingsError
from publisher.store.models import Item

log = logging.getLogger(__name__)

ALERT_EVENTS: dict[str, str] = {
    "delivery.failed": "投递最终失败 / delivery failed for good",
    "breaker.open": "渠道熔断 / circuit breaker opened",
    "channel.credentials_rejected": "渠道凭据被拒绝 / channel credentials rejected",
    "deadline.at_risk": "公开时限临近 / disclosure deadline at risk",
    "item.flagged": "渠道标记异常 / a channel flagged a live copy",
}
MAX_BUFFER = 10_000


@dataclass(frozen=True)
class EmailTarget:
    smtp_host: str
    to: tuple[str, ...]
    sender: str
    smtp_port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class AlertSettings:
    window_seconds: float = 30.0
    webhooks: tuple[str, ...] = ()
    email: EmailTarget | None = None
    events: frozenset[str] = frozenset(ALERT_EVENTS)
    max_details: int = 5
    timeout_seconds: float = 5.0

    @property
    def has_targets(self) -> bool:
        return bool(self.webhooks or self.email)

    @classmethod
    def parse(cls, section: AlertsSettings | Mapping[str, Any]) -> AlertSettings:
        """From the typed `[alerts]` section (or a raw mapping, checked the same way)."""
        if not isinstance(section, AlertsSettings):
            if (section.get("email") or {}).get("password"):
                raise SettingsError("alerts.email.password must not be written inline: use password_env")
            try:
                section = AlertsSettings.model_validate(section)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise SettingsError(f"alerts.{where}: {first['msg']}") from None
        unknown = set(section.events or ()) - set(ALERT_EVENTS)
        if unknown:
            raise SettingsError(
                f"alerts.events: unknown event {sorted(unknown)[0]!r}; known: {sorted(ALERT_EVENTS)}"
            )
        mail = section.email
        email = None
        if mail.smtp_host:
            email = EmailTarget(
                smtp_host=mail.smtp_host,
                smtp_port=mail.smtp_port,
                starttls=mail.starttls,
                username=mail.username,
                password=mail.password.get_secret_value() if mail.password else None,
                sender=str(mail.sender),
                to=tuple(mail.to),
            )
        return cls(
            window_seconds=section.window_seconds,
            webhooks=tuple(section.webhooks),
            email=email,
            events=frozenset(section.events) if section.events else frozenset(ALERT_EVENTS),
            max_details=section.max_details,
            timeout_seconds=section.timeout_seconds,
        )


@dataclass(frozen=True)
class Event:
    at: float
    name: str
    data: dict[str, Any]


@dataclass
class Alerter:
    settings: AlertSettings
    # Adds readable context (item uid and title) to an event's data; runs on the alerter thread.
    describe: Callable[[list[Event]], None] | None = None
    sent: int = 0
    dropped: int = 0
    _buffer: list[Event] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    # -- the event bus side: must be cheap and never raise ---------------------------------
    def handle(self, name: str, data: dict[str, Any]) -> None:
        if name not in self.settings.events:
            return
        with self._lock:
            if len(self._buffer) >= MAX_BUFFER:
                self.dropped += 1
                return
            self._buffer.append(Event(time.time(), name, dict(data)))
        self._pending.set()

    # -- the alerter thread -------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="publisher-alerts", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and send what is buffered (shutdown must not swallow an alert)."""
        self._stop.set()
        self._pending.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._pending.wait()
            if self._stop.is_set():
                return
            # the window opens with the first event and closes `window_seconds` later
            self._stop.wait(self.settings.window_seconds)
            self._pending.clear()
            try:
                self.flush()
            except Exception:  # a bug in formatting must not kill alerting for good
                log.exception("sending alerts failed")

    def flush(self) -> dict[str, Any] | None:
        with self._lock:
            batch, self._buffer = self._buffer, []
            dropped, self.dropped = self.dropped, 0
        if not batch:
            return None
        if self.describe is not None:
            try:
                self.describe(batch)
            except Exception:  # context is a nicety; the alert goes out without it
                log.exception("describing alert events failed")
        message = summarise(batch, self.settings.max_details, dropped)
        for url in self.settings.webhooks:
            try:
                self._post(url, message)
                self.sent += 1
            except Exception as exc:  # one target down must not stop the others
                log.error("alert webhook %s failed: %s", url, exc)
        if self.settings.email is not None:
            try:
                self._mail(self.settings.email, message)
                self.sent += 1
            except Exception as exc:
                log.error("alert email via %s failed: %s", self.settings.email.smtp_host, exc)
        return message

    def _post(self, url: str, message: dict[str, Any]) -> None:
        with httpx.Client(
            timeout=self.settings.timeout_seconds, headers={"User-Agent": "publisher-alerts"}
        ) as client:
            response = client.post(url, json=message)
            response.raise_for_status()

    def _mail(self, target: EmailTarget, message: dict[str, Any]) -> None:
        mail = EmailMessage()
        mail["Subject"] = message["title"]
        mail["From"] = target.sender
        mail["To"] = ", ".join(target.to)
        mail.set_content(message["text"])
        with smtplib.SMTP(target.smtp_host, target.smtp_port, timeout=self.settings.timeout_seconds) as smtp:
            if target.starttls:
                smtp.starttls()
            if target.username and target.password:
                smtp.login(target.username, target.password)
            smtp.send_message(mail)


def _line(event: Event) -> str:
    d = event.data
    parts = [local(datetime.fromtimestamp(event.at, UTC)).strftime("%H:%M:%S")]
    for key, label in (
        ("channel", "渠道"),
        ("title", "信息"),
        ("item", "uid"),
        ("delivery", "投递"),
        ("operation", "操作"),
        ("attempts", "尝试"),
        ("error", "错误"),
        ("reason", "原因"),
        ("flag", "标记"),
        ("due", "期限"),
    ):
        if d.get(key) not in (None, ""):
            parts.append(f"{label} {d[key]}")
    return " · ".join(str(p) for p in parts)


def summarise(batch: list[Event], max_details: int, dropped: int = 0) -> dict[str, Any]:
    counts = Counter(e.name for e in batch)
    heads = "；".join(f"{ALERT_EVENTS.get(n, n).split(' / ')[0]} {c}" for n, c in counts.most_common())
    title = f"[发布平台告警] {len(batch)} 条：{heads}"
    lines = [title, ""]
    details: dict[str, list[dict[str, Any]]] = {}
    for name, count in counts.most_common():
        of_kind = [e for e in batch if e.name == name]
        details[name] = [
            {"at": datetime.fromtimestamp(e.at, UTC).isoformat(), **e.data} for e in of_kind[:max_details]
        ]
        lines.append(f"{ALERT_EVENTS.get(name, name)}：{count}")
        lines += [f"  - {_line(e)}" for e in of_kind[:max_details]]
        if count > max_details:
            lines.append(f"  … 另有 {count - max_details} 条 / {count - max_details} more")
    if dropped:
        lines.append(f"（缓冲已满，丢弃 {dropped} 条 / {dropped} dropped: buffer full）")
    return {
        "source": "publisher",
        "title": title,
        "since": datetime.fromtimestamp(batch[0].at, UTC).isoformat(),
        "until": datetime.fromtimestamp(batch[-1].at, UTC).isoformat(),
        "total": len(batch),
        "counts": dict(counts),
        "details": details,
        "dropped": dropped,
        "text": "\n".join(lines),
    }


def _describer(runtime: Runtime) -> Callable[[list[Event]], None]:
    def describe(batch: list[Event]) -> None:
        ids = {int(e.data["item_id"]) for e in batch if isinstance(e.data.get("item_id"), int)}
        if not ids:
            return
        with runtime.db.reader() as s:
            found = {
                i: (uid, title)
                for i, uid, title in s.execute(select(Item.id, Item.uid, Item.title).where(Item.id.in_(ids)))
            }
        for e in batch:
            hit = found.get(e.data.get("item_id"))
            if hit is not None:
                e.data.setdefault("item", hit[0])
                e.data.setdefault("title", hit[1])

    return describe


def install(runtime: Runtime) -> Alerter | None:
    """Subscribe an alerter to the event bus when `[alerts]` names a target; returns it (also
    kept in runtime.extras["alerts"]) so the caller can `stop()` it at shutdown."""
    settings = AlertSettings.parse(runtime.settings.alerts)
    if not settings.has_targets:
        log.info("alerts: no webhook or SMTP target configured; alerting is off")
        return None
    alerter = Alerter(settings, describe=_describer(runtime))
    events.subscribe(alerter.handle)
    alerter.start()
    runtime.extras["alerts"] = alerter
    log.info(
        "alerts: %d webhook(s)%s, window %.0f s",
        len(settings.webhooks),
        " + email" if settings.email else "",
        settings.window_seconds,
    )
    return alerter


def uninstall(alerter: Alerter) -> None:
    events.unsubscribe(alerter.handle)
    alerter.stop()
