"""CityPlatformChannel.inventory against two real reference receivers over HTTP: the
disclosure platform (every type) and the trading platform (procurement results only)."""

from __future__ import annotations

from datetime import date

import pytest

from channels.base import ChannelConfigError, Holding, Operation, TransientError
from channels.cityplatform import CityPlatformChannel, CityPlatformSettings
from publisher.domain.item import ItemType
from tests.factories import make_version
from tests.support import wait_for

from .test_cityplatform_e2e import CONTEXT, PROCUREMENT, Platforms, deliver
from .test_cityplatform_e2e import platforms as platforms  # noqa: F401  (fixture)


def by_uid(holdings: list[Holding]) -> dict[str, list[Holding]]:
    out: dict[str, list[Holding]] = {}
    for h in holdings:
        out.setdefault(h.uid, []).append(h)
    return out


def test_records_of_every_target_become_one_holding_per_item(platforms: Platforms) -> None:
    p = platforms
    live = make_version(uid="live01", index_number="AB1900010-2019-201")
    abolished = make_version(uid="abol01", index_number="AB1900010-2019-202")
    revoked = make_version(uid="revk01", index_number="AB1900010-2019-203")
    proc = make_version(
        uid="proc01",
        index_number="AB1900010-2019-204",
        type=ItemType.PROCUREMENT_RESULT,
        structured={"procurement": PROCUREMENT},
    )
    for v in (live, abolished, revoked, proc):
        assert deliver(p, v, Operation.PUBLISH, f"{v.uid}:1:publish").delivered
    v2 = make_version(
        uid="abol01",
        index_number="AB1900010-2019-202",
        version=2,
        validity="已废止",
        validity_changed_on=date(2019, 6, 1),
    )
    assert deliver(p, v2, Operation.UPDATE, "abol01:2:update").delivered
    assert deliver(p, revoked, Operation.WITHDRAW, "revk01:1:withdraw").delivered

    held = by_uid(list(p.channel.inventory()))
    assert set(held) == {"live01", "abol01", "revk01", "proc01"}
    assert [(h.live, h.version, h.validity) for h in held["live01"]] == [(True, 1, "有效")]
    assert [(h.live, h.version, h.validity) for h in held["abol01"]] == [(True, 2, "已废止")]
    assert [(h.live, h.validity) for h in held["revk01"]] == [(False, None)]
    # on both platforms, alike: one holding naming both records
    [both] = held["proc01"]
    assert both.live and both.version == 1
    assert both.external_id == "disclosure:AB1900010-2019-204,trading:AB1900010-2019-204"


def test_targets_that_disagree_yield_one_holding_each(platforms: Platforms) -> None:
    p = platforms
    proc = make_version(
        uid="proc02",
        index_number="AB1900010-2019-301",
        type=ItemType.PROCUREMENT_RESULT,
        structured={"procurement": PROCUREMENT},
    )
    assert deliver(p, proc, Operation.PUBLISH, "proc02:1:publish").delivered
    # revoked on the trading platform only (a channel that knows only that target)
    trading_target = next(t for t in p.channel.cfg.targets if t.name == "trading")
    only_trading = CityPlatformChannel(CityPlatformSettings(enabled=True, targets=[trading_target]), CONTEXT)
    try:
        receipt = only_trading.send(only_trading.render(proc, Operation.WITHDRAW), key="proc02:1:withdraw")
        assert receipt.accepted
    finally:
        only_trading.close()
    wait_for(lambda: p.trading.state()["records"][0]["status"] == "revoked", 10, "the record revoked")
    held = by_uid(list(p.channel.inventory()))["proc02"]
    assert sorted((h.external_id, h.live) for h in held) == [
        ("disclosure:AB1900010-2019-301", True),
        ("trading:AB1900010-2019-301", False),
    ]


def test_paged_listing(platforms: Platforms) -> None:
    p = platforms
    p.channel.INVENTORY_PAGE = 2  # small pages: the loop is exercised
    for n in range(5):
        v = make_version(uid=f"page{n}", index_number=f"AB1900010-2019-{400 + n}")
        assert deliver(p, v, Operation.PUBLISH, f"page{n}:1:publish").delivered
    assert sorted(h.uid for h in p.channel.inventory()) == [f"page{n}" for n in range(5)]


def test_unavailable_platform_and_wrong_secret_are_classified(platforms: Platforms) -> None:
    p = platforms
    p.disclosure.fault(unavailable_for=5, retry_after=1)
    with pytest.raises(TransientError) as exc:
        list(p.channel.inventory())
    assert exc.value.http_status == 503
    p.disclosure.admin("DELETE", "faults")
    wrong = CityPlatformSettings.model_validate(
        {
            "enabled": True,
            "targets": [
                {
                    "name": "disclosure",
                    "url": p.disclosure.records_url,
                    "secret": "whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC0xMjM0NTY=",
                    "types": ["policy"],
                }
            ],
        }
    )
    channel = CityPlatformChannel(wrong, CONTEXT)
    try:
        with pytest.raises(ChannelConfigError) as bad:
            list(channel.inventory())
        assert bad.value.http_status == 401
    finally:
        channel.close()
