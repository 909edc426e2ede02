"""The delivery service: what people (ops) and providers do to deliveries, in one place.

Every ops action — replay one delivery, replay a channel's failed deliveries, make waiting
retries due now, pause and resume a channel — checks the ops role here, then runs through
the engine, whose ledger transitions write the audit event (`delivery.replay`,
`channel.retry_now`, `channel.pause`, `channel.resume`) in the same transaction.
Provider callbacks are verified by the channel's adapter and recorded here. The API
(publisher/web/ops.py, publisher/web/callbacks.py) and the CLI call these functions and
never open a database session or call the engine themselves.

Reads (lists, one delivery with its attempts, channel states, reconciliation) take no actor:
the API guards them with the ops role; the CLI runs with the operator's own database access.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.base import CallbackRequest, CallbackResponse, TakingCallbacks
from publisher.delivery import drift
from publisher.delivery.channelset import ChannelSet
from publisher.delivery.engine import Engine
from publisher.delivery.inspection import Inspector, Progress, Report
from publisher.delivery.reconcile import ChannelReport, reconcile
from publisher.domain.clock import utcnow
from publisher.domain.errors import NotFoundError, TransitionError, ValidationError
from publisher.domain.permissions import Permission
from publisher.editorial.auth import Actor
from publisher.editorial.service import Service, delivery_json
from publisher.settings import Settings, SettingsError
from publisher.store.db import Database
from publisher.store.models import Delivery, Drift, Item

log = logging.getLogger(__name__)


class DeliveryService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        engine: Engine,
        channels: ChannelSet,
        editorial: Service,
        inspector: Inspector,
    ) -> None:
        self.db = db
        self.settings = settings
        self.engine = engine
        self.channels = channels
        self.editorial = editorial
        self.inspector = inspector

    # -- reads ----------------------------------------------------------------------------------
    def listing(
        self, *, state: str | None = None, channel: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[int, list[dict[str, Any]]]:
        return self.editorial.list_deliveries(state=state, channel=channel, limit=limit, offset=offset)

    def get(self, delivery_id: int) -> dict[str, Any]:
        """One delivery with every attempt (status, provider code, error, response excerpt)."""
        with self.db.reader() as s:
            d = s.get(Delivery, delivery_id)
            if d is None:
                raise NotFoundError(f"未找到投递 {delivery_id} / delivery not found")
            data = delivery_json(d, None)
        data["attempt_log"] = self.editorial.attempts(delivery_id)
        return data

    def channel_status(self, channel: str) -> dict[str, Any]:
        status = self.editorial.channel_status(channel)
        status.pop("known")
        return status

    def channel_states(self) -> list[dict[str, Any]]:
        return [self.channel_status(n) for n in self.editorial.channel_names()]

    def reconcile(self, names: list[str] | None = None) -> list[ChannelReport]:
        """Every channel's own store compared with the ledger (read-only)."""
        return reconcile(self.db, self.channels, names or self.settings.enabled_channels())

    # -- post-publication inspection --------------------------------------------------------------
    def inspect(
        self,
        names: list[str] | None = None,
        item: str | None = None,
        *,
        progress: Progress | None = None,
        rate: float | None = None,
    ) -> Report:
        """Post-publication inspection of every live copy now (of `names`, or of one item by
        uid or ref); differences are recorded as drift (publisher/delivery/inspection.py)."""
        for name in names or []:
            if name not in self.settings.enabled_channels():
                raise ValidationError.one("channel", f"未启用的渠道 / not an enabled channel: {name}")
        uid = self.editorial.uid_of(item) if item else None
        return self.inspector.run(names or None, uid, progress=progress, rate=rate)

    def drifts(
        self,
        *,
        open_only: bool = True,
        channel: str | None = None,
        item: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Drift records, newest first (open ones only by default)."""
        stmt = select(Drift, Item.uid, Item.title).join(Item, Item.id == Drift.item_id)
        if open_only:
            stmt = stmt.where(Drift.resolved_at.is_(None))
        if channel:
            stmt = stmt.where(Drift.channel == channel)
        if item:
            stmt = stmt.where(Item.uid == self.editorial.uid_of(item))
        with self.db.reader() as s:
            rows = s.execute(stmt.order_by(Drift.id.desc()).limit(limit)).all()
        return [{**drift.as_dict(row, uid), "title": title} for row, uid, title in rows]

    def open_drift_counts(self) -> dict[tuple[str, str], int]:
        """Open drift records per (channel, kind): the dashboard and /metrics."""
        with self.db.reader() as s:
            rows = s.execute(
                select(Drift.channel, Drift.kind, func.count())
                .where(Drift.resolved_at.is_(None))
                .group_by(Drift.channel, Drift.kind)
            ).all()
        return {(c, k): int(n) for c, k, n in rows}

    def repush(self, actor: Actor, drift_id: int) -> int:
        """Send the drifted copy's version again as a normal delivery (its delivery back to
        the queue); its open drifts end as re-pushed. Returns the delivery id."""
        actor.require(Permission.DELIVERY_OPERATE)
        with self.db.reader() as s:
            row = s.get(Drift, drift_id)
            if row is None:
                raise NotFoundError(f"未找到偏差记录 {drift_id} / drift not found")
            delivery_id, resolution = row.delivery_id, row.resolution
        if resolution is not None:
            raise TransitionError(
                f"偏差记录已处理（{resolution}）/ drift already resolved ({resolution})", resolution
            )
        if not self.engine.repush(delivery_id, actor.name):
            raise TransitionError(
                "该投递不是此渠道当前的已送达副本 / the delivery is not the channel's current delivered copy "
                "(a newer version replaced it, or it is being sent)",
                "not_current",
            )
        return delivery_id

    def accept_drift(self, actor: Actor, drift_id: int, reason: str) -> dict[str, Any]:
        """Leave the copy as it is: the drift is accepted with a reason (audited)."""
        actor.require(Permission.DELIVERY_OPERATE)
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError.one("reason", "请填写原因 / a reason is required")
        if len(reason) > 1000:
            raise ValidationError.one("reason", "原因过长（至多 1000 字）/ reason too long (1000 at most)")

        def do(s: Session) -> dict[str, Any]:
            return drift.as_dict(drift.accept(s, drift_id, actor.name, reason, utcnow()))

        return self.db.run(do)

    # -- ops actions ----------------------------------------------------------------------------
    def replay(self, actor: Actor, delivery_id: int) -> list[int]:
        """A failed delivery back to the queue with a fresh attempt budget."""
        actor.require(Permission.DELIVERY_OPERATE)
        if not self.engine.replay(delivery_id, actor.name):
            with self.db.reader() as s:
                d = s.get(Delivery, delivery_id)
                if d is None:
                    raise NotFoundError(f"未找到投递 {delivery_id} / delivery not found")
                state = d.state
            raise TransitionError(
                f"只有失败的投递可以重放，当前为 {state} / only failed deliveries can be replayed", state
            )
        return [delivery_id]

    def release_excluded(self, actor: Actor, delivery_id: int) -> list[int]:
        """A delivery the approver left out at approval goes out after all (the approver's
        decision, so the approver's permission; the editorial workflow re-runs the channel's
        pre-flight and audits `delivery.release`)."""
        return self.editorial.release_excluded(actor, delivery_id).deliveries

    def replay_failed(
        self, actor: Actor, channel: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[int]:
        """Every failed delivery of a channel whose failure lies in [since, until]."""
        actor.require(Permission.DELIVERY_OPERATE)
        return self.engine.replay_failed(channel, actor.name, since, until)

    def retry_now(self, actor: Actor, channel: str) -> list[int]:
        """A channel's waiting retries due now (e.g. after a provider's quota reset)."""
        actor.require(Permission.DELIVERY_OPERATE)
        return self.engine.retry_now(channel, actor.name)

    def pause(self, actor: Actor, channel: str, reason: str) -> dict[str, Any]:
        """Due deliveries of the channel are held, never dropped, until it is resumed."""
        actor.require(Permission.CHANNEL_CONTROL)
        self.engine.pause(channel, reason, actor.name)
        return self.channel_status(channel)

    def resume(self, actor: Actor, channel: str) -> tuple[dict[str, Any], list[int]]:
        """The channel runs again; its held deliveries are released (their ids returned)."""
        actor.require(Permission.CHANNEL_CONTROL)
        released = self.engine.resume(channel, actor.name)
        return self.channel_status(channel), released

    # -- providers ------------------------------------------------------------------------------
    def callback(self, channel: str, call: CallbackRequest) -> CallbackResponse:
        """A provider's push (WeChat's PUBLISHJOBFINISH): the enabled channel's adapter checks
        its signature and parses it; each outcome it confirmed is recorded in the ledger by the
        delivery's external id. The provider's signature is the authentication."""
        if channel not in self.settings.enabled_channels():
            raise _not_found(channel)
        try:
            adapter = self.channels.get(channel)
        except SettingsError as exc:
            raise _not_found(channel) from exc
        response = adapter.handle_callback(call) if isinstance(adapter, TakingCallbacks) else None
        if response is None:
            raise _not_found(channel)
        if response.status >= 300:
            return response  # refused: nothing it carries is trusted
        for external_id, confirmation in response.confirmations:
            if confirmation.delivered is None:
                continue  # still pending: polling asks again later
            found = self.engine.confirm_external(
                channel,
                external_id,
                delivered=confirmation.delivered,
                error=confirmation.error,
                url=confirmation.url,
                flag=confirmation.flag,
            )
            if not found:
                # Not (or no longer) an accepted delivery of ours, e.g. an article published by
                # hand on the provider's site or an outcome polling already recorded.
                log.info("callback on %s for %s matches no accepted delivery", channel, external_id)
        return response


def _not_found(channel: str) -> NotFoundError:
    return NotFoundError(
        f"渠道 {channel} 未启用或不接受回调 / channel {channel!r} is not enabled or takes no callbacks"
    )
