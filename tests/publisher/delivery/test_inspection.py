"""Post-publication inspection through the real ledger, against the rss channel's own store and
a local web server for the body's links: drift found, recorded, audited, alerted, cleared,
accepted and re-pushed; the cadence reads only copies due."""

from __future__ import annotations

import gzip
import json
import random
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from channels.registry import channel_class
from publisher.delivery.drift import DriftKind
from publisher.delivery.inspection import Inspector, links_on
from publisher.domain.clock import utcnow
from publisher.domain.errors import PermissionDeniedError, TransitionError, ValidationError
from publisher.observe.metrics import DRIFT_KINDS, registry_for
from publisher.runtime import Runtime
from publisher.settings import Settings
from publisher.store.models import AlertEvent, AuditEvent, LiveCopy
from tests.conftest import Team
from tests.support import publish, wait_for


class LinkServer:
    """Answers /ok with 200, /gone with 404, /moved with a redirect to `localhost` (another
    site than 127.0.0.1); `routes` can be changed while it runs."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str]] = {"/ok": (200, ""), "/gone": (404, ""), "/moved": (200, "")}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                status, location = server.routes.get(self.path, (404, ""))
                self.send_response(status)
                if location:
                    self.send_header("Location", location.replace("PORT", str(server.port)))
                self.send_header("Content-Length", "2")
                self.end_headers()
                if self.command == "GET":
                    self.wfile.write(b"ok")

            do_GET = do_HEAD = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def links() -> Iterator[LinkServer]:
    server = LinkServer()
    yield server
    server.close()


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(
        {"rss": {"enabled": True}},
        threads=1,
        egress={"allow_hosts": ["127.0.0.1", "localhost"]},
        inspection={"tick_seconds": 3600, "jitter": 0.1},
    )


def delivered(rt: Runtime, uids: list[str]) -> bool:
    return all(d["state"] in ("delivered", "superseded") for u in uids for d in rt.service.deliveries(u))


def store_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "channels" / "rss" / "entries.sqlite3"


DELETE = "DELETE FROM entries WHERE uid = ?"
HIDE = "UPDATE entries SET withdrawn = 1 WHERE uid = ?"


def published(rt: Runtime, team: Team, *titles: str, **fields: Any) -> list[str]:
    """One item per title (one with `fields` when none is given) approved, and delivered."""
    uids = [publish(rt.service, team, title=t, **fields) for t in titles] or [
        publish(rt.service, team, **fields)
    ]
    wait_for(lambda: delivered(rt, uids))
    return uids


def change_entries(settings: Settings, sql: str, *uids: str) -> None:
    """The feed's own store changed underneath the channel: `sql` run once per uid (`?`)."""
    with sqlite3.connect(store_path(settings)) as conn:
        conn.executemany(sql, [(u,) for u in uids])


def one_drift(rt: Runtime, team: Team, settings: Settings, sql: str) -> tuple[str, dict[str, Any]]:
    """An item delivered, its entry changed by `sql`, the feeds inspected: (uid, its one drift)."""
    [uid] = published(rt, team)
    change_entries(settings, sql, uid)
    rt.deliveries.inspect(["rss"])
    [d] = rt.deliveries.drifts()
    return uid, d


def kinds(rt: Runtime, **filters: Any) -> list[tuple[str, str]]:
    return sorted((d["kind"], d["item"]) for d in rt.deliveries.drifts(**filters))


def count(rt: Runtime, model: Any, *where: Any) -> int:
    with rt.db.reader() as s:
        return int(s.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def scrape(rt: Runtime) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry_for(rt.db, rt.settings)).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_the_metric_names_every_drift_kind() -> None:
    assert DRIFT_KINDS == tuple(k.value for k in DriftKind)


def test_a_delivered_copy_is_enrolled_replaced_by_a_newer_version_and_removed_by_withdrawal(
    runtime: Runtime, team: Team
) -> None:
    rt = runtime
    a, b = published(rt, team, "副本甲", "副本乙")
    assert count(rt, LiveCopy) == 2
    rt.service.abolish(team.approver, a, on=date(2026, 12, 1))
    rt.service.withdraw(team.approver, b, "撤回")
    wait_for(lambda: delivered(rt, [a, b]))
    with rt.db.reader() as s:
        [copy] = s.execute(select(LiveCopy)).scalars().all()
    versions = {d["id"]: d for d in rt.service.deliveries(a)}
    assert versions[copy.delivery_id]["operation"] == "update"  # the abolition's version
    report = rt.deliveries.inspect(["rss"])
    assert (report.inspected, report.drifted, report.unchecked) == (1, 0, 0)


