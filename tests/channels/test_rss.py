"""The rss adapter on its own: feeds written to a folder, parsed back with feedparser."""

from __future__ import annotations

import gzip
import html
import json
import logging
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import feedparser
import pytest

from channels.base import ChannelContext, Operation, TransientError
from channels.rss import DISCLOSURE_NS, RssChannel, subject_id
from publisher.domain.item import ItemType, VersionView
from tests.factories import make_version
from tests.receiver import Receiver

BASE = "http://127.0.0.1:8000"
BUDGET, FEES, OPENNESS = "财政\\预算", "财政\\收费", "综合政务\\政务公开"


def sf(subject: str) -> str:
    return "subject/" + subject_id(subject)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 1, 0, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def make_channel(tmp_path: Path, **settings: Any) -> RssChannel:
    context = ChannelContext(
        public_base_url=BASE, data_dir=tmp_path / "channels" / "rss", agency_name="上海市财政局"
    )
    channel = RssChannel.from_config({"enabled": True, **settings}, context)
    assert isinstance(channel, RssChannel)
    channel.clock = Clock()
    return channel


def version(n: int = 1, *, uid: str | None = None, **overrides: Any) -> VersionView:
    uid = uid or f"01jdisclosure{n:013d}"
    values: dict[str, Any] = dict(
        uid=uid,
        public_url=f"{BASE}/items/{uid}",
        created_at=datetime(2026, 11, 1, 2, 0, tzinfo=UTC) + timedelta(hours=n),
        published_at=datetime(2026, 11, 1, 2, 0, tzinfo=UTC) + timedelta(hours=n),
    )
    values.update(overrides)
    return make_version(**values)


def deliver(channel: RssChannel, v: VersionView, op: Operation = Operation.PUBLISH) -> Any:
    return channel.send(channel.render(v, op), key=f"{v.uid}.v{v.version}.rss.{op.value}")


def parse(channel: RssChannel, key: str, fmt: str) -> Any:
    data = (channel.output_dir / f"{key}.{fmt}").read_bytes()
    feed = feedparser.parse(data)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return feed


TOMBSTONE = "http://purl.org/atompub/tombstones/1.0"
ATOM = "http://www.w3.org/2005/Atom"


def tombstones(path: Path) -> list[ET.Element]:
    """The RFC 6721 at:deleted-entry elements of an Atom file (children of the feed)."""
    return ET.fromstring(path.read_bytes()).findall(f"{{{TOMBSTONE}}}deleted-entry")


def all_feed_files(channel: RssChannel) -> list[Path]:
    return sorted(p for p in channel.output_dir.rglob("*") if p.suffix in (".rss", ".atom"))


def test_every_feed_parses_with_chinese_text_and_expected_entries(tmp_path: Path) -> None:
    # given three items of two types and two subject classes
    channel = make_channel(tmp_path)
    a = version(1, title="关于进一步规范财政资金管理的通知", subject="财政\\预算")
    b = version(
        2, title="2019年政务公开实施方案解读", type=ItemType.INTERPRETATION, subject="综合政务\\政务公开"
    )
    c = version(3, title="关于调整行政事业性收费标准的通知", subject="财政\\收费")
    # when each is delivered
    receipts = [deliver(channel, v) for v in (a, b, c)]
    # then every feed file parses cleanly, in both formats
    files = all_feed_files(channel)
    keys = {str(p.relative_to(channel.output_dir)).rsplit(".", 1)[0] for p in files}
    assert keys == {
        "all",
        "type/policy",
        "type/interpretation",
        sf("财政"),
        sf(BUDGET),
        sf(FEES),
        sf("综合政务"),
        sf(OPENNESS),
    }
    expected = {
        "all": [c, b, a],
        "type/policy": [c, a],
        "type/interpretation": [b],
        sf("财政"): [c, a],
        sf(BUDGET): [a],
    }
    for key, versions in expected.items():
        for fmt in ("rss", "atom"):
            feed = parse(channel, key, fmt)
            assert [e.id for e in feed.entries] == [v.public_url for v in versions], (key, fmt)
            assert [e.title for e in feed.entries] == [v.title for v in versions]
    atom = parse(channel, "all", "atom")
    assert atom.feed.title == "上海市财政局 政府信息公开"
    entry = atom.entries[2]
    assert entry.summary == a.description
    assert "坚持公开为常态" in entry.content[0].value
    assert entry.author == "上海市财政局"
    assert [t.term for t in entry.tags] == ["政策文件", "财政", "财政\\预算"]
    assert entry.published == "2026-11-01T11:00:00+08:00"
    assert entry.disclosure_indexnumber == "AB1900010-2019-146"
    assert entry.disclosure_docnumber == "沪财预〔2019〕12号"
    assert entry.disclosure_issuedate == "2019-04-04"
    assert entry.disclosure_validity == "有效"
    assert atom.namespaces["disclosure"] == DISCLOSURE_NS
    rss = parse(channel, "all", "rss")
    assert rss.entries[2].author == "上海市财政局"
    assert rss.entries[2].updated == "2026-11-01T11:00:00+08:00"
    assert rss.feed.link == f"{BASE}/items"
    assert receipts[0].external_id == a.public_url and receipts[0].url == a.public_url
    # and index.json names each subject feed
    index = json.loads((channel.output_dir / "index.json").read_text(encoding="utf-8"))
    assert index["subjects"][subject_id(BUDGET)] == BUDGET
    assert index["namespace"] == DISCLOSURE_NS


