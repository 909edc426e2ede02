"""The editorial service: users, items and their workflow, one transaction per action,
wake-ups after commit, and the read models of items, deliveries and the audit log.

Every state change of users and items goes through here (and `workflow`, which writes an
approval's deliveries in the same transaction). Ops actions on deliveries and channels go
through publisher.delivery.service, compliance data through publisher.compliance.service.
Executors register a waker; the service calls it with the ids of deliveries that became
due, only after the transaction committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, literal, select, tuple_, update
from sqlalchemy.orm import Session

from publisher.alerting.record import record as record_alert
from publisher.domain.actions import AuditAction
from publisher.domain.clock import utcnow
from publisher.domain.errors import NotFoundError, ThrottledError, ValidationError
from publisher.domain.item import DeliveryState, ItemState
from publisher.domain.permissions import Permission
from publisher.editorial import audit, auth, paging, workflow
from publisher.editorial.auth import Actor, actor_of
from publisher.editorial.checks.engine import ContentChecks
from publisher.editorial.paging import Cursor
from publisher.editorial.throttle import LoginThrottle
from publisher.editorial.workflow import Outcome, Preflight
from publisher.settings import Settings
from publisher.store import counters
from publisher.store.db import Database, Flush
from publisher.store.models import Attempt, AuditEvent, ChannelState, Delivery, Item, User, UTCDateTime

log = logging.getLogger(__name__)

# (delivery ids, their channels where known) -> None
Waker = Callable[[list[int], Mapping[int, str] | None], None]

OVERALL_LABELS = {
    "draft": "未发布",
    "pending": "发布中",
    "published": "已发布",
    "partially_published": "部分发布",
    "withdrawn": "已撤回",
}


def overall_status(item_state: str, latest: dict[str, str]) -> str:
    """pending / published / partially_published / withdrawn, from the latest delivery of
    each channel (older ones are superseded by definition)."""
    if item_state == ItemState.WITHDRAWN:
        return "withdrawn"
    if not latest:
        return "draft" if item_state not in (ItemState.PUBLISHED, ItemState.APPROVED) else "published"
    states = set(latest.values())
    if states <= {DeliveryState.DELIVERED}:
        return "published"
    if states & {DeliveryState.FAILED, DeliveryState.HELD, DeliveryState.EXCLUDED}:
        return "partially_published"
    return "pending"


@dataclass
class ItemListing:
    total: int
    capped: bool  # more than `total` match (paging.COUNT_CAP)
    next: str | None  # cursor of the following page
    items: list[dict[str, Any]]


class Service:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        preflight: Preflight | None = None,
        checks: ContentChecks | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        # verifying uses these; appending uses the keys the database's sessions carry
        # (build_runtime hands them over: Database.use_audit_keys)
        key = settings.audit.key
        self.audit_keys = audit.Keyring.of(
            key.get_secret_value() if key else None, settings.audit.previous_keys()
        )
        self.preflight = preflight
        self.checks = checks
        self._wakers: list[Waker] = []
        self.logins = LoginThrottle()

    # -- plumbing ---------------------------------------------------------------------------
    def add_waker(self, waker: Waker) -> None:
        self._wakers.append(waker)

    def wake(self, delivery_ids: list[int], channels: Mapping[int, str] | None = None) -> None:
        if not delivery_ids:
            return
        for waker in self._wakers:
            try:
                waker(delivery_ids, channels)
            except Exception:  # a lost wake-up is recovered by the sweeper
                log.exception("waking the executor failed; the sweeper will pick the deliveries up")

    def _run(self, fn: Callable[[Session], Outcome]) -> Outcome:
        outcome = self.db.run(fn, flush=Flush.AFTER_LOCKS)
        self.wake(outcome.deliveries, outcome.channels)
        return outcome

    # -- users ------------------------------------------------------------------------------
    def add_user(
        self, name: str, role: str, password: str | None = None, *, by: Actor | None = None
    ) -> tuple[Actor, str]:
        """A new user and their token (shown once). `by` is the secadmin doing it; without one
        it is the host's operator (the CLI, the first accounts), audited as "system"."""
        if by is not None:
            by.require(Permission.USER_MANAGE)
        with self.db.transaction() as s:
            user, token = auth.add_user(s, name, role, password, by=by.name if by else "system")
            return actor_of(user), token

    def users(self, by: Actor) -> list[dict[str, Any]]:
        by.require(Permission.USER_MANAGE)
        with self.db.reader() as s:
            return [auth.user_json(u) for u in s.execute(select(User).order_by(User.name)).scalars()]

    def set_user_active(self, by: Actor, name: str, active: bool) -> dict[str, Any]:
        """Disable (ending the user's sessions and tokens at once) or enable a user (secadmin)."""
        by.require(Permission.USER_MANAGE)
        return self.db.run(lambda s: auth.user_json(auth.set_active(s, by, name, active)))

    def set_user_role(self, by: Actor, name: str, role: str) -> dict[str, Any]:
        """A new role ends the user's sessions and token (secadmin); rotate_token issues a new one."""
        by.require(Permission.USER_MANAGE)
        return self.db.run(lambda s: auth.user_json(auth.set_role(s, by, name, role)))

    def rotate_token(self, by: Actor, name: str) -> str:
        by.require(Permission.USER_MANAGE)
        return self.db.run(lambda s: auth.rotate_token(s, by, name)[1])

    def set_password(self, by: Actor, name: str, password: str) -> dict[str, Any]:
        """A user's own password, or anyone's by a secadmin; ends the user's page sessions."""
        if by.name != name:
            by.require(Permission.USER_MANAGE)
        return self.db.run(lambda s: auth.user_json(auth.set_password(s, by, name, password)))

    def authenticate(self, token: str | None) -> Actor:
        with self.db.reader() as s:
            return auth.authenticate(s, token)

    def login(self, name: str, password: str, address: str = "unknown") -> tuple[Actor, int] | None:
        """The user and their session epoch if the name and password match an active user.
        An unknown name costs the same hashing as a known one; an old hash is replaced by a
        current one on the first successful login. Too many failures for the name or from
        the address refuse even the right password for a while (ThrottledError, 429): the
        refusal begins with an audit event, and a burst of failures raises an alert."""
        wait = self.logins.retry_after(name, address)
        if wait is not None:
            auth.dummy_verify(password)  # a throttled answer takes as long as any other
            raise ThrottledError(
                f"登录失败次数过多，请 {wait} 秒后再试 / too many failed logins: retry in {wait} s", wait
            )
        found = self._check_login(name, password)
        if found is not None:
            self.logins.succeeded(name)
            return found
        failure = self.logins.failed(name, address)
        if failure.name_blocked or failure.address_blocked or failure.burst:
            with self.db.transaction() as s:
                for blocked, by in ((failure.name_blocked, "name"), (failure.address_blocked, "address")):
                    if blocked:
                        audit.append(
                            s,
                            actor="anonymous",
                            action=AuditAction.LOGIN_THROTTLED,
                            data={"user": name[:64], "address": address[:64], "by": by},
                        )
                if failure.burst:
                    record_alert(
                        s,
                        "login.burst",
                        {"failures": failure.burst, "window_seconds": int(self.logins.window)},
                    )
        return None

    def _check_login(self, name: str, password: str) -> tuple[Actor, int] | None:
        with self.db.reader() as s:
            user = s.execute(select(User).where(User.name == name)).scalar_one_or_none() if name else None
            stored = user.password_hash if user is not None else None
        if user is None:
            auth.dummy_verify(password)
            return None
        ok, rehash = auth.verify_password(password, stored)
        if not ok or not user.active:
            return None
        if rehash:
            with self.db.transaction() as s:
                s.execute(
                    update(User)
                    .where(User.id == user.id, User.password_hash == stored)
                    .values(password_hash=auth.hash_password(password))
                )
        return actor_of(user), user.session_epoch

    def session_actor(self, user_id: int, epoch: int) -> Actor | None:
        """The actor behind a page session, as the store says now: None once the user was
        disabled or changed role or password since the session began."""
        with self.db.reader() as s:
            user = s.get(User, user_id)
            if user is None or not user.active or user.session_epoch != epoch:
                return None
            return actor_of(user)

    def user_by_name(self, name: str) -> User | None:
        with self.db.reader() as s:
            return s.execute(select(User).where(User.name == name)).scalar_one_or_none()

    # -- editorial transitions ---------------------------------------------------------------
    def create_item(self, actor: Actor, data: dict[str, Any]) -> Item:
        return self.db.run(lambda s: workflow.create_item(s, self.settings, actor, data))

    def update_item(self, actor: Actor, uid: str, patch: dict[str, Any]) -> Item:
        return self.db.run(lambda s: workflow.update_item(s, self.settings, actor, uid, patch))

    def import_index_number(self, actor: Actor, uid: str, number: str) -> Item:
        """A legacy item's 索取号 (admin; validated and audited)."""
        return self.db.run(lambda s: workflow.import_index_number(s, self.settings, actor, uid, number))

    def submit(self, actor: Actor, uid: str) -> Item:
        return self.db.run(lambda s: workflow.submit(s, actor, uid))

    def review(self, actor: Actor, uid: str) -> Item:
        return self.db.run(lambda s: workflow.review(s, actor, uid))

    def reject(self, actor: Actor, uid: str, reason: str) -> Item:
        return self.db.run(lambda s: workflow.reject(s, actor, uid, reason))

    def approve(
        self,
        actor: Actor,
        uid: str,
        exclude: Collection[str] = (),
        *,
        exclude_reason: str | None = None,
        seen: str | None = None,
    ) -> Outcome:
        """`exclude`: channels whose own pre-flight problems the approver accepts by leaving
        them out (their deliveries wait `excluded` for `release_excluded`), `exclude_reason`
        the approver's why (kept with each excluded delivery and audited). `seen`: the
        approval digest the approver was shown (`workflow.approval_etag`)."""
        checks = self.checks
        if checks is not None:
            checks.prepare(self.db, uid)  # links are probed before the transaction, never inside
        return self._run(
            lambda s: workflow.approve(
                s,
                self.settings,
                actor,
                uid,
                preflight=self.preflight,
                content_check=checks.for_approval if checks is not None else None,
                exclude=exclude,
                exclude_reason=exclude_reason,
                seen=seen,
            )
        )

    def release_excluded(self, actor: Actor, delivery_id: int) -> Outcome:
        """An excluded delivery goes out after all: its channel's pre-flight is run again on
        the frozen version, and any problem left refuses the release (422, naming it)."""
        return self._run(
            lambda s: workflow.release_excluded(
                s, self.settings, actor, delivery_id, preflight=self.preflight
            )
        )

    def abolish(
        self, actor: Actor, uid: str, *, on: date, by: str | None = None, validity: str = "已废止"
    ) -> Outcome:
        return self._run(
            lambda s: workflow.abolish(s, self.settings, actor, uid, on=on, by=by, validity=validity)
        )

    def withdraw(self, actor: Actor, uid: str, reason: str) -> Outcome:
        return self._run(lambda s: workflow.withdraw(s, self.settings, actor, uid, reason))

    def release_due(self) -> Outcome:
        return self._run(lambda s: workflow.release_due(s))

    # -- read models -------------------------------------------------------------------------
    def uid_of(self, uid_or_ref: str) -> str:
        """An item's uid from its uid or its ref (e.g. policy-2019-plan); NotFoundError if none."""
        with self.db.reader() as s:
            found = (
                s.execute(select(Item.uid).where((Item.uid == uid_or_ref) | (Item.ref == uid_or_ref)))
                .scalars()
                .first()
            )
        if found is None:
            raise NotFoundError(f"未找到信息 {uid_or_ref} / item not found")
        return str(found)

    def existing_refs(self, refs: list[str]) -> set[str]:
        """Which of these refs items already carry."""
        with self.db.reader() as s:
            return {r for r in s.execute(select(Item.ref).where(Item.ref.in_(refs))).scalars() if r}

    def latest_delivery_states(self, session: Session, item_ids: list[int]) -> dict[int, dict[str, str]]:
        """Per item, per channel: the state of its newest non-superseded delivery."""
        out: dict[int, dict[str, str]] = {i: {} for i in item_ids}
        if not item_ids:
            return out
        rows = session.execute(
            select(Delivery.item_id, Delivery.channel, Delivery.state)
            .where(Delivery.item_id.in_(item_ids), Delivery.state != DeliveryState.SUPERSEDED)
            .order_by(Delivery.id)
        ).all()
        for item_id, channel, state in rows:
            out[item_id][channel] = state
        return out

    def item_detail(self, uid: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return self.detail_of(s, workflow.get_item(s, uid))

    def detail_of(self, session: Session, item: Item) -> dict[str, Any]:
        """`item_detail` of an item the caller read in its own session."""
        latest = self.latest_delivery_states(session, [item.id])[item.id]
        return {
            **item_json(item, overall_status(item.state, latest), latest),
            "abolishes_targets": workflow.abolish_targets(session, item),
            "approval_etag": workflow.approval_etag(session, item),
        }

    def list_items(
        self,
        *,
        type: str | None = None,
        state: str | None = None,
        validity: str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[int, list[dict[str, Any]]]:
        listing = self.item_listing(
            type=type, state=state, validity=validity, q=q, limit=limit, offset=offset
        )
        return listing.total, listing.items

    def item_listing(
        self,
        *,
        type: str | None = None,
        state: str | None = None,
        validity: str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
        after: Cursor | None = None,
    ) -> ItemListing:
        """Newest change first. `after` (the `next` of the previous call) continues by keyset;
        `offset` is read by OFFSET. The total is exact from the maintained counts when only
        type and state filter, else counted up to paging.COUNT_CAP (`capped`)."""
        with self.db.reader() as s:
            stmt = select(Item)
            if type:
                stmt = stmt.where(Item.type == type)
            if state:
                stmt = stmt.where(Item.state == state)
            if validity:
                stmt = stmt.where(Item.validity == validity)
            if q:
                stmt = stmt.where(paging.contains(q, postgres=self.db.postgres))
            if q or validity:
                total, capped = paging.bounded_count(s, stmt)
            else:
                total, capped = paging.kept_item_total(s, type, state), False
            order = paging.sort_key(
                Item.updated_at,
                indexed_search=bool(q) and paging.indexed_search(q or "", postgres=self.db.postgres),
            )
            query = stmt.order_by(order.desc(), Item.id.desc()).limit(limit + 1)
            if after is not None:
                query = query.where(
                    tuple_(Item.updated_at, Item.id)
                    < tuple_(literal(after.at, UTCDateTime()), literal(after.id))
                )
            else:
                query = query.offset(offset)
            found = s.execute(query).scalars().all()
            items = found[:limit]
            latest = self.latest_delivery_states(s, [i.id for i in items])
            return ItemListing(
                total=total,
                capped=capped,
                next=Cursor(items[-1].updated_at, items[-1].id).encode() if len(found) > limit else None,
                items=[
                    item_json(i, overall_status(i.state, latest[i.id]), latest[i.id], full=False)
                    for i in items
                ],
            )

    def deliveries(self, uid: str) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            item = workflow.get_item(s, uid)
            versions = {v.id: v.number for v in item.versions}
            rows = (
                s.execute(select(Delivery).where(Delivery.item_id == item.id).order_by(Delivery.id))
                .scalars()
                .all()
            )
            return [delivery_json(d, versions.get(d.version_id)) for d in rows]

    def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            rows = (
                s.execute(select(Attempt).where(Attempt.delivery_id == delivery_id).order_by(Attempt.number))
                .scalars()
                .all()
            )
            return [attempt_json(a) for a in rows]

    def list_deliveries(
        self, *, state: str | None = None, channel: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[int, list[dict[str, Any]]]:
        with self.db.reader() as s:
            stmt = select(Delivery, Item.uid, Item.title).join(Item, Item.id == Delivery.item_id)
            if state is not None:
                stmt = stmt.where(Delivery.state == state)
            if channel:
                stmt = stmt.where(Delivery.channel == channel)
            total = s.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
            rows = s.execute(stmt.order_by(Delivery.updated_at.desc()).limit(limit).offset(offset)).all()
            return total, [{**delivery_json(d, None), "item": uid, "title": title} for d, uid, title in rows]

    def channel_status(self, channel: str) -> dict[str, Any]:
        by_channel = counters.snapshot(self.db).by_channel()
        with self.db.reader() as s:
            st = s.get(ChannelState, channel)
        counts = by_channel.get(channel, {})
        known = channel in by_channel
        return {
            "channel": channel,
            "enabled": channel in self.settings.enabled_channels(),
            "known": known,
            "paused": bool(st and st.paused),
            "pause_reason": st.pause_reason if st else None,
            "breaker": st.breaker if st else "closed",
            "counts": counts,
        }

    def counts(self) -> counters.Counts:
        """One snapshot of the maintained counts (fold, then read), for a page to share
        among its panels."""
        return counters.snapshot(self.db)

    def channel_names(self, counts: counters.Counts | None = None) -> list[str]:
        """The enabled channels and every channel the ledger holds deliveries of (from the
        maintained counts: a DISTINCT over the ledger would read all of it). A page that
        already took a snapshot passes it (one fold and read per page, not one per panel)."""
        known = set((counts or counters.snapshot(self.db)).by_channel())
        return sorted(set(self.settings.enabled_channels()) | known)

    def audit_events(
        self, item_uid: str | None = None, limit: int = 200, offset: int = 0
    ) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            stmt = select(AuditEvent)
            if item_uid:
                stmt = stmt.where(AuditEvent.item_uid == item_uid)
            rows = s.execute(stmt.order_by(AuditEvent.seq).limit(limit).offset(offset)).scalars().all()
            return [
                {
                    "seq": e.seq,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "item": e.item_uid,
                    "version_hash": e.version_hash,
                    "reason": e.reason,
                    "data": e.data,
                    "hash": e.hash,
                }
                for e in rows
            ]

    def verify_audit(self, anchor: Mapping[str, Any] | None = None) -> tuple[int, list[audit.AuditProblem]]:
        """The chain, keyed hashes (with a configured key) and, given one, an anchor."""
        with self.db.reader() as s:
            return audit.verify(s, keys=self.audit_keys, anchor=anchor)

    def audit_anchor(self) -> dict[str, Any]:
        """The signed head of the chain (publisher audit anchor). Needs the key."""
        keys = self._require_audit_keys()
        with self.db.reader() as s:
            return audit.anchor_of(s, keys, utcnow())

    def seal_audit(self, actor: Actor, *, rekey: bool = False) -> int:
        """Key the events written before a key was configured (the unkeyed prefix), or with
        `rekey` every event under the current key (after a rotation). Refused unless the
        chain verifies first: sealing must never bless a rewritten event. Audited."""
        # keying the chain is configuring it (the key is configuration): sysadmin, ops, admin
        actor.require(Permission.CONFIGURE)
        keys = self._require_audit_keys()
        with self.db.transaction() as s:
            return audit.seal_all(s, keys, actor=actor.name, rekey=rekey)

    def _require_audit_keys(self) -> audit.Keyring:
        if self.audit_keys is None:
            raise ValidationError.one(
                "audit.key", "未配置审计密钥 / no [audit] key is configured (key_env or key_file)"
            )
        return self.audit_keys


def item_json(item: Item, overall: str, latest: dict[str, str], *, full: bool = True) -> dict[str, Any]:
    c = item.content
    data: dict[str, Any] = {
        "uid": item.uid,
        "ref": item.ref,
        "type": item.type,
        "state": item.state,
        "title": item.title,
        "index_number": item.index_number,
        "doc_number": c.get("doc_number"),
        "issue_date": c.get("issue_date"),
        "issuing_body": c.get("issuing_body"),
        "subject": c.get("subject"),
        "validity": item.validity,
        "validity_changed_on": item.validity_changed_on,
        "release_group": item.release_group,
        "publish_at": item.publish_at.isoformat() if item.publish_at else None,
        "published_at": item.published_at.isoformat() if item.published_at else None,
        "live_version": item.live_version,
        "delivery_status": overall,
        "channels": latest,
        "updated_at": item.updated_at.isoformat(),
    }
    if full:
        data["content"] = c
        data["reject_reason"] = item.reject_reason
        data["withdraw_reason"] = item.withdraw_reason
        data["abolished_by"] = item.abolished_by
        data["versions"] = [
            {
                "number": v.number,
                "content_hash": v.content_hash,
                "reason": v.reason,
                "created_at": v.created_at.isoformat(),
            }
            for v in item.versions
        ]
    return data


def delivery_json(d: Delivery, version: int | None) -> dict[str, Any]:
    return {
        "id": d.id,
        "channel": d.channel,
        "operation": d.operation,
        "version": version,
        "state": d.state,
        "attempts": d.attempts,
        "external_id": d.external_id,
        "url": d.url,
        "last_error": d.last_error,
        "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
        "key": d.key,
    }


def attempt_json(a: Attempt) -> dict[str, Any]:
    return {
        "number": a.number,
        "started_at": a.started_at.isoformat(),
        "duration_ms": round(a.duration_ms, 1),
        "outcome": a.outcome,
        "http_status": a.http_status,
        "provider_code": a.provider_code,
        "error": a.error,
        "response_excerpt": a.response_excerpt,
    }
