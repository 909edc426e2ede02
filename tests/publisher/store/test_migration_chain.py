"""The migrations form one line: parallel work that lands two files with the same number (or
the same down_revision) would give Alembic two heads, and `upgrade head` would refuse to run
on every deployment. The file name's number is the revision, so a clash shows in review too."""

from __future__ import annotations

import re

from alembic.script import ScriptDirectory

from publisher.store.migrate import MIGRATIONS, alembic_config


def test_one_head_and_a_linear_chain() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1, scripts.get_heads()
    revisions = list(scripts.walk_revisions())
    downs = [r.down_revision for r in revisions]
    assert len(downs) == len(set(downs)), "two migrations continue the same revision"
    assert revisions[-1].down_revision is None


def test_file_names_carry_their_revision() -> None:
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        number = path.name.split("_", 1)[0]
        text = path.read_text(encoding="utf-8")
        match = re.search(r'^revision = "([^"]+)"', text, re.MULTILINE)
        assert match is not None, path.name
        assert match.group(1) == number, f"{path.name} declares revision {match.group(1)}"
