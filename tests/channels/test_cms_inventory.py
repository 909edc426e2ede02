"""CmsChannel.inventory against the real local WordPress (scripts/setup-wordpress.sh): every
post carrying a publisher_uid, in any status, read with the edit context."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from pydantic import SecretStr

from channels.base import ChannelConfigError, Holding, Operation
from channels.cms import CmsChannel
from tests.factories import make_version

from .test_cms_wordpress import CONTEXT, WordPress, new_policy, send
from .test_cms_wordpress import admin as admin  # noqa: F401  (fixture)
from .test_cms_wordpress import cms as cms  # noqa: F401  (fixture)
from .test_cms_wordpress import uids as uids  # noqa: F401  (fixture)
from .test_cms_wordpress import wordpress as wordpress  # noqa: F401  (fixture)

pytestmark = pytest.mark.wordpress


def mine(channel: CmsChannel, uids: list[str]) -> dict[str, list[Holding]]:
    """The holdings of this test's items (WordPress is shared with other tests)."""
    out: dict[str, list[Holding]] = {}
    for h in channel.inventory():
        if h.uid in uids:
            out.setdefault(h.uid, []).append(h)
    return out


def test_published_updated_trashed_and_noticed_posts(
    cms: CmsChannel, wordpress: WordPress, admin: httpx.Client, uids: list[str]
) -> None:
    live = new_policy(uids)
    send(cms, live, Operation.PUBLISH)
    abolished = new_policy(uids)
    send(cms, abolished, Operation.PUBLISH)
    send(
        cms,
        make_version(
            **{
                **abolished.__dict__,
                "version": 2,
                "validity": "已废止",
                "validity_changed_on": date(2019, 6, 1),
            }
        ),
        Operation.UPDATE,
    )
    trashed = new_policy(uids)
    send(cms, trashed, Operation.PUBLISH)
    send(cms, trashed, Operation.WITHDRAW)
    noticed = new_policy(uids)
    notice_channel = CmsChannel(wordpress.settings(withdraw_mode="notice"), CONTEXT)
    try:
        send(notice_channel, noticed, Operation.PUBLISH)
        send(notice_channel, noticed, Operation.WITHDRAW)
    finally:
        notice_channel.close()
    draft = new_policy(uids)
    created = admin.post(
        "/posts",
        json={
            "title": "草稿",
            "status": "draft",
            "meta": {"publisher_uid": draft.uid, "publisher_version": 1},
        },
    )
    assert created.status_code == 201, created.text

    held = mine(cms, uids)
    [h] = held[live.uid]
    assert (h.live, h.version, h.validity) == (True, 1, "有效")
    assert h.url and h.url.startswith(wordpress.url) and h.external_id
    assert [(h.live, h.version, h.validity) for h in held[abolished.uid]] == [(True, 2, "已废止")]
    assert [(h.live, h.validity) for h in held[trashed.uid]] == [(False, None)]
    assert [(h.live, h.validity) for h in held[noticed.uid]] == [(False, None)]  # up, but a withdrawal notice
    assert [(h.live, h.version) for h in held[draft.uid]] == [(False, 1)]


def test_more_than_one_page(wordpress: WordPress, uids: list[str]) -> None:
    pages: list[int] = []

    class Noting(httpx.HTTPTransport):
        """The real network, noting each listing page asked for."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "GET" and request.url.path.endswith("/wp/v2/posts"):
                pages.append(int(request.url.params.get("page", "0")))
            return super().handle_request(request)

    transport = Noting()
    cms = CmsChannel(wordpress.settings(), CONTEXT, transport=transport)
    try:
        versions = [new_policy(uids) for _ in range(3)]
        for v in versions:
            send(cms, v, Operation.PUBLISH)
        cms.inventory_page = 2
        pages.clear()
        held = mine(cms, uids)
    finally:
        cms.close()
    assert sorted(held) == sorted(uids) and all(len(hs) == 1 and hs[0].live for hs in held.values())
    assert len(pages) >= 2 and pages == list(range(1, len(pages) + 1))


def test_bad_password_is_a_config_error(wordpress: WordPress) -> None:
    channel = CmsChannel(wordpress.settings(app_password=SecretStr("wrong wrong wrong wrong")), CONTEXT)
    try:
        with pytest.raises(ChannelConfigError) as exc:
            list(channel.inventory())
        assert exc.value.http_status == 401
    finally:
        channel.close()