def test_every_kind_of_copy_drift_is_a_ledger_fact_audited_and_alerted(
    runtime: Runtime, team: Team, settings: Settings
) -> None:
    rt = runtime
    gone, hidden, old, kept = published(rt, team, *(f"偏差{i}" for i in range(4)))
    rt.service.abolish(team.approver, old, on=date(2026, 12, 1))
    wait_for(lambda: delivered(rt, [old]))
    assert rt.deliveries.inspect(["rss"]).drifted == 0
    change_entries(settings, DELETE, gone)
    change_entries(settings, HIDE, hidden)
    change_entries(settings, "UPDATE entries SET version = 1 WHERE uid = ?", old)
    report = rt.deliveries.inspect(["rss"])
    [rss] = report.channels
    assert (rss.inspected, rss.ok, rss.drifted, rss.new_drifts) == (4, 1, 3, 3)
    assert kinds(rt) == sorted([("missing", gone), ("unpublished", hidden), ("stale", old)])
    [stale] = rt.deliveries.drifts(item=old)
    assert "第 2 版" in stale["expected"] and "第 1 版" in stale["found"]
    assert count(rt, AuditEvent, AuditEvent.action == "delivery.drift") == 3
    assert count(rt, AlertEvent, AlertEvent.kind == "inspection.drift", AlertEvent.channel == "rss") == 3
    metrics = scrape(rt)
    for kind, n in (("missing", 1), ("unpublished", 1), ("stale", 1), ("link_dead", 0)):
        assert metrics[("publisher_drifts_open", (("channel", "rss"), ("kind", kind)))] == n
    assert metrics[("publisher_inspection_behind_seconds", (("channel", "rss"),))] >= 0

    # found again: the same records, seen again, no new audit event or alert
    again = rt.deliveries.inspect(["rss"])
    assert again.drifted == 3 and again.channels[0].new_drifts == 0
    assert count(rt, AuditEvent, AuditEvent.action == "delivery.drift") == 3
    assert len(rt.deliveries.drifts()) == 3

    # put right on the channel: the next inspection clears the record
    change_entries(settings, "UPDATE entries SET withdrawn = 0 WHERE uid = ?", hidden)
    rt.deliveries.inspect(["rss"])
    assert kinds(rt) == sorted([("missing", gone), ("stale", old)])
    [cleared] = [d for d in rt.deliveries.drifts(open_only=False) if d["item"] == hidden]
    assert cleared["resolution"] == "cleared" and cleared["resolved_by"] == "system"


def test_a_copy_replaced_by_a_newer_delivery_or_withdrawn_closes_its_open_drifts(
    runtime: Runtime, team: Team, settings: Settings
) -> None:
    rt = runtime
    changed, pulled, other = published(rt, team, *(f"取代{i}" for i in range(3)))
    change_entries(settings, DELETE, changed, pulled, other)
    assert rt.deliveries.inspect(["rss"]).drifted == 3
    # a new version of one goes out, another is withdrawn: their drifts were about copies that
    # are no longer the ledger's; the third stays open
    rt.service.abolish(team.approver, changed, on=date(2026, 12, 1))
    rt.service.withdraw(team.approver, pulled, "撤回")
    wait_for(lambda: delivered(rt, [changed, pulled]))
    assert kinds(rt) == [("missing", other)]
    closed = {d["item"]: d for d in rt.deliveries.drifts(open_only=False) if d["item"] != other}
    assert {d["resolution"] for d in closed.values()} == {"superseded"} and set(closed) == {changed, pulled}
    assert rt.deliveries.inspect(["rss"]).drifted == 1  # the new version's copy is fine


def edit_served(settings: Settings, name: str, edit: Callable[[str], str]) -> None:
    """A feed file as subscribers get it (gzip for a `.gz`) changed by `edit` on disk."""
    path = Path(settings.data_dir) / "channels" / "rss" / "feeds" / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(edit(gzip.decompress(path.read_bytes()).decode()).encode()))
    else:
        path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")


def without_item(uid: str) -> Callable[[str], str]:
    return lambda xml: re.sub(rf"<item>((?!</item>).)*?/items/{uid}.*?</item>", "", xml, count=1, flags=re.S)


