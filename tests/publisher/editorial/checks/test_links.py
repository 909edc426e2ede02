"""Links: dead ones block, redirects to another site warn; the cache; the fetcher over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from channels.egress import EgressGuard, EgressSettings
from publisher.editorial.checks.fetch import GuardedFetcher
from publisher.editorial.checks.links import LinkCache, LinkChecker, Probe, probeable, site_of
from publisher.editorial.checks.problem import Severity
from tests.publisher.editorial.checks.support import only, run

BODY = (
    '<p>见<a href="https://a.example/ok">《办法》全文</a>，'
    '<a href="https://a.example/gone">旧文</a>，<img src="/static/x.png" alt="图"></p>'
)


def probes(**by_url: Probe) -> dict[str, Probe]:
    return dict(by_url)


def test_a_dead_link_blocks_and_a_redirect_to_another_site_warns() -> None:
    results = {
        "https://a.example/ok": Probe(
            "https://a.example/ok", 200, "https://b.example/landing", ("https://a.example/ok",)
        ),
        "https://a.example/gone": Probe("https://a.example/gone", 404, "https://a.example/gone"),
        "http://pub.example/static/x.png": Probe(
            "http://pub.example/static/x.png", None, "", error="unreachable"
        ),
    }
    problems = run(body=BODY, links=results)
    [redirect] = only(problems, "links.redirect")
    assert redirect.severity is Severity.WARN and redirect.suggestion == "https://b.example/landing"
    dead = only(problems, "links.dead")
    assert [p.matched for p in dead] == ["https://a.example/gone", "http://pub.example/static/x.png"]
    assert all(p.severity is Severity.BLOCK for p in dead)
    assert BODY[dead[0].start : dead[0].end].startswith('<a href="https://a.example/gone">')


def test_redirects_within_one_site_and_unchecked_links_are_quiet() -> None:
    results = {
        "https://a.example/ok": Probe("https://a.example/ok", 200, "https://www.a.example/ok/"),
    }
    assert [p.rule for p in run(body=BODY, links=results) if p.rule.startswith("links.")] == []


def test_attachments_and_the_cover_are_checked_the_items_own_page_is_not() -> None:
    content = {
        "attachments": [{"title": "实施细则", "url": "https://a.example/rules.pdf"}],
        "cover_url": "https://a.example/cover.jpg",
    }
    results = {u: Probe(u, 500, u) for u in ("https://a.example/rules.pdf", "https://a.example/cover.jpg")}
    body = '<p><a href="http://pub.example/items/01abc">本文</a></p>'
    results["http://pub.example/items/01abc"] = Probe("http://pub.example/items/01abc", 404, "")
    fields = [p.field for p in only(run(content, body=body, links=results, uid="01abc"), "links.dead")]
    assert sorted(fields) == ["attachments.0.url", "cover_url"]


def test_registrable_domains() -> None:
    assert site_of("https://www.shanghai.gov.cn/x") == "shanghai.gov.cn"
    assert site_of("https://czj.sh.gov.cn/") == "sh.gov.cn"
    assert site_of("http://a.b.example.com/") == "example.com"
    assert site_of("http://127.0.0.1:8000/x") == "127.0.0.1"


class CountingFetcher:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def probe(self, url: str) -> Probe:
        self.calls.append(url)
        return Probe(url, 200, url)


def test_results_are_cached_for_their_time_and_typing_never_probes() -> None:
    now = [0.0]
    fetcher = CountingFetcher()
    checker = LinkChecker(fetcher, LinkCache(ttl=60, clock=lambda: now[0]))
    assert checker.cached(["https://a.example/1"]) == {}
    assert fetcher.calls == []  # the typing path never probes
    checker.probe_all(["https://a.example/1", "https://a.example/1", "https://a.example/2"])
    checker.probe_all(["https://a.example/1"])
    assert sorted(fetcher.calls) == ["https://a.example/1", "https://a.example/2"]
    assert set(checker.cached(["https://a.example/1"])) == {"https://a.example/1"}
    now[0] = 61.0
    assert checker.cached(["https://a.example/1"]) == {}
    checker.probe_all(["https://a.example/1"])
    assert fetcher.calls.count("https://a.example/1") == 2


def test_a_fetcher_that_hangs_counts_as_unreachable_within_the_budget() -> None:
    release = threading.Event()

    class Slow:
        def probe(self, url: str) -> Probe:
            release.wait(5)
            return Probe(url, 200, url)

    try:
        out = LinkChecker(Slow(), budget_seconds=0.2).probe_all(["https://slow.example/"])
        assert out["https://slow.example/"].dead
    finally:
        release.set()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, body: bool) -> None:
        routes = {
            "/ok": (200, None),
            "/gone": (404, None),
            "/moved": (301, "/ok"),
            "/away": (302, "http://localhost:{port}/ok"),
            "/loop": (302, "/loop"),
        }
        status, location = routes.get(self.path, (404, None))
        if self.command == "HEAD" and self.path == "/nohead":
            status = 405
        elif self.path == "/nohead":
            status = 200
        self.send_response(status)
        if location:
            self.send_header("Location", location.format(port=self.server.server_address[1]))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(True)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def guarded(*allow: str) -> GuardedFetcher:
    return GuardedFetcher(EgressGuard(EgressSettings(allow_hosts=frozenset(allow), total_seconds=3)))


def test_the_guarded_fetcher_follows_redirects_hop_by_hop(server: str) -> None:
    fetcher = guarded("127.0.0.1", "localhost")
    try:
        assert fetcher.probe(server + "/ok").status == 200
        assert fetcher.probe(server + "/gone").dead
        moved = fetcher.probe(server + "/moved")
        assert (
            moved.status == 200 and moved.final_url == server + "/ok" and moved.hops == (server + "/moved",)
        )
        away = fetcher.probe(server + "/away")
        assert away.final_url.startswith("http://localhost:") and site_of(away.final_url) != site_of(server)
        assert fetcher.probe(server + "/loop").dead
        assert fetcher.probe(server + "/nohead").status == 200  # HEAD refused: asked again with GET
        closed = fetcher.probe("http://127.0.0.1:9/")  # nothing listens on the discard port
        assert closed.dead and closed.error
        assert fetcher.probe("ftp://example.org/x").dead
    finally:
        fetcher.close()


def test_the_egress_guard_refuses_internal_addresses_and_hops(server: str) -> None:
    fetcher = guarded("localhost")  # 127.0.0.1 itself is not allowed
    try:
        refused = fetcher.probe(server + "/ok")
        assert refused.dead and refused.status is None and "127.0.0.1" in (refused.error or "")
        for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/", "http://[::1]/"):
            assert fetcher.probe(url).dead, url
    finally:
        fetcher.close()


def test_a_link_that_is_no_http_url_is_dead_without_a_probe() -> None:
    body = (
        '<p><a href="javascript:alert(1)">《办法》全文</a><a href="ftp://a.example/x">清单</a>'
        '<a href="http://[::1">旧址</a><a href="mailto:x@a.example">来信</a><a href="#top">顶部</a></p>'
    )
    content = {"attachments": [{"title": "细则", "url": "http://a.example:99999/x.pdf"}]}
    dead = only(run(content, body=body, links={}), "links.dead")  # typing: nothing probed
    assert sorted(p.matched for p in dead) == [
        "ftp://a.example/x",
        "http://[::1",
        "http://a.example:99999/x.pdf",
        "javascript:alert(1)",
    ]
    assert all("不是有效的 http(s) 地址" in p.message for p in dead)
    assert not probeable("http://[::1") and not probeable("http:///x") and probeable("https://a.example/x")
