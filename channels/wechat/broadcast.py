"""The daily digest broadcast (群发): up to 8 approved items in one news message.

Freepublish does not notify followers; a broadcast does, and a subscription account may
broadcast once a day (45028 otherwise), so the caller sends at most one digest per day.
The digest is a multi-article draft sent with message/mass/sendall to all followers; the
result arrives as MASSSENDJOBFINISH (callback.py) or through message/mass/get.
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Batch_Sends_and_Originality_Checks.html
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date
from typing import Any, Protocol

from channels.base import ChannelError, Confirmation, Payload, PermanentError, Receipt
from channels.wechat.api import WechatApi
from channels.wechat.status import MASS_STATUS
from publisher.domain.item import Operation, VersionView

DIGEST_LIMIT = 8  # one news message holds at most 8 articles


class _Settings(Protocol):
    @property
    def broadcast_types(self) -> Collection[str]: ...


class Broadcaster(Protocol):
    """What a broadcast needs of the WeChat channel (`channel.py`, which calls in here):
    its API client, its rendering and image uploads, and its durable digest progress."""

    @property
    def settings(self) -> _Settings: ...

    @property
    def api(self) -> WechatApi: ...

    def render(self, version: VersionView, op: Operation) -> Payload: ...

    def prepare_article(
        self, body: Mapping[str, Any], progress: dict[str, Any], save: Callable[[], None]
    ) -> dict[str, Any]: ...

    def load_digest(self, day: date) -> dict[str, Any]: ...

    def save_digest(self, day: date, progress: Mapping[str, Any]) -> None: ...

    def mass_result(self, msg_id: str) -> Confirmation | None: ...


def pick_digest(
    versions: Sequence[VersionView], *, types: Collection[str], limit: int = DIGEST_LIMIT
) -> list[VersionView]:
    """Newest first, one per item, only the configured types (all when empty), none withdrawn."""
    chosen: list[VersionView] = []
    seen: set[str] = set()
    for version in sorted(versions, key=lambda v: v.published_at or v.created_at, reverse=True):
        if version.withdrawn or version.uid in seen or (types and version.type.value not in types):
            continue
        seen.add(version.uid)
        chosen.append(version)
        if len(chosen) == limit:
            break
    return chosen


def send_digest(channel: Broadcaster, versions: Sequence[VersionView], *, day: date) -> Receipt:
    """Broadcast the day's digest once; a repeat call for the same day returns the same receipt."""
    progress: dict[str, Any] = channel.load_digest(day)

    def save() -> None:
        channel.save_digest(day, progress)

    if not progress.get("msg_id"):
        picked = pick_digest(versions, types=channel.settings.broadcast_types)
        if not picked:
            raise PermanentError("没有可群发的条目 / nothing to broadcast")
        if progress.get("sending"):
            raise PermanentError(
                "群发已提交但未收到 msg_id，请在公众号后台核对 / broadcast submitted but its msg_id "
                "was lost: check the account"
            )
        if not progress.get("media_id"):
            items: dict[str, dict[str, Any]] = progress.setdefault("items", {})
            articles = [
                channel.prepare_article(
                    channel.render(v, Operation.PUBLISH).body, items.setdefault(v.uid, {}), save
                )
                for v in picked
            ]
            result = channel.api.post("draft/add", "draft/add", {"articles": articles})
            progress["media_id"] = str(result["media_id"])
            progress["uids"] = [v.uid for v in picked]
            save()
        progress["sending"] = True
        save()
        try:
            result = channel.api.post(
                "message/mass/sendall",
                "message/mass/sendall",
                {
                    "filter": {"is_to_all": True},
                    "mpnews": {"media_id": progress["media_id"]},
                    "msgtype": "mpnews",
                    "send_ignore_reprint": 0,
                },
            )
        except ChannelError as exc:
            # An errcode or HTTP status is WeChat's answer that nothing was sent, so the next
            # run may try again; a timeout or broken connection leaves "sending" (it may have gone).
            if exc.provider_code is not None or exc.http_status is not None:
                progress.pop("sending", None)
                save()
            raise
        progress["msg_id"] = str(result["msg_id"])
        progress["msg_data_id"] = result.get("msg_data_id")
        save()
    return Receipt(
        external_id=progress["msg_id"],
        accepted=True,
        provider_code="0",
        data={
            "media_id": progress["media_id"],
            "msg_data_id": progress.get("msg_data_id"),
            "uids": progress.get("uids", []),
            "day": day.isoformat(),
        },
    )


def digest_progress(channel: Broadcaster, day: date) -> dict[str, Any]:
    """What send_digest recorded for `day` (empty: nothing sent or started)."""
    return channel.load_digest(day)


def digest_status(channel: Broadcaster, receipt: Receipt) -> Confirmation | None:
    """The pushed MASSSENDJOBFINISH result when one arrived, else message/mass/get: None
    while sending."""
    if receipt.external_id and (pushed := channel.mass_result(receipt.external_id)) is not None:
        return pushed
    result = channel.api.post("message/mass/get", "message/mass/get", {"msg_id": receipt.external_id})
    status = str(result.get("msg_status", ""))
    data = {"msg_id": receipt.external_id, "msg_status": status}
    if status == "SENDING":
        return None
    if status == "SEND_SUCCESS":
        return Confirmation(delivered=True, data=data)
    if status == "DELETE":
        return Confirmation(delivered=True, data=data, flag=MASS_STATUS["DELETE"])
    return Confirmation(
        delivered=False, error=MASS_STATUS.get(status, f"群发状态 {status} / broadcast status"), data=data
    )