def test_a_feed_file_that_lost_or_altered_an_entry_is_drift_until_a_re_push_writes_it_again(
    runtime: Runtime, team: Team, settings: Settings
) -> None:
    rt = runtime
    lost, altered, unzipped, kept = published(rt, team, *(f"订阅{i}" for i in range(4)))
    assert rt.deliveries.inspect(["rss"]).drifted == 0
    # the entry store is untouched: only what subscribers are served changes
    edit_served(settings, "all.rss", without_item(lost))
    edit_served(
        settings,
        "all.atom",
        lambda xml: re.sub(
            rf"(<entry>((?!</entry>).)*?/items/{altered}.*?<disclosure:version>)1<",
            r"\g<1>7<",
            xml,
            flags=re.S,
        ),
    )
    edit_served(settings, "type/policy.rss.gz", without_item(unzipped))
    report = rt.deliveries.inspect(["rss"])
    assert (report.inspected, report.drifted) == (4, 3)
    found = {d["item"]: d for d in rt.deliveries.drifts()}
    assert {u: d["kind"] for u, d in found.items()} == {
        lost: "unpublished",
        altered: "stale",
        unzipped: "unpublished",
    }
    assert "all.rss" in found[lost]["found"] and "第 7 版" in found[altered]["found"]
    assert "type/policy.rss.gz" in found[unzipped]["found"]
    # a .gz that is not there is no drift: the plain file is served in its place
    (Path(settings.data_dir) / "channels" / "rss" / "feeds" / "all.atom.gz").unlink()
    assert rt.deliveries.inspect(["rss"]).drifted == 3
    # a file that no longer parses leaves every entry out of it
    edit_served(settings, "all.rss", lambda xml: xml[: len(xml) // 2])
    rt.deliveries.inspect(["rss"])
    assert kinds(rt, item=kept) == [("unpublished", kept)]
    # a re-push writes the files again though the entries did not change
    for d in rt.deliveries.drifts():
        rt.deliveries.repush(team.ops, d["id"])
    wait_for(lambda: delivered(rt, [lost, altered, unzipped, kept]))
    assert rt.deliveries.inspect(["rss"]).drifted == 0
    assert rt.deliveries.drifts() == []


def test_ops_accept_a_drift_with_a_reason_and_it_is_not_raised_again(
    runtime: Runtime, team: Team, settings: Settings
) -> None:
    rt = runtime
    uid, d = one_drift(rt, team, settings, HIDE)
    with pytest.raises(PermissionDeniedError):
        rt.deliveries.accept_drift(team.editor, d["id"], "无所谓")
    with pytest.raises(ValidationError) as bad:
        rt.deliveries.accept_drift(team.ops, d["id"], "  ")
    assert bad.value.errors[0].field == "reason"
    accepted = rt.deliveries.accept_drift(team.ops, d["id"], "已在网站另行公告")
    assert accepted["resolution"] == "accepted" and accepted["accepted_by"] == "ops"
    with rt.db.reader() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "delivery.drift_accept")).scalar_one()
    assert event.actor == "ops" and event.reason == "已在网站另行公告" and event.item_uid == uid
    with pytest.raises(TransitionError):
        rt.deliveries.accept_drift(team.ops, d["id"], "再来一次")
    report = rt.deliveries.inspect(["rss"])
    assert report.channels[0].new_drifts == 0 and rt.deliveries.drifts() == []


def test_a_re_push_is_a_normal_delivery_that_puts_the_copy_back(
    runtime: Runtime, team: Team, settings: Settings
) -> None:
    rt = runtime
    _, d = one_drift(rt, team, settings, DELETE)
    with pytest.raises(PermissionDeniedError):
        rt.deliveries.repush(team.editor, d["id"])
    delivery_id = rt.deliveries.repush(team.ops, d["id"])
    assert delivery_id == d["delivery"]
    wait_for(lambda: rt.deliveries.get(delivery_id)["state"] == "delivered")
    assert rt.deliveries.get(delivery_id)["attempts"] == 1  # a fresh budget, one more send
    [after] = rt.deliveries.drifts(open_only=False)
    assert after["resolution"] == "repushed" and after["resolved_by"] == "ops"
    report = rt.deliveries.inspect(["rss"])
    assert (report.drifted, report.inspected) == (0, 1)
    with pytest.raises(TransitionError):
        rt.deliveries.repush(team.ops, d["id"])  # already resolved
    assert count(rt, AuditEvent, AuditEvent.action == "delivery.repush") == 1


