"""Browser tests drive Debian's Chromium through Playwright (Playwright's own browser
download does not work here). The session fixture installs `chromium` and `fonts-noto-cjk`
with apt-get when /usr/bin/chromium is missing; if that fails, the tests fail."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, expect, sync_playwright

# expect() retries its assertion until this timeout; Playwright's 5 s default is too short for
# a Chromium sharing 2 cores with the rest of the suite (an editor test failed so in CI).
# Assertions that hold return at once, so a wide bound costs nothing when all is well.
expect.set_options(timeout=20_000)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


def _ensure_chromium() -> None:
    if Path(CHROMIUM).exists() and Path("/usr/share/fonts/opentype/noto").exists():
        return
    if shutil.which("apt-get") is None:
        pytest.fail("/usr/bin/chromium is missing and apt-get is not available to install it")
    result = subprocess.run(
        ["apt-get", "install", "-y", "chromium", "fonts-noto-cjk"],
        capture_output=True,
        text=True,
        timeout=900,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
    )
    if not Path(CHROMIUM).exists():
        pytest.fail(f"could not install chromium: {result.stderr[-2000:]}")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    _ensure_chromium()
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield b
    b.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
