"""The daily digest broadcast (群发) against the local stand-in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from channels.base import PermanentError, RateLimitedError
from channels.standins.wechat_server import RunningServer
from channels.wechat.broadcast import digest_status, pick_digest, send_digest
from channels.wechat.callback import MassEvent, parse_event
from publisher.domain.item import ItemType, VersionView
from tests.factories import make_version
from tests.support import wait_for

from .wechat_support import *  # noqa: F403  (fixtures)
from .wechat_support import CALLBACK_TOKEN, CallbackReceiver, ChannelFactory


def versions(n: int) -> list[VersionView]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        make_version(
            uid=f"digest{i:02d}",
            title=f"第{i}号通知",
            published_at=start + timedelta(hours=i),
            public_url=f"http://127.0.0.1:8000/items/digest{i:02d}",
        )
        for i in range(n)
    ]


def test_pick_digest_takes_the_newest_eight_of_the_configured_types() -> None:
    items = versions(10) + [
        make_version(uid="interp", type=ItemType.INTERPRETATION),
        make_version(uid="gone", withdrawn=True),
    ]
    picked = pick_digest(items, types=["policy"])
    assert [v.uid for v in picked] == [f"digest{i:02d}" for i in range(9, 1, -1)]
    assert [v.uid for v in pick_digest(items, types=["interpretation"])] == ["interp"]
    assert pick_digest(versions(3) + versions(3), types=[]) == pick_digest(versions(3), types=[])


def test_digest_is_broadcast_once_a_day(
    make_channel: ChannelFactory, wechat: RunningServer, receiver: CallbackReceiver
) -> None:
    wechat.admin("POST", "config", {"callback_url": receiver.url})
    channel = make_channel(broadcast_types=["policy"])
    today = date(2026, 11, 27)

    receipt = send_digest(channel, versions(10), day=today)
    assert receipt.accepted and receipt.external_id and len(receipt.data["uids"]) == 8
    mass = wechat.state()["mass"][receipt.external_id]
    assert mass["articles"] == 8 and mass["filter"] == {"is_to_all": True}

    # a retry of the same day's digest does not send again
    assert send_digest(channel, versions(10), day=today) == receipt
    assert wechat.state()["counters"]["api_calls"]["message/mass/sendall"] == 1

    # the next call (another day's digest while WeChat's quota is used) is rate limited until midnight
    with pytest.raises(RateLimitedError) as caught:
        send_digest(channel, versions(2), day=today + timedelta(days=1))
    assert caught.value.provider_code == "45028"

    confirmation = wait_for(lambda: digest_status(channel, receipt), 5, "the digest's status")
    assert confirmation.delivered is True

    assert receiver.arrived.wait(5)
    push = receiver.pushes[0]
    event = parse_event(push.query, push.body, token=CALLBACK_TOKEN)
    assert (
        isinstance(event, MassEvent)
        and event.msg_id == receipt.external_id
        and event.status == "send success"
    )


def test_nothing_to_broadcast_is_permanent(make_channel: ChannelFactory) -> None:
    channel = make_channel(broadcast_types=["consultation"])
    with pytest.raises(PermanentError):
        send_digest(channel, versions(3), day=date(2026, 11, 27))
