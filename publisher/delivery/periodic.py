"""The periodic scheduler's work, run by the executor's clock (the embedded sweeper, or
Celery beat's `publisher.compliance_checks`): each enabled channel's daily digest broadcast,
then the compliance checks (statutory deadlines, inspection watch, closed consultations), then
a bounded fold of the maintained counters' deltas (PostgreSQL's; publisher/store/counters.py)
and a bounded pruning of the newest attempts' copies (publisher/store/recent.py).
Not the engine's business: the engine moves single deliveries through the ledger.
Post-publication inspection runs on the same clock, after every sweep, in rounds of its own
(`publisher/delivery/inspection.py`, hooked in by `publisher.runtime.build_runtime`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from datetime import time as day_time
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.base import ChannelError, Digesting
from publisher.delivery.channelset import ChannelSet
from publisher.domain.actions import AuditAction
from publisher.domain.clock import SHANGHAI, local_today, utcnow
from publisher.domain.item import DeliveryState, Operation, VersionView
from publisher.editorial import audit
from publisher.editorial.views import views_of
from publisher.settings import Settings
from publisher.store import counters, recent
from publisher.store.db import Database
from publisher.store.models import AuditEvent, Delivery, Item, ItemVersion

log = logging.getLogger(__name__)


def run_periodic(db: Database, settings: Settings, channels: ChannelSet, now: datetime | None = None) -> None:
    """The digests, then the compliance checks, then the counters' fold and the pruning of the
    recent attempts."""
    from publisher.compliance import run_checks  # compliance needs the store only when this runs

    moment = now or utcnow()
    run_digests(db, settings, channels, moment)  # never raises: a failing broadcast must not stop the checks
    try:
        db.run(lambda s: run_checks(s, settings, moment))
    finally:
        # /metrics and the ops pages fold too, but a deployment nobody scrapes would otherwise
        # grow counter_deltas (and every counted read's cost) without bound
        counters.fold_batches(db)
        # the copies of the newest attempts below the newest few thousand (no reader needs them)
        recent.prune(db)


def run_digests(
    db: Database, settings: Settings, channels: ChannelSet, now: datetime | None = None
) -> dict[str, str]:
    """Offer each enabled channel the items delivered on it today (Asia/Shanghai), not
    withdrawn, for its daily digest broadcast (`channels.base.Digesting`). A sent digest is audited
    as `channel.digest` with its receipt, and once audited that channel is not asked again
    that day; a failure is logged and audited as `channel.digest_failed` and asked again
    on the next run. Returns each channel's outcome: "sent", "done" (sent earlier today),
    "none" (the channel sent nothing) or "failed". Never raises."""
    moment = now or utcnow()
    day = local_today(moment)
    start = datetime.combine(day, day_time(), SHANGHAI)
    outcomes: dict[str, str] = {}

    def collect(s: Session, name: str) -> tuple[bool, list[VersionView]]:
        sent = any(
            (e.data or {}).get("channel") == name and (e.data or {}).get("day") == day.isoformat()
            for e in s.execute(
                select(AuditEvent).where(
                    AuditEvent.action == AuditAction.CHANNEL_DIGEST,
                    AuditEvent.at >= start - timedelta(days=1),
                )
            ).scalars()
        )
        if sent:
            return True, []
        # today's deliveries on every channel, the channel picked here: with `channel = ?` in
        # the statement SQLite (no statistics) reads every delivered row of the channel through
        # (channel, state) instead of today's range of ix_deliveries_delivered
        rows = (
            s.execute(
                select(Delivery.channel, Delivery.item_id, Delivery.version_id)
                .join(Item, Item.id == Delivery.item_id)
                .where(
                    Delivery.state == DeliveryState.DELIVERED,
                    Delivery.operation.in_([Operation.PUBLISH.value, Operation.UPDATE.value]),
                    Delivery.delivered_at >= start,
                    Delivery.delivered_at < start + timedelta(days=1),
                    Item.withdrawn_at.is_(None),
                )
                .order_by(Delivery.id)
            )
            .tuples()
            .all()
        )
        # the newest per item
        latest = {item_id: version_id for channel, item_id, version_id in rows if channel == name}
        pairs = []
        for item_id, version_id in latest.items():
            item, version = s.get(Item, item_id), s.get(ItemVersion, version_id)
            assert item is not None and version is not None
            pairs.append((item, version))
        return False, views_of(s, settings, pairs)

    for name in settings.enabled_channels():
        try:
            adapter = channels.get(name)
            if not isinstance(adapter, Digesting):  # does not bundle: spare the query
                outcomes[name] = "none"
                continue
            with db.reader() as s:
                done, views = collect(s, name)
            if done:
                outcomes[name] = "done"
                continue
            if not views:
                outcomes[name] = "none"
                continue
            receipt = adapter.digest(views, day=day, now=moment)
            if receipt is None:
                outcomes[name] = "none"
                continue
            data = {
                "channel": name,
                "day": day.isoformat(),
                "external_id": receipt.external_id,
                "accepted": receipt.accepted,
                "receipt": dict(receipt.data),
            }
            db.run(partial(audit.append, actor="system", action=AuditAction.CHANNEL_DIGEST, data=data))
            log.info("digest of %s on %s sent: %s", day, name, receipt.external_id)
            outcomes[name] = "sent"
        except Exception as exc:
            log.exception("digest of %s on %s failed", day, name)
            message = exc.message if isinstance(exc, ChannelError) else f"{type(exc).__name__}: {exc}"
            outcomes[name] = "failed"
            try:
                db.run(
                    partial(
                        audit.append,
                        actor="system",
                        action=AuditAction.CHANNEL_DIGEST_FAILED,
                        reason=message[:500],
                        data={"channel": name, "day": day.isoformat()},
                    )
                )
            except Exception:
                log.exception("could not audit the failed digest on %s", name)
    return outcomes
