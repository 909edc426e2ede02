"""Post-publication inspection on the ops pages: the drift list, the dashboard badge and the
item timeline show a drift; ops re-push or accept it by CSRF-checked posts; an editor may
look but not act."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from publisher.store.models import AuditEvent
from tests.publisher.web.pages.conftest import Site, flashes, post
from tests.publisher.web.pages.test_ops import approve_through_pages
from tests.support import wait_for


def rss_store(site: Site) -> Path:
    return Path(site.runtime.settings.data_dir) / "channels" / "rss" / "entries.sqlite3"


def two_drifts(site: Site) -> tuple[str, str]:
    rt = site.runtime
    gone, hidden = approve_through_pages(site, "被删的条目"), approve_through_pages(site, "被藏的条目")
    wait_for(lambda: all(d["state"] == "delivered" for u in (gone, hidden) for d in rt.service.deliveries(u)))
    with sqlite3.connect(rss_store(site)) as conn:
        conn.execute("DELETE FROM entries WHERE uid = ?", (gone,))
        conn.execute("UPDATE entries SET withdrawn = 1 WHERE uid = ?", (hidden,))
    assert rt.deliveries.inspect(["rss"]).drifted == 2
    return gone, hidden


def drift_ids(html: str) -> dict[str, str]:
    return {kind: i for i, kind in re.findall(r'<tr data-drift="(\d+)" data-kind="([a-z_]+)"', html)}


def test_drifts_are_listed_on_the_dashboard_and_the_timeline(site: Site) -> None:
    gone, _hidden = two_drifts(site)
    ops = site.login("ops")
    assert "在线副本偏差 2" in ops.get("/app/ops").text
    page = ops.get("/app/ops/drifts").text
    assert set(drift_ids(page)) == {"missing", "unpublished"}
    assert "被删的条目" in page and "副本不存在" in page and "重新投递" in page and "接受现状" in page
    timeline = ops.get(f"/app/ops/items/{gone}").text
    assert 'data-kind="missing"' in timeline and "发现在线副本偏差" in timeline
    assert "重新投递" not in site.login("editor").get("/app/ops/drifts").text  # may look, not act


def test_ops_accept_and_re_push_with_csrf(site: Site) -> None:
    gone, hidden = two_drifts(site)
    ops = site.login("ops")
    ids = drift_ids(ops.get("/app/ops/drifts").text)
    # without the session's CSRF token: refused, nothing changes
    forged = ops.post(
        f"/app/ops/drifts/{ids['unpublished']}/accept", data={"reason": "x"}, follow_redirects=False
    )
    assert forged.status_code == 403
    # an editor: refused by the service
    editor = site.login("editor")
    post(editor, f"/app/ops/drifts/{ids['unpublished']}/accept", {"reason": "不要紧"}, "/app/ops/drifts")
    assert "需要角色" in " ".join(flashes(editor.get("/app/ops/drifts").text))
    # no reason: refused with the field's message
    post(ops, f"/app/ops/drifts/{ids['unpublished']}/accept", {"reason": " "}, "/app/ops/drifts")
    assert "请填写原因" in " ".join(flashes(ops.get("/app/ops/drifts").text))
    r = post(
        ops, f"/app/ops/drifts/{ids['unpublished']}/accept", {"reason": "门户已另行说明"}, "/app/ops/drifts"
    )
    assert r.status_code == 303 and r.headers["location"] == "/app/ops/drifts"
    with site.runtime.db.reader() as s:
        [event] = s.query(AuditEvent).filter(AuditEvent.action == "delivery.drift_accept").all()
    assert event.actor == "ops" and event.reason == "门户已另行说明" and event.item_uid == hidden

    post(ops, f"/app/ops/drifts/{ids['missing']}/repush", {}, "/app/ops/drifts")
    assert "已重新投递" in " ".join(flashes(ops.get("/app/ops/drifts").text))
    wait_for(lambda: all(d["state"] == "delivered" for d in site.service.deliveries(gone)))
    assert "没有偏差" in ops.get("/app/ops/drifts").text
    every = ops.get("/app/ops/drifts?all=1").text
    assert "已接受" in every and "已重新投递" in every
    assert site.runtime.deliveries.inspect(["rss"], gone).drifted == 0


def test_the_api_lists_accepts_and_refuses_bad_input(site: Site) -> None:
    _gone, hidden = two_drifts(site)
    token = site.runtime.service.add_user("ops-api", "ops")[1]
    with TestClient(site.app) as api:  # type: ignore[arg-type]
        auth = {"Authorization": f"Bearer {token}"}
        listed = api.get("/api/drifts", headers=auth).json()["drifts"]
        assert {d["kind"] for d in listed} == {"missing", "unpublished"}
        [d] = [d for d in listed if d["item"] == hidden]
        bad = api.post(f"/api/drifts/{d['id']}/accept", json={"reason": ""}, headers=auth)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"].endswith("reason")
        ok = api.post(f"/api/drifts/{d['id']}/accept", json={"reason": "已知"}, headers=auth)
        assert ok.status_code == 200 and ok.json()["resolution"] == "accepted"
        again = api.post(f"/api/drifts/{d['id']}/repush", headers=auth)
        assert again.status_code == 409
        assert api.post("/api/drifts/999999/repush", headers=auth).status_code == 404
        assert api.get("/api/drifts", headers=auth).json()["drifts"][0]["kind"] == "missing"
