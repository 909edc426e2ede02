"""WechatChannel.inventory against the local WeChat stand-in over real HTTP: articles are
mapped back to item uids (remembered articles first, then the /items/<uid> source URL),
deleted ones are not live, and an article nobody can attribute shows up under its own id."""

from __future__ import annotations

import time
from typing import Any

from channels.base import Confirmation, Holding, Operation, Receipt
from channels.standins.wechat_server import RunningServer
from channels.wechat import WechatChannel
from publisher.domain.item import VersionView
from tests.factories import make_version
from tests.support import wait_for

from .wechat_support import *  # noqa: F403  (fixtures)
from .wechat_support import ChannelFactory

BASE = "http://127.0.0.1:8000"


def version(uid: str, **overrides: Any) -> VersionView:
    values: dict[str, Any] = dict(uid=uid, public_url=f"{BASE}/items/{uid}", index_number=None)
    values.update(overrides)
    return make_version(**values)


def deliver(channel: WechatChannel, v: VersionView, op: Operation = Operation.PUBLISH) -> Receipt:
    receipt = channel.send(channel.render(v, op), key=f"{v.uid}:{v.version}:{op.value}")
    if receipt.accepted:
        wait_confirmed(channel, receipt)
    return receipt


def wait_confirmed(channel: WechatChannel, receipt: Receipt) -> Confirmation:
    c = wait_for(lambda: channel.confirm(receipt), 5, "the confirmation")
    assert c.delivered, c
    return c


def by_uid(holdings: list[Holding]) -> dict[str, list[Holding]]:
    out: dict[str, list[Holding]] = {}
    for h in holdings:
        out.setdefault(h.uid, []).append(h)
    return out


def test_inventory_maps_articles_to_uids_and_reports_deletions(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    channel = make_channel(update_mode="republish")
    # the cms URL as source: only the remembered article maps it back
    kept = deliver(channel, version("keep", channel_urls={"cms": "http://cms.local/?p=1"}))
    deliver(channel, version("gone"))
    deliver(channel, version("gone"), Operation.WITHDRAW)
    deliver(channel, version("abolished"))
    deliver(channel, version("abolished", version=2, validity="已废止"), Operation.UPDATE)

    # a second channel with another Redis prefix (nothing remembered) maps by source URL only
    blind = make_channel(key_prefix=channel.settings.key_prefix + ":blind", update_mode="republish")
    held = by_uid(list(blind.inventory()))
    # a publish whose only article was deleted drops out of the account's list altogether
    assert "gone" not in held
    assert [(h.live, h.validity) for h in held["abolished"]] == [(True, "已废止")]
    assert "keep" not in held
    [unknown] = [h for uid, hs in held.items() if uid.startswith("wechat:") for h in hs]
    assert (
        unknown.live
        and unknown.external_id == f"{wechat.state()['publishes'][kept.external_id]['article_id']}:1"
    )

    held = by_uid(list(channel.inventory()))
    [keep] = held["keep"]
    assert keep.live and keep.validity == "有效" and keep.version is None
    assert keep.url and keep.url.startswith(wechat.base_url)
    assert not [uid for uid in held if uid.startswith("wechat:")]
    assert "gone" not in held
    # republish deleted the first article of "abolished": one live copy, with the new validity
    assert [(h.live, h.validity) for h in held["abolished"]] == [(True, "已废止")]


def test_a_deleted_article_of_a_live_publish_is_not_live(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    channel = make_channel()
    deliver(channel, version("half"))
    job = next(iter(wechat.state()["publishes"].values()))
    # a second article in the same publish keeps the publish listed after the first is deleted
    wechat.standin.publishes[job["publish_id"]]["articles"].append(
        dict(
            wechat.standin.publishes[job["publish_id"]]["articles"][0],
            content_source_url=f"{BASE}/items/other",
        )
    )
    deliver(channel, version("half"), Operation.WITHDRAW)
    held = by_uid(list(channel.inventory()))
    assert [(h.live, h.validity) for h in held["half"]] == [(False, None)]
    assert [(h.live, h.validity) for h in held["other"]] == [(True, "有效")]


def test_correction_mode_counts_only_the_newest_article_live(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    channel = make_channel(update_mode="correction")
    deliver(channel, version("corrected"))
    time.sleep(1.1)  # the stand-in orders publications by whole seconds
    # a correction of a still-valid item (a change of validity deletes the original instead:
    # tests/channels/test_wechat_channel.py)
    deliver(channel, version("corrected", version=2, body_html="<p>更正后的正文。</p>"), Operation.UPDATE)
    held = by_uid(list(channel.inventory()))["corrected"]
    assert len(held) == 2  # both articles are on the account
    assert sorted((h.live, h.validity) for h in held) == [(False, None), (True, "有效")]


def test_inventory_pages_through_more_than_twenty_publications(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    channel = make_channel()
    uids = [f"many{n:02d}" for n in range(23)]
    for uid in uids:
        channel.send(channel.render(version(uid), Operation.PUBLISH), key=f"{uid}:publish")
    wait_for(
        lambda: sum(1 for j in wechat.state()["publishes"].values() if j["publish_status"] == 0) >= 23,
        10,
        "the publish jobs finished",
    )
    held = list(channel.inventory())
    assert sorted(h.uid for h in held) == uids  # by source URL: none was confirmed through us
    assert all(h.live and h.validity == "有效" for h in held)
    assert wechat.state()["counters"]["api_calls"]["freepublish/batchget"] == 2
    # a withdrawal finds an article that nothing remembered through the same pages (the whole
    # list), wherever it stands among the 23
    deliver(channel, version(uids[0]), Operation.WITHDRAW)
    assert wechat.state()["counters"]["api_calls"]["freepublish/batchget"] == 4
    assert sorted(h.uid for h in channel.inventory() if h.live) == uids[1:]