def test_dead_and_moved_links_are_drift_through_the_egress_guard(
    runtime: Runtime, team: Team, links: LinkServer
) -> None:
    rt = runtime
    body = (
        f'<p>见<a href="{links.url("/ok")}">办法</a>、<a href="{links.url("/gone")}">细则</a>、'
        f'<a href="{links.url("/moved")}">解读</a>。</p>'
    )
    links.routes["/gone"] = (200, "")
    published(rt, team, body_html=body)
    assert rt.deliveries.inspect(["rss"]).drifted == 0
    links.routes["/gone"] = (404, "")
    links.routes["/moved"] = (302, "http://localhost:PORT/ok")  # hijacked to another site
    report = rt.deliveries.inspect(["rss"])
    assert report.drifted == 1
    found = {d["kind"]: d for d in rt.deliveries.drifts()}
    assert set(found) == {"link_dead", "link_moved"}
    assert found["link_dead"]["subject"] == links.url("/gone") and "404" in found["link_dead"]["found"]
    assert found["link_moved"]["found"].startswith("http://localhost:")
    links.routes["/gone"] = (200, "")
    links.routes["/moved"] = (301, "http://127.0.0.1:PORT/ok")  # within the same site: fine
    rt.deliveries.inspect(["rss"])
    assert rt.deliveries.drifts() == []


def test_a_link_the_egress_guard_refuses_is_dead(make_runtime: Callable[..., Runtime], team: Team) -> None:
    rt = make_runtime({"rss": {"enabled": True}}, threads=1, checks={"links": False})
    published(rt, team, body_html='<p><a href="http://169.254.169.254/latest">元数据</a></p>')
    rt.deliveries.inspect(["rss"])
    [d] = rt.deliveries.drifts()
    assert d["kind"] == "link_dead" and d["subject"] == "http://169.254.169.254/latest"


def test_a_channel_that_cannot_be_read_leaves_copies_unchecked_never_fine(
    runtime: Runtime, team: Team, settings: Settings
) -> None:
    rt = runtime
    published(rt, team)
    store = store_path(settings)
    rt.channels.get("rss").close()
    for extra in store.parent.glob(store.name + "-*"):
        extra.unlink()
    store.write_bytes(b"not a database " * 512)
    report = rt.deliveries.inspect(["rss"])
    assert (report.inspected, report.unchecked, report.drifted) == (1, 1, 0)
    assert rt.deliveries.drifts() == []
    with rt.db.reader() as s:
        copy = s.execute(select(LiveCopy)).scalar_one()
    assert copy.last_outcome == "unchecked" and copy.last_inspected_at is None


def test_a_push_only_channel_is_not_inspectable(
    make_runtime: Callable[..., Runtime], team: Team, receiver: Any
) -> None:
    rt = make_runtime(
        {
            "rss": {"enabled": True},
            "webhook": {
                "enabled": True,
                "subscribers": [
                    {"name": "a", "url": receiver.url, "secret_env": "PUBLISHER_TEST_WEBHOOK_SECRET"}
                ],
            },
        },
        threads=1,
    )
    published(rt, team)
    report = rt.deliveries.inspect()
    by = {c.channel: c for c in report.channels}
    assert by["webhook.a"].not_inspectable and by["webhook.a"].inspected == 0
    assert by["rss"].inspected == 1


def test_the_clock_inspects_only_copies_due_within_the_channel_budget(
    runtime: Runtime, team: Team, settings: Settings
) -> None:
    rt = runtime
    published(rt, team, *(f"节奏{i}" for i in range(5)))
    cfg = {
        "first_after_seconds": 3600,
        "interval_seconds": 86400,
        "new_copy_days": 3,
        "new_copy_interval_seconds": 6 * 3600,
        "jitter": 0.1,
        "rate_per_second": 0.001,
        "tick_seconds": 3000,
    }
    inspector = Inspector(
        rt.db,
        settings.replace(inspection=cfg),
        rt.channels,
        None,
        rng=random.Random(7),
        sleep=lambda _s: None,
    )
    now = utcnow()
    # just delivered: nothing is read yet, each copy gets its first date about an hour on
    first = inspector.tick(now)
    assert first.inspected == 0
    with rt.db.reader() as s:
        dates = [c.next_inspect_at - c.delivered_at for c in s.execute(select(LiveCopy)).scalars()]
    assert all(timedelta(minutes=54) <= d <= timedelta(minutes=66) for d in dates), dates
    assert len({d for d in dates}) > 1  # jitter spreads them
    # two hours on: every copy is due, the budget (rate x tick = 3) takes three of them
    later = now + timedelta(hours=2)
    assert inspector.tick(later).inspected == 3
    assert inspector.tick(later).inspected == 2  # the rest; the claimed ones are not due
    assert inspector.tick(later).inspected == 0
    with rt.db.reader() as s:
        copies = s.execute(select(LiveCopy)).scalars().all()
    # young copies come back after about six hours, not a day
    assert all(timedelta(hours=5.3) <= c.next_inspect_at - later <= timedelta(hours=6.7) for c in copies)
    assert all(c.inspections == 1 and c.last_outcome == "ok" for c in copies)
    # four days on the copies are no longer new: next time in about a day
    old = now + timedelta(days=4)
    assert inspector.tick(old).inspected == 3
    with rt.db.reader() as s:
        gaps = sorted(
            c.next_inspect_at - old for c in s.execute(select(LiveCopy)).scalars() if c.inspections == 2
        )
    assert len(gaps) == 3 and all(timedelta(hours=21) <= g <= timedelta(hours=27) for g in gaps)


