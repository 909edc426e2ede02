"""The annual report's editing page through the pages (TestClient over the real app): roles,
field errors that name and link the field, and the public report showing what was saved."""

from __future__ import annotations

from bs4 import BeautifulSoup

from tests.publisher.web.pages.conftest import Site, post


def test_an_editor_fills_in_the_report_and_the_public_page_shows_it(site: Site) -> None:
    editor = site.login("editor")
    page = editor.get("/app/reports/annual/2025")
    assert page.status_code == 200 and "填报" in page.text
    # a bad number: the form comes back with the field named, linked and kept
    r = post(
        editor,
        "/app/reports/annual/2025",
        {"permits": "十二", "overview": "总体良好。"},
        "/app/reports/annual/2025",
    )
    assert r.status_code == 422
    soup = BeautifulSoup(r.text, "html.parser")
    link = soup.select_one("#report-errors a")
    assert link["href"] == "#f-permits" and "行政许可" in link.get_text()
    assert soup.select_one("#f-permits")["aria-invalid"] == "true"
    assert soup.select_one("#f-overview").get_text() == "总体良好。"
    # a good one is saved and shows on the public report at once
    r = post(
        editor,
        "/app/reports/annual/2025",
        {"permits": "12", "overview": "总体良好。"},
        "/app/reports/annual/2025",
    )
    assert r.status_code == 303
    public = BeautifulSoup(editor.get("/reports/annual/2025").text, "html.parser")
    assert "总体良好。" in public.select_one("#report").get_text()


def test_other_roles_and_bad_years_are_refused(site: Site) -> None:
    reviewer = site.login("reviewer")
    assert reviewer.get("/app/reports/annual/2025").status_code == 403
    r = post(reviewer, "/app/reports/annual/2025", {"permits": "1"}, "/app/items")
    assert r.status_code == 403
    assert site.runtime.compliance.annual_report(2025).inputs == {}
    editor = site.login("editor")
    assert editor.get("/app/reports/annual/1899").status_code == 422
