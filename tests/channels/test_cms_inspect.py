"""Post-publication inspection of WordPress posts against the real local WordPress: the
adapter's `inspect` (the same look-up by uid `send` makes), and the whole path through the
ledger — a post edited by hand is stale, a trashed one unpublished, a deleted one missing,
and a re-push is a normal delivery that puts the post back."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from channels.base import CopyRef, Operation
from channels.cms import CmsChannel
from publisher.runtime import Runtime
from tests.conftest import Team
from tests.support import publish, wait_for
from tests.wordpress_support import posts_for

from .test_cms_wordpress import WordPress, new_policy, send
from .test_cms_wordpress import admin as admin  # noqa: F401  (fixture)
from .test_cms_wordpress import cms as cms  # noqa: F401  (fixture)
from .test_cms_wordpress import uids as uids  # noqa: F401  (fixture)
from .test_cms_wordpress import wordpress as wordpress  # noqa: F401  (fixture)

pytestmark = pytest.mark.wordpress


def test_inspect_reads_the_post_edited_trashed_and_deleted(
    cms: CmsChannel, admin: httpx.Client, uids: list[str]
) -> None:
    v = new_policy(uids)
    receipt = send(cms, v, Operation.PUBLISH)
    ref = CopyRef(uid=v.uid, version=1, external_id=receipt.external_id)
    held = cms.inspect(ref)
    assert held is not None and (held.live, held.version, held.validity) == (True, 1, "有效")
    assert held.modified_at is not None and held.external_id == receipt.external_id
    [listed] = [h for h in cms.inventory() if h.uid == v.uid]
    assert (listed.live, listed.version, listed.modified_at) == (held.live, held.version, held.modified_at)

    time.sleep(1.1)  # WordPress keeps modification times to the second
    edited = admin.post(f"/posts/{receipt.external_id}", json={"content": "<p>有人手工改了正文。</p>"})
    assert edited.status_code == 200, edited.text
    after = cms.inspect(ref)
    assert after is not None and after.live and after.modified_at and after.modified_at > held.modified_at

    assert admin.delete(f"/posts/{receipt.external_id}").status_code == 200  # to the trash
    trashed = cms.inspect(ref)
    assert trashed is not None and not trashed.live and trashed.status == "trash"

    gone = admin.delete(f"/posts/{receipt.external_id}", params={"force": "true"})
    assert gone.status_code == 200, gone.text
    assert cms.inspect(ref) is None


def test_drift_on_the_real_wordpress_through_the_ledger_and_a_re_push(
    make_runtime: Callable[..., Runtime],
    team: Team,
    wordpress: WordPress,
    admin: httpx.Client,
    uids: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INSPECT_WP_PASSWORD", wordpress.app_password)
    rt = make_runtime(
        {
            "cms": {
                "enabled": True,
                "base_url": wordpress.url,
                "user": wordpress.user,
                "app_password_env": "INSPECT_WP_PASSWORD",
            }
        },
        threads=1,
        inspection={"modified_tolerance_seconds": 0},
        egress={"allow_hosts": ["127.0.0.1"]},
    )
    edited, trashed = publish(rt.service, team, title="手工修改"), publish(rt.service, team, title="被删文章")
    uids += [edited, trashed]  # force-deleted afterwards

    def delivered() -> bool:
        return all(d["state"] == "delivered" for u in (edited, trashed) for d in rt.service.deliveries(u))

    wait_for(delivered, timeout=60)
    assert rt.deliveries.inspect(["cms"]).drifted == 0
    [post_e] = posts_for(admin, edited)
    [post_t] = posts_for(admin, trashed)
    time.sleep(1.1)
    assert admin.post(f"/posts/{post_e['id']}", json={"title": "被改掉的标题"}).status_code == 200
    assert admin.delete(f"/posts/{post_t['id']}").status_code == 200
    report = rt.deliveries.inspect(["cms"])
    assert report.drifted == 2, report
    found = {d["item"]: d for d in rt.deliveries.drifts(channel="cms")}
    assert found[edited]["kind"] == "stale" and "投递后被修改" in found[edited]["found"]
    assert found[trashed]["kind"] == "unpublished" and found[trashed]["found"] == "trash"

    # re-push both: normal deliveries through the ledger put the version back on the site
    for d in found.values():
        rt.deliveries.repush(team.ops, d["id"])
    wait_for(delivered, timeout=60)
    [post_t] = posts_for(admin, trashed)
    assert post_t["status"] == "publish"
    after = rt.deliveries.inspect(["cms"])
    assert after.drifted == 0 and rt.deliveries.drifts(channel="cms") == []
