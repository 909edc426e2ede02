"""The local WordPress the cms tests run against: started by the project's own idempotent
setup script (scripts/setup-wordpress.sh), credentials read from the wp.env it writes."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from channels.cms import CmsSettings

ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = Path(os.environ.get("WP_STATE_DIR", "/var/lib/publisher-wp"))


@dataclass(frozen=True)
class WordPress:
    url: str
    user: str
    app_password: str

    def settings(self, **overrides: Any) -> CmsSettings:
        values: dict[str, Any] = dict(enabled=True, base_url=self.url, user=self.user,
                                      app_password=SecretStr(self.app_password))
        values.update(overrides)
        return CmsSettings(**values)


def start_wordpress() -> WordPress:
    """Run the setup script (fast when WordPress is up); AssertionError when it cannot start,
    so a test that needs WordPress fails, never skips."""
    try:
        run = subprocess.run(["bash", str(ROOT / "scripts" / "setup-wordpress.sh"), "start"],
                             capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise AssertionError("scripts/setup-wordpress.sh did not finish in 15 minutes") from None
    if run.returncode != 0:
        raise AssertionError(
            f"WordPress could not be started (rc={run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
        )
    env = dict(line.split("=", 1) for line in (STATE_DIR / "wp.env").read_text().splitlines() if "=" in line)
    return WordPress(env["WP_URL"], env["WP_USER"], env["WP_APP_PASSWORD"])