def test_markup_characters_emoji_and_long_text_round_trip(tmp_path: Path) -> None:
    channel = make_channel(tmp_path)
    title = "预算 <草案> & “说明” 😀 " + "很长的标题" * 50
    body_text = "第一段 <b>不是标签</b> & 符号 🚀 " + "正文内容。" * 20_000
    v = version(
        1,
        title=title,
        description="说明 <摘要> & 😀",
        body_html=f"<p>{body_text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</p>\x0b",
    )
    deliver(channel, v)
    for fmt in ("rss", "atom"):
        feed = parse(channel, "all", fmt)
        entry = feed.entries[0]
        assert entry.title == title
        # RSS <description> is HTML to readers, so the text arrives escaped there; Atom's summary is text
        summary = entry.summary if fmt == "atom" else html.unescape(entry.summary)
        assert summary == "说明 <摘要> & 😀"
        assert "<摘要>" not in (entry.summary if fmt == "rss" else "")
        assert (
            body_text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            in entry.content[0].value
        )
        assert "\x0b" not in entry.content[0].value


def test_policy_published_corrected_abolished_and_withdrawn(tmp_path: Path) -> None:
    channel = make_channel(tmp_path)
    uid = "01jpolicy0000000000000life"
    url = f"{BASE}/items/{uid}"

    def entries() -> list[Any]:
        return list(parse(channel, "all", "atom").entries) + list(
            parse(channel, "type/policy", "rss").entries
        )

    # published
    v1 = version(1, uid=uid, title="关于规范财政资金管理的通知")
    deliver(channel, v1)
    atom_e, rss_e = entries()
    assert (atom_e.id, rss_e.id) == (url, url)
    assert atom_e.title == rss_e.title == "关于规范财政资金管理的通知"
    first_updated = atom_e.updated
    # corrected: v2, same id, new title, updated bumped
    v2 = version(
        1,
        uid=uid,
        version=2,
        title="关于进一步规范财政资金管理的通知",
        created_at=datetime(2026, 11, 5, 2, 0, tzinfo=UTC),
    )
    deliver(channel, v2, Operation.UPDATE)
    atom_e, rss_e = entries()
    assert (atom_e.id, rss_e.id) == (url, url)
    assert atom_e.title == "关于进一步规范财政资金管理的通知"
    assert atom_e.updated == rss_e.updated == "2026-11-05T10:00:00+08:00" != first_updated
    assert atom_e.published == "2026-11-01T11:00:00+08:00"
    assert atom_e.disclosure_version == "2"
    # abolished: the entry says so in title, summary and metadata
    v3 = version(
        1,
        uid=uid,
        version=3,
        title=v2.title,
        validity="已废止",
        validity_changed_on=date(2026, 12, 1),
        created_at=datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
    )
    deliver(channel, v3, Operation.UPDATE)
    atom_e, rss_e = entries()
    assert atom_e.title == rss_e.title == "【已废止】关于进一步规范财政资金管理的通知"
    assert atom_e.summary.startswith("本文件已废止（2026-12-01起）。")
    assert atom_e.disclosure_validity == "已废止"
    assert atom_e.disclosure_validitychangedon == "2026-12-01"
    assert atom_e.updated == "2026-12-01T09:00:00+08:00"
    # withdrawn: gone from every feed, files still valid
    v4 = version(
        1,
        uid=uid,
        version=4,
        title=v2.title,
        withdrawn=True,
        withdraw_reason="发布有误",
        created_at=datetime(2026, 12, 2, 1, 0, tzinfo=UTC),
    )
    receipt = deliver(channel, v4, Operation.WITHDRAW)
    assert receipt.external_id == url
    # withdrawn: every feed tells its subscribers (a tombstone), and every file still parses
    for path in all_feed_files(channel):
        feed = feedparser.parse(path.read_bytes())
        assert feed.bozo == 0, (path, feed.get("bozo_exception"))
        if path.suffix == ".atom":
            assert feed.entries == [], path  # no live entry is left in Atom
            [tomb] = tombstones(path)
            assert tomb.get("ref") == url and tomb.get("when") == "2026-12-02T09:00:00+08:00"
            assert tomb.findtext(f"{{{TOMBSTONE}}}comment") == "该信息已撤回。撤回理由：发布有误"
            assert tomb.find(f"{{{TOMBSTONE}}}by/{{{ATOM}}}name") is not None
            link = tomb.find(f"{{{ATOM}}}link")
            assert link is not None and link.get("href") == url
        else:  # RSS has no tombstone: a short 撤回 notice item under its own guid
            [notice] = feed.entries
            assert notice.id == url + "#withdrawn" and notice.guidislink is False
            assert notice.title == "【已撤回】关于进一步规范财政资金管理的通知"
            assert notice.summary == "该信息已撤回。撤回理由：发布有误"
            assert notice.disclosure_validity == "已撤回"
            assert "财政资金" not in notice.get("content", [{"value": ""}])[0]["value"]


