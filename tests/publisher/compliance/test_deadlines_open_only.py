"""The periodic deadline check reads only the items whose clocks can still be open (those in
the works, and those abolished by a notice), not the archive: it finds exactly the open
clocks a full computation over every item finds, across drafts, published items, revisions
with a new formation date, abolitions by date and by a notice not yet out, and scheduled
releases; and the published archive adds nothing to what it reads."""

from __future__ import annotations

from datetime import date, timedelta

from publisher.compliance import deadlines, overdue
from publisher.compliance.deadlines import _item_facts, open_deadlines
from publisher.domain.clock import utcnow
from publisher.editorial.service import Service
from tests.conftest import Team
from tests.publisher.compliance.support import at, draft, release
from tests.samples import policy


def _mixed(service: Service, team: Team) -> dict[str, str]:
    uids = {
        "draft": draft(service, team, policy(ref="d1", formed_at="2024-09-25")),
        "old": release(service, team, policy(ref="p1", issue_date="2024-09-20", formed_at="2024-09-25")),
        "fresh": release(service, team, policy(ref="p2", doc_number=None)),
        "abolished": release(service, team, policy(ref="p3", doc_number=None)),
        "revised": release(service, team, policy(ref="p4", doc_number=None, formed_at="2024-05-06")),
        "notice": release(service, team, policy(ref="p5", doc_number=None)),
        "by_notice": release(service, team, policy(ref="p6", doc_number=None)),
    }
    service.abolish(team.approver, uids["abolished"], on=date(2024, 1, 2))
    # a revision with a new formation date, not yet approved: a new clock is running
    service.update_item(team.editor, uids["revised"], {"formed_at": "2024-06-03"})
    # abolished by a notice that is then withdrawn: the validity clock stays open
    service.abolish(team.approver, uids["by_notice"], on=date(2024, 3, 1), by=uids["notice"])
    service.withdraw(team.approver, uids["notice"], "撤回")
    return uids


def test_open_only_finds_what_the_full_computation_finds(service: Service, team: Team) -> None:
    uids = _mixed(service, team)
    for now in (at(2024, 6, 10), at(2024, 10, 21), at(2025, 1, 6), utcnow(), utcnow() + timedelta(days=400)):
        with service.db.reader() as s:
            full = [d for d in deadlines(s, now) if d.status in ("open", "at_risk", "overdue")]
            assert open_deadlines(s, now) == full
            assert overdue(s, now) == [d for d in full if d.status == "overdue"]
    with service.db.reader() as s:
        read = {f.uid for f in _item_facts(s, None, open_only=True)}
    # the settled published items are not read at all
    assert uids["old"] not in read and uids["fresh"] not in read and uids["abolished"] not in read
    assert {uids["draft"], uids["revised"], uids["by_notice"]} <= read
