"""Append-only, hash-chained audit log, keyed with a key the database never sees.

Each event's hash covers its own fields and the previous event's hash, and `seq` has no
gaps, so editing a row breaks its hash, deleting one breaks the chain or leaves a gap, and
cutting the tail disagrees with `audit_head`. Appenders lock the head row: the chain never
forks even with many writers on PostgreSQL; the lock is taken last in each transaction so
it is held only until commit.

The plain hashes stop an accident, not a database writer: they can recompute every hash
after an edit. So, with `[audit] key` configured, every event also carries `mac`, an
HMAC-SHA256 of its seq and hash under a key kept outside the database (computed here, in
the same transaction as the event; the database only stores it). Because the hash chains
every earlier event, each mac vouches for the whole prefix. `anchor` signs the head for
safekeeping elsewhere; `verify(..., anchor=...)` proves the chain still extends it, which
also catches a cut tail that a writer made consistent with `audit_head`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from publisher.domain.actions import AuditAction
from publisher.domain.clock import utcnow
from publisher.domain.errors import PublisherError
from publisher.store import auditlog
from publisher.store.models import AuditEvent, AuditHead

GENESIS = "0" * 64
# Session.info key under which publisher.store.db.Database hands the keyring to appenders
KEYS = "audit_keys"


def key_id(key: bytes) -> str:
    """A short public name for a key (recorded with each mac and anchor), never the key."""
    return "k" + hashlib.sha256(b"publisher-audit-key-id:" + key).hexdigest()[:8]


@dataclass(frozen=True)
class Keyring:
    """The current key (new events and anchors) and earlier ones (still verified)."""

    current: str
    keys: Mapping[str, bytes]

    @classmethod
    def of(cls, key: str | None, previous: Sequence[str] = ()) -> Keyring | None:
        if not key:
            return None
        keys = {key_id(k.encode()): k.encode() for k in previous}
        current = key_id(key.encode())
        keys[current] = key.encode()
        return cls(current, keys)

    def sign(self, message: str, kid: str | None = None) -> str:
        kid = kid or self.current
        return f"{kid}:{hmac.new(self.keys[kid], message.encode(), hashlib.sha256).hexdigest()}"

    def check(self, message: str, signed: str) -> str | None:
        """None if `signed` is a valid signature of `message` under a known key, else why not."""
        kid, _, _ = signed.partition(":")
        if kid not in self.keys:
            return f"signed with an unknown key {kid!r} (configure it under [audit] previous_keys_*)"
        if not hmac.compare_digest(self.sign(message, kid), signed):
            return "the keyed hash does not match"
        return None


def mac_message(seq: int, hash: str) -> str:
    return f"publisher-audit-event:{seq}:{hash}"


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode()).hexdigest()


def _fields(ev: AuditEvent) -> dict[str, Any]:
    return {
        "seq": ev.seq,
        "at": ev.at.isoformat(),
        "actor": ev.actor,
        "action": ev.action,
        "item_uid": ev.item_uid,
        "version_hash": ev.version_hash,
        "reason": ev.reason,
        "data": ev.data,
    }


def hashed_text_parts(fields: dict[str, Any]) -> tuple[str, str]:
    """`canonical(fields)` split around the value of `seq`, which only the database knows when
    the event is written. `seq` and `version_hash` sort last among an event's keys, so the
    text is the other fields' canonical form, then `"seq":N`, then `version_hash`."""
    rest = {k: v for k, v in fields.items() if k not in ("seq", "version_hash")}
    pre = canonical(rest)[:-1] + ',"seq":'
    post = ',"version_hash":' + canonical(fields.get("version_hash")) + "}"
    return pre, post


class EventFields(TypedDict, total=False):
    """What an event says; the database adds seq, the previous hash and its own hash."""

    actor: Required[str]
    action: Required[AuditAction]
    item_uid: str | None
    version_hash: str | None
    reason: str | None
    data: dict[str, Any] | None


def event_params(**event: Unpack[EventFields]) -> dict[str, Any]:
    """The parameters of `publisher.store.auditlog.append_sql` for one event."""
    at = utcnow()
    fields: dict[str, Any] = {"item_uid": None, "version_hash": None, "reason": None, "data": None, **event}
    # stored and hashed as its value; a string that is no action is refused here, not written
    fields["action"] = AuditAction(fields["action"]).value
    pre, post = hashed_text_parts({**fields, "at": at.isoformat()})
    return {**fields, "at": at, "pre": pre, "post": post}


def append(session: Session, **event: Unpack[EventFields]) -> None:
    """Append one event. One prebuilt statement (and, keyed, one more to store the mac):
    this runs in every transition."""
    session.flush()  # everything else first: the head lock below is then held only until commit
    seal(session, *auditlog.append(session.connection(), event_params(**event)))


_SEAL = update(AuditEvent).where(AuditEvent.seq == bindparam("s_seq")).values(mac=bindparam("s_mac"))


def seal(session: Session, seq: int, hash: str) -> None:
    """Store the keyed hash of the event just appended (in its transaction, under the head
    lock). Without a configured key, nothing: the event stays unkeyed."""
    keys: Keyring | None = session.info.get(KEYS)
    if keys is not None:
        session.connection().execute(_SEAL, {"s_seq": seq, "s_mac": keys.sign(mac_message(seq, hash))})


@dataclass(frozen=True)
class AuditProblem:
    seq: int
    problem: str