def test_withdrawal_notice_keeps_the_entry_when_configured(tmp_path: Path) -> None:
    channel = make_channel(tmp_path, withdrawal_notice=True)
    v1 = version(1)
    deliver(channel, v1)
    deliver(
        channel,
        version(
            1,
            version=2,
            withdrawn=True,
            withdraw_reason="内容有误",
            created_at=datetime(2026, 12, 2, 1, 0, tzinfo=UTC),
        ),
        Operation.WITHDRAW,
    )
    (entry,) = parse(channel, "all", "atom").entries
    assert entry.id == v1.public_url
    assert entry.title == "【已撤回】" + v1.title
    assert entry.summary == "该信息已撤回。撤回理由：内容有误"
    assert "坚持公开为常态" not in entry.content[0].value
    assert entry.disclosure_validity == "已撤回"


def test_feed_size_limit_keeps_the_newest(tmp_path: Path) -> None:
    channel = make_channel(tmp_path, feed_size=3)
    versions = [version(n) for n in range(1, 6)]
    for v in versions:
        deliver(channel, v)
    for fmt in ("rss", "atom"):
        ids = [e.id for e in parse(channel, "all", fmt).entries]
        assert ids == [v.public_url for v in reversed(versions[2:])]
    assert channel.store.count() == 5


def test_a_late_older_version_never_replaces_a_newer_one(tmp_path: Path) -> None:
    channel = make_channel(tmp_path)
    old = version(1, title="旧标题")
    new = version(1, version=2, title="新标题", created_at=datetime(2026, 11, 9, tzinfo=UTC))
    deliver(channel, new, Operation.UPDATE)
    receipt = deliver(channel, old)
    assert receipt.data["stale"] is True
    assert [e.title for e in parse(channel, "all", "atom").entries] == ["新标题"]
    # nor does a late publish resurrect a withdrawn item
    deliver(
        channel,
        version(1, version=3, withdrawn=True, created_at=datetime(2026, 11, 10, tzinfo=UTC)),
        Operation.WITHDRAW,
    )
    deliver(channel, new, Operation.UPDATE)
    assert parse(channel, "all", "atom").entries == []
    assert [t.get("ref") for t in tombstones(channel.output_dir / "all.atom")] == [new.public_url]


def test_moving_subject_class_leaves_the_old_subject_feed(tmp_path: Path) -> None:
    channel = make_channel(tmp_path)
    deliver(channel, version(1, subject="财政\\预算"))
    deliver(
        channel,
        version(1, version=2, subject="财政\\收费", created_at=datetime(2026, 11, 9, tzinfo=UTC)),
        Operation.UPDATE,
    )
    assert parse(channel, sf(BUDGET), "atom").entries == []
    assert len(parse(channel, sf(FEES), "atom").entries) == 1
    assert len(parse(channel, sf("财政"), "atom").entries) == 1


