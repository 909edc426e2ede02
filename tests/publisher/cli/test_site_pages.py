"""The demo's standing pages of the site (publisher/data/site-pages.json, loaded by
scripts/run.sh) go through the whole workflow and appear on the home page."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher.editorial.public import Site
from publisher.editorial.service import Service
from tests.publisher.cli_support import cli_env, run

SITE_PAGES = Path(__file__).resolve().parents[3] / "publisher" / "data" / "site-pages.json"


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> dict[str, str | None]:
    return cli_env(tmp_path, db_url)


def test_site_pages_load_and_show_on_the_home_page(env: dict[str, str | None], service: Service) -> None:
    result = run(env, "load-samples", "--file", str(SITE_PAGES))
    assert result.exit_code == 0, result.output
    assert "失败 0" in result.stdout
    home = Site(service.db, service.settings).home()
    assert home.guide is not None and home.guide.title.startswith("上海市财政局政府信息公开指南")
    assert len(home.rules) == 2
    assert home.total == 0  # standing pages are not documents of the catalogue list
