"""WechatChannel.inspect (post-publication inspection) against the local WeChat stand-in over
real HTTP: the publication's status by its publish_id, then the article; an article the
account deleted is gone, one WeChat banned is not live, an abolition shows in its validity."""

from __future__ import annotations

from channels.base import CopyRef, Operation
from channels.standins.wechat_server import RunningServer

from .test_wechat_inventory import deliver, version
from .wechat_support import *  # noqa: F403  (fixtures)
from .wechat_support import ChannelFactory


def test_a_live_article_is_read_back_like_the_inventory_reads_it(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    channel = make_channel(update_mode="republish")
    receipt = deliver(channel, version("wx-live"))
    held = channel.inspect(CopyRef(uid="wx-live", version=1, external_id=receipt.external_id))
    assert held is not None and held.live and held.validity == "有效" and held.version is None
    [listed] = [h for h in channel.inventory() if h.uid == "wx-live"]
    assert (listed.external_id, listed.url, listed.validity) == (held.external_id, held.url, held.validity)


def test_taken_down_by_the_platform_and_deleted_by_the_account(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    channel = make_channel(update_mode="republish")
    banned = deliver(channel, version("wx-ban"))
    deleted = deliver(channel, version("wx-del"))
    assert banned.external_id and deleted.external_id
    wechat.admin("POST", f"publishes/{banned.external_id}/ban")
    held = channel.inspect(CopyRef(uid="wx-ban", version=1, external_id=banned.external_id))
    assert held is not None and not held.live and "封禁" in (held.status or "")

    # deleted by hand in the account's back office (freepublish/delete, not our withdrawal)
    article_id = wechat.state()["publishes"][deleted.external_id]["article_id"]
    channel.api.post("freepublish/delete", "freepublish/delete", {"article_id": article_id, "index": 1})
    assert channel.inspect(CopyRef(uid="wx-del", version=1, external_id=deleted.external_id)) is None


def test_an_abolition_shows_in_the_articles_validity(
    make_channel: ChannelFactory, wechat: RunningServer
) -> None:
    channel = make_channel(update_mode="republish")
    deliver(channel, version("wx-abol"))
    update = deliver(channel, version("wx-abol", version=2, validity="已废止"), Operation.UPDATE)
    held = channel.inspect(CopyRef(uid="wx-abol", version=2, external_id=update.external_id))
    assert held is not None and held.live and held.validity == "已废止"
