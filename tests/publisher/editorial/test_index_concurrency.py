"""索取号 under concurrent approvals on PostgreSQL: two processes, 200 approvals each."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from publisher.editorial.service import Service
from tests.conftest import Team
from tests.samples import policy

APPROVER_SCRIPT = """
import json, sys
from publisher.editorial.auth import Actor
from publisher.domain.item import Role
from publisher.store.db import Database
from publisher.editorial.service import Service
from publisher.settings import Settings
url, actor_id, uids = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
channels = {k: {"enabled": True} for k in ("rss", "cms", "wechat", "cityplatform")}
svc = Service(Database(url), Settings(database={"url": url}, channels=channels))
actor = Actor(actor_id, "approver", Role.APPROVER)
for uid in uids:
    svc.approve(actor, uid)
print("done", len(uids))
"""


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_processes_approving_200_each_never_share_an_index_number(
    service: Service, team: Team, db_url: str, tmp_path: Path
) -> None:
    # given 400 items awaiting approval
    uids = []
    for i in range(400):
        item = service.create_item(team.editor, policy(title=f"并发测试{i}", doc_number=None))
        uids.append(item.uid)
    with service.db.transaction() as s:
        from sqlalchemy import update

        from publisher.store.models import Item

        s.execute(update(Item).values(state="awaiting_approval"))
    # when two processes approve 200 each at the same time
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPROVER_SCRIPT, db_url, str(team.approver.id), json.dumps(chunk)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for chunk in (uids[:200], uids[200:])
    ]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    # then every item has its own number and the serials are exactly 1..400
    total, items = service.list_items(limit=1000)
    assert total == 400
    numbers = [i["index_number"] for i in items]
    assert len(set(numbers)) == 400
    serials = sorted(int(re.match(r"^AB1900010-\d{4}-(\d+)$", n).group(1)) for n in numbers)  # type: ignore[union-attr]
    assert serials == list(range(1, 401))
    assert service.verify_audit()[1] == []  # the audit chain did not fork either
