"""Withdrawal and lost-submit recovery against the local WeChat stand-in over real HTTP, with
freepublish/batchget listing the account's publications in another order than newest first:
WeChat documents no order (https://developers.weixin.qq.com/doc/offiaccount/Publish/Get_publication_records.html).
The item's article stands beyond the first ten pages (the old bound of `lookup_pages`), so
a search that trusts the order misses it: a withdrawal then reported success with the
article still live, a recovery found no publication (and a replay would publish again)."""

from __future__ import annotations

from typing import Any

import pytest

from channels.base import PermanentError, TransientError
from channels.standins.wechat_server import RunningServer, listed
from publisher.domain.item import Operation, VersionView
from tests.factories import make_version
from tests.support import wait_for

from .wechat_support import *  # noqa: F403  (fixtures)
from .wechat_support import ChannelFactory, submit_and_lose_the_answer

BASE = "http://127.0.0.1:8000"
FILLERS = 230  # with the item's own: 12 pages of 20, two beyond the old bound of 10


def version(uid: str, **overrides: Any) -> VersionView:
    values: dict[str, Any] = dict(uid=uid, public_url=f"{BASE}/items/{uid}", index_number=None)
    values.update(overrides)
    return make_version(**values)


def wait_published(wechat: RunningServer, count: int) -> None:
    wait_for(
        lambda: sum(1 for j in wechat.standin.publishes.values() if j["publish_status"] == 0) >= count,
        10,
        "the publish jobs finished",
    )


def list_it_beyond(wechat: RunningServer, order: str, article_id: str, position: int) -> None:
    """List publications in `order`, with `article_id` at `position` or later (for "shuffled",
    the first seed that puts it there)."""
    jobs = [j for j in wechat.standin.publishes.values() if j["publish_status"] == 0]
    seed = 0
    if order == "shuffled":
        while [j["article_id"] for j in listed(jobs, order, seed)].index(article_id) < position:
            seed += 1
    wechat.admin("POST", "config", {"publication_order": order, "publication_seed": seed})
    where = [j["article_id"] for j in listed(jobs, order, seed)].index(article_id)
    assert where >= position, (order, seed, where)


def batchget_calls(wechat: RunningServer) -> int:
    return int(wechat.state()["counters"]["api_calls"].get("freepublish/batchget", 0))


@pytest.mark.parametrize("order", ["oldest", "shuffled"])
def test_withdrawal_finds_the_article_wherever_the_list_puts_it(
    make_channel: ChannelFactory, wechat: RunningServer, order: str
) -> None:
    wechat.admin("POST", "publications", {"count": FILLERS})
    channel = make_channel()
    receipt = channel.send(channel.render(version("farback"), Operation.PUBLISH), key="farback:publish")
    wait_published(wechat, FILLERS + 1)
    article_id = str(wechat.standin.publishes[str(receipt.external_id)]["article_id"])
    list_it_beyond(wechat, order, article_id, 200)

    # a worker of a deployment that remembered nothing (no confirmation, no push seen) finds
    # the article by its source URL alone
    other = make_channel(key_prefix=channel.settings.key_prefix + ":other")
    before = batchget_calls(wechat)
    withdrawn = other.send(other.render(version("farback"), Operation.WITHDRAW), key="farback:withdraw")

    assert withdrawn.data["deleted"] == [{"article_id": article_id, "index": 1}], withdrawn.data
    assert withdrawn.data["absent"] is False
    state = wechat.state()
    assert state["publishes"][receipt.external_id]["publish_status"] == 5
    live = [a for a in state["articles"].values() if not a["items"][0]["is_deleted"]]
    assert len(live) == FILLERS  # the item's article alone was deleted
    # the whole list, once: 231 publications are 12 pages of 20
    assert batchget_calls(wechat) - before == 12


@pytest.mark.parametrize("order", ["oldest", "shuffled"])
def test_lost_submit_is_recovered_wherever_the_list_puts_the_publication(
    make_channel: ChannelFactory, wechat: RunningServer, order: str
) -> None:
    wechat.admin("POST", "publications", {"count": FILLERS})
    channel = make_channel()
    item = version("lostfarback")
    submit_and_lose_the_answer(channel, item, "lostfarback:publish")
    wait_published(wechat, FILLERS + 1)
    [job] = [j for j in wechat.standin.publishes.values() if j["media_id"]]
    list_it_beyond(wechat, order, str(job["article_id"]), 200)

    # the retry after the lost answer: the draft has left the box, the publication is found
    receipt = channel.send(channel.render(item, Operation.PUBLISH), key="lostfarback:publish")

    assert receipt.data["recovered"] is True and receipt.external_id == job["article_id"]
    assert wechat.state()["counters"]["api_calls"]["freepublish/submit"] == 1  # never a second copy
    again = channel.send(channel.render(item, Operation.PUBLISH), key="lostfarback:publish")
    assert again.external_id == job["article_id"]


def test_a_list_longer_than_lookup_pages_is_never_taken_for_not_found(
    make_channel: ChannelFactory, wechat: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wechat.admin("POST", "publications", {"count": 45})
    channel = make_channel(lookup_pages=2)
    receipt = channel.send(channel.render(version("capped"), Operation.PUBLISH), key="capped:publish")
    item = version("lostcapped")
    submit_and_lose_the_answer(channel, item, "lostcapped:publish")
    wait_published(wechat, 47)
    wechat.admin("POST", "config", {"publication_order": "oldest"})

    # a withdrawal that could not read the list to its end fails, naming the setting, and
    # leaves the article where it is for the replay after the setting is raised
    other = make_channel(key_prefix=channel.settings.key_prefix + ":other", lookup_pages=2)
    with pytest.raises(PermanentError, match="lookup_pages") as refused:
        other.send(other.render(version("capped"), Operation.WITHDRAW), key="capped:withdraw")
    assert "未读完" in refused.value.message
    assert wechat.state()["publishes"][receipt.external_id]["publish_status"] == 0

    # a lost submit's publication not found in the pages read is "not known", never "none"
    with pytest.raises(TransientError, match="lookup_pages"):
        channel.send(channel.render(item, Operation.PUBLISH), key="lostcapped:publish")
    monkeypatch.setattr("channels.wechat.channel.LOST_SUBMIT_PATIENCE", 0)
    with pytest.raises(PermanentError, match="lookup_pages") as gave_up:
        channel.send(channel.render(item, Operation.PUBLISH), key="lostcapped:publish")
    assert "no publication was found" not in gave_up.value.message
    assert "切勿直接重放" in gave_up.value.message
    assert wechat.state()["counters"]["api_calls"]["freepublish/submit"] == 2  # never a third

    # with the whole list read (no lookup_pages) both succeed
    unbounded = make_channel(key_prefix=channel.settings.key_prefix + ":other")
    withdrawn = unbounded.send(unbounded.render(version("capped"), Operation.WITHDRAW), key="capped:w2")
    assert (
        withdrawn.data["deleted"] and wechat.state()["publishes"][receipt.external_id]["publish_status"] == 5
    )
