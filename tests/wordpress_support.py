"""The local WordPress the cms tests run against: started by the project's own idempotent
setup script (scripts/setup-wordpress.sh), credentials read from the wp.env it writes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from channels.cms import CmsSettings

__all__ = ["admin", "uids", "wordpress"]  # the fixtures, for `import *`

ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = Path(os.environ.get("WP_STATE_DIR", "/var/lib/publisher-wp"))


@dataclass(frozen=True)
class WordPress:
    url: str
    user: str
    app_password: str

    def settings(self, **overrides: Any) -> CmsSettings:
        values: dict[str, Any] = dict(
            enabled=True, base_url=self.url, user=self.user, app_password=SecretStr(self.app_password)
        )
        values.update(overrides)
        return CmsSettings(**values)


def start_wordpress() -> WordPress:
    """Run the setup script (fast when WordPress is up); AssertionError when it cannot start,
    so a test that needs WordPress fails, never skips."""
    try:
        run = subprocess.run(
            ["bash", str(ROOT / "scripts" / "setup-wordpress.sh"), "start"],
            capture_output=True,
            text=True,
            timeout=900,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("scripts/setup-wordpress.sh did not finish in 15 minutes") from None
    if run.returncode != 0:
        raise AssertionError(
            f"WordPress could not be started (rc={run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
        )
    env = dict(line.split("=", 1) for line in (STATE_DIR / "wp.env").read_text().splitlines() if "=" in line)
    return WordPress(env["WP_URL"], env["WP_USER"], env["WP_APP_PASSWORD"])


@pytest.fixture(scope="session")
def wordpress() -> WordPress:
    """Runs the idempotent setup script; fails, never skips, when WordPress cannot start."""
    return start_wordpress()


@pytest.fixture
def admin(wordpress: WordPress) -> Iterator[httpx.Client]:
    """A plain REST client to inspect what WordPress holds."""
    with httpx.Client(
        base_url=wordpress.url + "/wp-json/wp/v2", auth=(wordpress.user, wordpress.app_password), timeout=30
    ) as client:
        yield client


def posts_for(admin: httpx.Client, uid: str) -> list[dict[str, Any]]:
    """Every post holding this item uid, drafts and the trash included (the plugin's lookup)."""
    posts = admin.get("/posts", params={"publisher_uid": uid, "context": "edit"}).json()
    assert isinstance(posts, list)
    return posts


@pytest.fixture
def uids(admin: httpx.Client) -> Iterator[list[str]]:
    """Item uids a test publishes; their posts are force-deleted afterwards."""
    made: list[str] = []
    yield made
    for uid in made:
        for post in posts_for(admin, uid):
            admin.delete(f"/posts/{post['id']}", params={"force": "true"})
