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

from channels.base import CallbackRequest, CallbackResponse, TakingCallbacks
from publisher.delivery.channelset import ChannelSet
from publisher.delivery.engine import Engine
from publisher.delivery.reconcile import ChannelReport, reconcile
from publisher.domain.errors import NotFoundError, TransitionError
from publisher.domain.permissions import Permission
from publisher.editorial.auth import Actor
from publisher.editorial.service import Service, delivery_json
from publisher.settings import Settings, SettingsError
from publisher.store.db import Database
from publisher.store.models import Delivery

log = logging.getLogger(__name__)


class DeliveryService:
    def __init__(
        self, db: Database, settings: Settings, engine: Engine, channels: ChannelSet, editorial: Service
    ) -> None:
        self.db = db
        self.settings = settings
        self.engine = engine
        self.channels = channels
        self.editorial = editorial

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
