"""CityPlatformChannel.inspect (post-publication inspection) against two real reference
receivers: one record read back per copy, signed like every read, merged across the targets
that take the item's type; a record the platform revoked on its own is not live."""

from __future__ import annotations

from datetime import date

from channels.base import CopyRef, Operation
from publisher.domain.item import ItemType
from tests.factories import make_version

from .test_cityplatform_e2e import PROCUREMENT, Platforms, deliver
from .test_cityplatform_e2e import platforms as platforms  # noqa: F401  (fixture)


def ref(uid: str, index_number: str, item_type: str = "policy") -> CopyRef:
    return CopyRef(uid=uid, version=1, external_id=index_number, item_type=item_type)


def test_a_record_is_read_back_and_a_revocation_by_the_platform_is_seen(platforms: Platforms) -> None:
    p = platforms
    v = make_version(uid="insp01", index_number="AB1900010-2019-301")
    assert deliver(p, v, Operation.PUBLISH, "insp01:1:publish").delivered
    held = p.channel.inspect(ref("insp01", "AB1900010-2019-301"))
    assert held is not None and (held.uid, held.live, held.version, held.validity) == (
        "insp01",
        True,
        1,
        "有效",
    )
    assert held.external_id == "disclosure:AB1900010-2019-301"
    # inventory and inspect read the same record the same way
    [listed] = [h for h in p.channel.inventory() if h.uid == "insp01"]
    assert (listed.live, listed.version, listed.validity) == (held.live, held.version, held.validity)

    assert p.disclosure.admin("POST", "records/AB1900010-2019-301/revoke", {"reason": "核查撤销"})["ok"]
    revoked = p.channel.inspect(ref("insp01", "AB1900010-2019-301"))
    assert revoked is not None and not revoked.live and "核查撤销" in (revoked.status or "")
    assert p.channel.inspect(ref("never", "AB1900010-2019-399")) is None


def test_targets_that_disagree_show_the_worst_copy(platforms: Platforms) -> None:
    p = platforms
    v = make_version(
        uid="insp02",
        index_number="AB1900010-2019-302",
        type=ItemType.PROCUREMENT_RESULT,
        structured={"procurement": PROCUREMENT},
    )
    assert deliver(p, v, Operation.PUBLISH, "insp02:1:publish").delivered
    both = p.channel.inspect(ref("insp02", "AB1900010-2019-302", "procurement_result"))
    assert both is not None and both.live
    assert both.external_id == "disclosure:AB1900010-2019-302,trading:AB1900010-2019-302"
    p.trading.admin("POST", "records/AB1900010-2019-302/revoke")
    worst = p.channel.inspect(ref("insp02", "AB1900010-2019-302", "procurement_result"))
    assert worst is not None and not worst.live and worst.external_id == "trading:AB1900010-2019-302"
    # a target that should hold it and does not: missing
    p.trading.admin("DELETE", "state")
    assert p.channel.inspect(ref("insp02", "AB1900010-2019-302", "procurement_result")) is None


def test_an_abolished_record_reads_with_its_new_validity(platforms: Platforms) -> None:
    p = platforms
    v = make_version(uid="insp03", index_number="AB1900010-2019-303")
    assert deliver(p, v, Operation.PUBLISH, "insp03:1:publish").delivered
    v2 = make_version(
        uid="insp03",
        index_number="AB1900010-2019-303",
        version=2,
        validity="已废止",
        validity_changed_on=date(2019, 6, 1),
    )
    assert deliver(p, v2, Operation.UPDATE, "insp03:2:update").delivered
    held = p.channel.inspect(ref("insp03", "AB1900010-2019-303"))
    assert held is not None and (held.version, held.validity) == (2, "已废止")