def test_files_are_replaced_atomically_and_resends_change_nothing(tmp_path: Path) -> None:
    channel = make_channel(tmp_path)
    v = version(1)
    first = deliver(channel, v)
    assert sorted(first.data["written"]) == sorted(first.data["feeds"])
    all_rss = channel.output_dir / "all.rss"
    stat = all_rss.stat()
    # Last-Modified of the file is the time the feed changed (the adapter's clock)
    assert stat.st_mtime == pytest.approx(datetime(2026, 12, 1, 1, 0, 1, tzinfo=UTC).timestamp())
    # pre-compressed copies match
    assert gzip.decompress((channel.output_dir / "all.rss.gz").read_bytes()) == all_rss.read_bytes()
    # a retry of the same delivery (lost response) writes nothing
    again = deliver(channel, v)
    assert again.data["written"] == []
    assert all_rss.stat().st_ino == stat.st_ino and all_rss.stat().st_mtime_ns == stat.st_mtime_ns
    # an update replaces the file by rename (new inode), leaving no temporary files behind
    deliver(
        channel,
        version(1, version=2, title="更正", created_at=datetime(2026, 11, 9, tzinfo=UTC)),
        Operation.UPDATE,
    )
    assert all_rss.stat().st_ino != stat.st_ino
    leftovers = [
        p for p in channel.output_dir.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")
    ]
    assert leftovers == []
    # deleted files are rebuilt from the store
    all_rss.unlink()
    assert "all" in channel.rebuild_all()
    assert parse(channel, "all", "rss").entries[0].title == "更正"


def test_unwritable_output_is_a_transient_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    channel = make_channel(tmp_path, output_dir=str(blocker / "feeds"))
    with pytest.raises(TransientError) as exc:
        deliver(channel, version(1))
    assert "写入订阅源失败 / cannot write feeds" in exc.value.message
    # the entry is in the channel's store, so the retry only has to write the files
    assert channel.store.entry(version(1).uid) is not None


@pytest.fixture
def hub() -> Iterator[Receiver]:
    """A WebSub hub: the one receiver (tests/receiver.py), taking unsigned form pings."""
    r = Receiver(verify=False, default=202).start()
    yield r
    r.stop()


def test_websub_hub_is_pinged_with_every_changed_feed(tmp_path: Path, hub: Receiver) -> None:
    url = hub.url
    channel = make_channel(tmp_path, websub_hub_url=url)
    deliver(channel, version(1, subject="财政"))
    (ping,) = [parse_qsl(h.raw.decode()) for h in hub.hits]
    assert ping[0] == ("hub.mode", "publish")
    topics = {v for k, v in ping if k == "hub.url"}
    assert topics == {
        f"{BASE}/feeds/{k}.{f}" for k in ("all", "type/policy", sf("财政")) for f in ("rss", "atom")
    }
    # and the feeds advertise the hub
    assert {"href": url, "rel": "hub"}.items() <= next(
        link for link in parse(channel, "all", "atom").feed.links if link["rel"] == "hub"
    ).items()
    assert f'<atom:link href="{url}" rel="hub"/>' in (channel.output_dir / "all.rss").read_text(
        encoding="utf-8"
    )


def test_websub_hub_down_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = make_channel(tmp_path, websub_hub_url=f"http://127.0.0.1:{port}/hub")
    with caplog.at_level(logging.WARNING, logger="channels.rss.channel"):
        receipt = deliver(channel, version(1))
    assert receipt.external_id == version(1).public_url
    assert any(
        "WebSub ping" in r.getMessage() and "connection error" in r.getMessage() for r in caplog.records
    )


def test_concurrent_sends_from_two_workers_lose_no_entry(tmp_path: Path) -> None:
    # given two adapter instances on the same folder (two worker processes) with four threads each
    channels = [make_channel(tmp_path), make_channel(tmp_path)]
    versions = [version(n) for n in range(1, 25)]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for v in versions[i::8]:
                deliver(channels[i % 2], v)
        except BaseException as exc:  # surfaced below with its class
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then every entry is in the feed, newest first, and the files are whole
    assert errors == []
    for fmt in ("rss", "atom"):
        ids = [e.id for e in parse(channels[0], "all", fmt).entries]
        assert ids == [v.public_url for v in reversed(versions)]
