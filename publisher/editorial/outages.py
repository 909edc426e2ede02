"""What ops must see at a glance when a channel is in trouble: an outage per channel that is
paused, has its breaker open, or whose newest attempts fail — the last error in plain
Chinese (the technical text kept for the toggle), since when, the next retry and what to do —
and the deliveries waiting to retry, in their own queue. Reads only, bounded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from publisher.domain.item import DeliveryState
from publisher.editorial.service import Service
from publisher.store import counters
from publisher.store.models import Attempt, ChannelState, Delivery, Item, RecentAttempt

RECENT_ATTEMPTS = 100  # per channel, to find the current run of failures
RECENT_WINDOW = 500  # the newest attempts over all channels they come from
SUCCESS = ("success", "accepted")
PAGE_SIZE = 50


@dataclass(frozen=True)
class Problem:
    plain: str  # what happened, in plain Chinese
    advice: str  # what to do


@dataclass(frozen=True)
class Outage:
    channel: str
    paused: bool
    pause_reason: str | None
    breaker: str
    since: datetime | None
    next_retry: datetime | None
    waiting: int  # deliveries waiting to retry or held
    problem: Problem
    technical: str  # outcome, HTTP status, provider code, error text: behind a toggle


def explain(kind: str | None, status: int | None, error: str | None) -> Problem:
    """A failed attempt's outcome, in words a duty officer acts on."""
    text = (error or "").lower()
    if kind == "config":
        return Problem(
            "渠道配置有误（例如地址、密钥或账号缺失），不会自动恢复",
            "检查该渠道的配置并运行 publisher config check --live；修好后在失败队列重放。",
        )
    if status in (401, 403) or "credential" in text or "token" in text:
        return Problem(
            "对方拒绝了我们的凭据（密钥或令牌无效、过期或无权限）",
            "更新该渠道的密钥或令牌；修好后恢复渠道，并在失败队列重放失败的投递。",
        )
    if kind == "rate_limited" or status == 429:
        return Problem("对方限制了发送频率", "无需操作：系统会在对方允许时自动重试。")
    if kind == "permanent":
        shown = f"（HTTP {status}）" if status else ""
        return Problem(
            f"对方拒绝了这条内容{shown}，重试也不会成功",
            "展开技术详情查看原因，修改内容后重新批准，或修好对方后在失败队列重放。",
        )
    if kind == "error":
        return Problem("投递时发生内部错误", "展开技术详情，联系系统管理员。")
    if status is not None and status >= 500:
        return Problem(
            f"对方服务器出错（HTTP {status}）", "系统会自动重试；若长时间未恢复，请联系对方系统的运维。"
        )
    if "timeout" in text or "timed out" in text:
        return Problem("连接对方服务器超时", "系统会自动重试；若持续超时，请检查网络或对方服务是否在线。")
    return Problem("无法连接对方服务器", "系统会自动重试；若持续失败，请检查网络或对方服务是否在线。")


def _technical(a: Any) -> str:
    if a is None:
        return ""
    parts = [f"outcome={a.outcome}"]
    if a.http_status is not None:
        parts.append(f"HTTP {a.http_status}")
    if a.provider_code:
        parts.append(f"code={a.provider_code}")
    if a.error:
        parts.append(a.error)
    return " · ".join(parts)


def _next_retry(s: Session, channel: str) -> datetime | None:
    return s.execute(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.channel == channel, Delivery.state == DeliveryState.RETRY_WAIT
        )
    ).scalar_one()