def test_the_command_reports_progress_and_exits_non_zero_on_drift(
    runtime: Runtime, team: Team, settings: Settings, db_url: str, tmp_path: Path
) -> None:
    from tests.publisher.cli_support import run

    [uid] = published(runtime, team)
    config = tmp_path / "rss-only.toml"
    config.write_text("[channels.rss]\nenabled = true\n", encoding="utf-8")
    env = {
        "PUBLISHER_CONFIG": str(config),
        "PUBLISHER_DATABASE_URL": db_url,
        "PUBLISHER_DATA_DIR": str(settings.data_dir),
        "PUBLISHER_BROKER_URL": None,
    }
    ok = run(env, "inspect", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["inspected"] == 1
    change_entries(settings, DELETE, uid)
    bad = run(env, "inspect", "--item", uid)
    assert bad.exit_code == 1, bad.output
    assert "rss: 检查 1，正常 0，偏差 1" in bad.output
    listed = run(env, "drifts", "--json")
    [d] = json.loads(listed.output)
    assert d["kind"] == "missing" and d["item"] == uid
    assert run(env, "inspect", "--channel", "nosuch").exit_code == 2


def test_the_executor_clock_starts_one_round_at_a_time_in_its_own_thread(
    make_runtime: Callable[..., Runtime], team: Team, settings: Settings
) -> None:
    # the runtime's own clock stays out of it: the inspectors below are the clocks
    rt = make_runtime({"rss": {"enabled": True}}, threads=1, inspection={"enabled": False})
    published(rt, team)
    with rt.db.transaction() as s:
        s.execute(
            update(LiveCopy).values(
                delivered_at=utcnow() - timedelta(days=2), next_inspect_at=utcnow() - timedelta(minutes=1)
            )
        )
    inspector = Inspector(rt.db, settings.replace(inspection={"tick_seconds": 3600}), rt.channels, None)
    other = Inspector(rt.db, settings.replace(inspection={"tick_seconds": 3600}), rt.channels, None)
    inspector.on_sweep(utcnow())
    other.on_sweep(utcnow())  # another process's clock: this tick's round is taken
    assert other._running is None
    inspector.on_sweep(utcnow())  # a round runs (or ran): no second one before tick_seconds
    assert inspector._running is not None
    inspector._running.join(10)
    assert inspector.last_report is not None and inspector.last_report.inspected == 1
    first = inspector._running
    inspector.on_sweep(utcnow())
    assert inspector._running is first  # not due again yet
    off = Inspector(rt.db, settings.replace(inspection={"enabled": False}), rt.channels, None)
    off.on_sweep(utcnow())
    assert off._running is None


@pytest.mark.parametrize(
    ("held", "carrier"),
    [
        ({"cms", "rss", "wechat", "cityplatform"}, "cms"),  # the website's copy first
        ({"rss", "wechat", "cityplatform"}, "rss"),  # then the feeds'
        ({"wechat", "cityplatform"}, "wechat"),  # WeChat only when no site copy is live
        ({"cityplatform", "webhook.a"}, None),  # a metadata record or a push carries no body
        (set(), None),
    ],
)
def test_an_items_link_drifts_belong_to_one_copy_that_carries_the_body(
    held: set[str], carrier: str | None
) -> None:
    ranks = {kind: channel_class(kind).link_rank for kind in ("cms", "rss", "wechat", "cityplatform")}
    assert links_on(held, {**ranks, "webhook.a": None}) == carrier