def verify(
    session: Session,
    batch: int = 5000,
    *,
    keys: Keyring | None = None,
    anchor: Mapping[str, Any] | None = None,
) -> tuple[int, list[AuditProblem]]:
    """Walk the chain; returns (events checked, problems found). With `keys`, every event
    must carry a valid keyed hash; with `anchor` (see `anchor_of`), the chain must still
    extend the anchored head."""
    problems: list[AuditProblem] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    anchored: str | None = None
    if anchor is not None:
        problems += _anchor_problems(anchor, keys)
    for ev in _iter_events(session, batch):
        count += 1
        if ev.seq != expected_seq:
            problems.append(
                AuditProblem(expected_seq, f"events {expected_seq}..{ev.seq - 1} are missing (deleted)")
            )
        if ev.prev_hash != prev_hash:
            problems.append(
                AuditProblem(ev.seq, "link to the previous event is broken (an event was deleted or edited)")
            )
        if event_hash(ev.prev_hash, _fields(ev)) != ev.hash:
            problems.append(AuditProblem(ev.seq, "contents do not match the hash (the event was edited)"))
        if keys is not None:
            if ev.mac is None:
                problems.append(
                    AuditProblem(
                        ev.seq,
                        "carries no keyed hash (written without the key, or its keyed hash was removed; "
                        "`publisher audit seal` keys events from before the key)",
                    )
                )
            else:
                why = keys.check(mac_message(ev.seq, ev.hash), ev.mac)
                if why:
                    problems.append(AuditProblem(ev.seq, f"{why} (the event or its hash was rewritten)"))
        if anchor is not None and ev.seq == anchor.get("seq"):
            anchored = ev.hash
        prev_hash, expected_seq = ev.hash, ev.seq + 1
    if anchor is not None:
        seq = anchor.get("seq")
        if anchored is None:
            problems.append(
                AuditProblem(
                    int(seq) if isinstance(seq, int) else 0,
                    f"the chain ends at {expected_seq - 1}, before the anchored event {seq} (events cut)",
                )
            )
        elif anchored != anchor.get("hash"):
            problems.append(
                AuditProblem(int(seq), "the chain no longer extends the anchored head (history rewritten)")  # type: ignore[arg-type]
            )
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    if head is None:
        problems.append(AuditProblem(0, "the chain head is missing"))
    elif head.seq != expected_seq - 1 or head.hash != prev_hash:
        problems.append(
            AuditProblem(
                head.seq, f"the chain ends at {expected_seq - 1} but its head says {head.seq} (events cut)"
            )
        )
    return count, problems


def _iter_events(session: Session, batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = (
            session.execute(
                select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


# -- anchoring ---------------------------------------------------------------------------------


def anchor_message(seq: int, hash: str, at: str) -> str:
    return f"publisher-audit-anchor:{seq}:{hash}:{at}"


def anchor_of(session: Session, keys: Keyring, at: datetime) -> dict[str, Any]:
    """The signed head: kept outside the database (a file, a webhook), it later proves the
    chain was not rewritten or cut below it, even by a writer who also fixed `audit_head`."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
    events = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    stamp = at.isoformat()
    return {
        "kind": "publisher-audit-anchor",
        "seq": head.seq,
        "hash": head.hash,
        "at": stamp,
        "events": events,
        "key_id": keys.current,
        "signature": keys.sign(anchor_message(head.seq, head.hash, stamp)),
    }


def _anchor_problems(anchor: Mapping[str, Any], keys: Keyring | None) -> list[AuditProblem]:
    seq, hash, at, signature = (anchor.get(k) for k in ("seq", "hash", "at", "signature"))
    if not (
        isinstance(seq, int) and isinstance(hash, str) and isinstance(at, str) and isinstance(signature, str)
    ):
        return [AuditProblem(0, "the anchor is not a publisher audit anchor (seq, hash, at, signature)")]
    if keys is None:
        return [AuditProblem(seq, "no [audit] key is configured: the anchor's signature cannot be checked")]
    why = keys.check(anchor_message(seq, hash, at), signature)
    return [AuditProblem(seq, f"the anchor's signature is not valid: {why}")] if why else []


class ChainBrokenError(PublisherError):
    """Sealing refused: the chain does not verify, so keying it would bless a rewrite."""

    status = 409


def seal_all(session: Session, keys: Keyring, *, actor: str, rekey: bool = False) -> int:
    """Key the unkeyed prefix (events from before the key), or with `rekey` every event under
    the current key. Refused unless the plain chain verifies, every existing keyed hash
    verifies under a known key, and the unkeyed events all come before the keyed ones (an
    unkeyed event after keyed ones lost its mac: that is tampering, not history). The seal
    itself is an audit event. Returns how many events were keyed."""
    _, problems = verify(session)
    rows = session.execute(
        select(AuditEvent.seq, AuditEvent.hash, AuditEvent.mac).order_by(AuditEvent.seq)
    ).all()
    keyed_seen = False
    for seq, hash, mac in rows:
        if mac is None:
            if keyed_seen:
                problems.append(AuditProblem(seq, "lost its keyed hash after keyed events"))
        else:
            keyed_seen = True
            why = keys.check(mac_message(seq, hash), mac)
            if why:
                problems.append(AuditProblem(seq, why))
    if problems:
        first = problems[0]
        raise ChainBrokenError(
            f"审计链校验未通过，拒绝加密钥封存 / the chain does not verify, not sealing: "
            f"event {first.seq}: {first.problem} ({len(problems)} problem(s); run publisher audit verify)"
        )
    targets = [(seq, hash) for seq, hash, mac in rows if rekey or mac is None]
    if targets:
        session.connection().execute(
            _SEAL, [{"s_seq": seq, "s_mac": keys.sign(mac_message(seq, hash))} for seq, hash in targets]
        )
    append(
        session,
        actor=actor,
        action=AuditAction.AUDIT_REKEY if rekey else AuditAction.AUDIT_SEAL,
        data={"events": len(targets), "key_id": keys.current},
    )
    return len(targets)