def outages(service: Service, channels: list[str], counts: counters.Counts | None = None) -> list[Outage]:
    out: list[Outage] = []
    with service.db.reader() as s:
        states = {st.channel: st for st in s.execute(select(ChannelState)).scalars()}
        # the maintained counts, not a GROUP BY over the ledger
        waiting: dict[str, int] = {}
        for (name, state), n in (counts or counters.read(s)).deliveries.items():
            if state in (DeliveryState.RETRY_WAIT, DeliveryState.HELD):
                waiting[name] = waiting.get(name, 0) + n
        candidates = [
            c
            for c in channels
            if (states.get(c) is not None and (states[c].paused or states[c].breaker != "closed"))
            or waiting.get(c)
        ]
        # one index-ordered read of the newest attempts over all channels, not one per channel,
        # from the copies kept with their channel (publisher.store.recent): no join to the ledger
        recent: dict[str, list[Any]] = {c: [] for c in candidates}
        if candidates:
            for row in s.execute(
                select(
                    RecentAttempt.outcome,
                    RecentAttempt.http_status,
                    RecentAttempt.provider_code,
                    RecentAttempt.error,
                    RecentAttempt.started_at,
                    RecentAttempt.channel,
                )
                .order_by(RecentAttempt.attempt_id.desc())
                .limit(RECENT_WINDOW)
            ):
                if row.channel in recent and len(recent[row.channel]) < RECENT_ATTEMPTS:
                    recent[row.channel].append(row)
        for channel in candidates:
            st = states.get(channel)
            attempts = recent[channel]
            streak: list[Any] = []
            for a in attempts:
                if a.outcome in SUCCESS:
                    break
                streak.append(a)
            paused = bool(st and st.paused)
            breaker = st.breaker if st is not None else "closed"
            if not (paused or breaker != "closed" or (streak and waiting.get(channel))):
                continue
            last = streak[0] if streak else None
            problem = (
                explain(last.outcome, last.http_status, last.error)
                if last is not None
                else Problem(f"已暂停：{st.pause_reason or '未说明原因'}" if st else "已暂停", "")
            )
            if paused:
                problem = Problem(
                    f"已暂停：{(st.pause_reason if st else None) or '未说明原因'}"
                    + (f"；暂停前最后的错误：{problem.plain}" if last is not None else ""),
                    "处理完后点击“恢复”，暂缓的投递会自动发出。",
                )
            since_candidates = [t for t in (st.opened_at if st and breaker != "closed" else None,) if t]
            if streak:
                since_candidates.append(streak[-1].started_at)
            if paused and st is not None and not since_candidates:
                since_candidates.append(st.updated_at)
            out.append(
                Outage(
                    channel=channel,
                    paused=paused,
                    pause_reason=st.pause_reason if st else None,
                    breaker=breaker,
                    since=min(since_candidates) if since_candidates else None,
                    next_retry=None if paused else _next_retry(s, channel),
                    waiting=int(waiting.get(channel, 0)),
                    problem=problem,
                    technical=_technical(last),
                )
            )
    return out


def retrying(service: Service, channel: str | None = None, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """Deliveries waiting to retry, soonest first, with their last error explained."""
    with service.db.reader() as s:
        stmt = (
            select(Delivery, Item.uid, Item.title)
            .join(Item, Item.id == Delivery.item_id)
            .where(Delivery.state == DeliveryState.RETRY_WAIT)
        )
        if channel:
            stmt = stmt.where(Delivery.channel == channel)
        rows = s.execute(stmt.order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)).all()
        last: dict[int, Attempt] = {}
        ids = [d.id for d, _, _ in rows]
        if ids:
            newest = (
                select(func.max(Attempt.id)).where(Attempt.delivery_id.in_(ids)).group_by(Attempt.delivery_id)
            )
            for a in s.execute(select(Attempt).where(Attempt.id.in_(newest))).scalars():
                last[a.delivery_id] = a
        out = []
        for d, uid, title in rows:
            newest_attempt = last.get(d.id)
            out.append(
                {
                    "id": d.id,
                    "item": uid,
                    "title": title,
                    "channel": d.channel,
                    "operation": d.operation,
                    "attempts": d.attempts,
                    "next_attempt_at": d.next_attempt_at,
                    "problem": explain(
                        newest_attempt.outcome if newest_attempt else None,
                        newest_attempt.http_status if newest_attempt else None,
                        d.last_error,
                    ),
                    "technical": _technical(newest_attempt) or (d.last_error or ""),
                }
            )
        return out


__all__ = ["Outage", "Problem", "explain", "outages", "retrying"]
