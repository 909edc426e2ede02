"""The egress guard (channels/egress.py) as an attacker meets it: every forbidden address
form, reached directly, by a DNS name or through redirects, against real local servers that
count their hits, so a refusal is proven by the origin never having been reached.

DNS is replaced per test with `EgressSettings(resolver=...)` (names such as `evil.test`),
never with /etc/hosts; the guard checks whatever address the resolver answers.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from channels.base import ChannelConfigError, PermanentError, RateLimitedError, TransientError
from channels.egress import (
    MAX_URL,
    EgressGuard,
    EgressRefusedError,
    EgressSettings,
    EgressTooLargeError,
    address_problem,
    check_url,
    egress_settings,
    static_problem,
)
from tests.security.origin import Origin, bounded, serve

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest.fixture
def origin() -> Iterator[Origin]:
    with serve({"/img.png": (200, {"Content-Type": "image/png"}, PNG)}) as o:
        yield o


def guard(**kwargs: object) -> EgressGuard:
    return EgressGuard(EgressSettings(**kwargs))  # type: ignore[arg-type]


# ---------------------------------------------------------------- the address table
FORBIDDEN = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.5.4", "private"),
    ("192.168.0.1", "private"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("240.0.0.1", "not a public"),
    ("255.255.255.255", "not a public"),
    ("192.0.2.7", "not a public"),
    ("198.18.0.1", "not a public"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fe80::1%lo", "link-local"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("::ffff:8.8.8.8", "IPv4-mapped"),  # mapped forms are refused whatever they embed
    ("::127.0.0.1", "IPv4-compatible"),
    ("::10.0.0.1", "IPv4-compatible"),
    ("64:ff9b::7f00:1", "NAT64"),
    ("64:ff9b::808:808", "NAT64"),
    ("64:ff9b:1::a00:1", "NAT64"),
    ("2002:7f00:1::1", "6to4"),
    ("2002:a9fe:a9fe::1", "6to4"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo"),  # client 127.0.0.1 (obfuscated)
    ("not-an-address", "not an IP"),
]
PUBLIC = ["8.8.8.8", "93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "2002:808:808::1"]


@pytest.mark.parametrize(("address", "label"), FORBIDDEN)
def test_forbidden_addresses(address: str, label: str) -> None:
    problem = address_problem(address)
    assert problem is not None and label in problem


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address: str) -> None:
    assert address_problem(address) is None


# ---------------------------------------------------------------- direct and by name
@pytest.mark.parametrize(
    "netloc",
    [
        "127.0.0.1:{port}",
        "127.1:{port}",
        "2130706433:{port}",
        "0x7f000001:{port}",
        "0177.0.0.1:{port}",
        "localhost:{port}",
        "[::ffff:127.0.0.1]:{port}",
        "0.0.0.0:{port}",
    ],
)
def test_literal_and_local_forms_are_refused(origin: Origin, netloc: str) -> None:
    url = f"http://{netloc.format(port=origin.port)}/img.png"
    with pytest.raises(EgressRefusedError) as info:
        guard().fetch(url)
    assert info.value.url == url and url in info.value.message
    assert origin.hits == []


def test_ipv6_loopback_is_refused() -> None:
    with serve({"/": (200, {}, b"secret")}, host="::1") as v6:
        with pytest.raises(EgressRefusedError, match="loopback"):
            guard().fetch(v6.url("/"))
        assert v6.hits == []
        allowed = guard(allow_hosts=frozenset({f"::1:{v6.port}"}))
        assert allowed.fetch(v6.url("/")).content == b"secret"


@pytest.mark.parametrize("address", ["127.0.0.1", "::ffff:127.0.0.1", "10.0.0.1", "169.254.169.254"])
def test_names_resolving_to_forbidden_addresses(origin: Origin, address: str) -> None:
    resolved: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return [address]

    with pytest.raises(EgressRefusedError, match="egress refused"):
        guard(resolver=resolver).fetch(f"http://evil.test:{origin.port}/img.png")
    assert resolved == ["evil.test"] and origin.hits == []


def test_forbidden_answers_are_skipped_and_all_forbidden_refused(origin: Origin) -> None:
    # one checked address is all a connection ever uses: a forbidden one is never tried
    g = guard(resolver=lambda h, p: ["10.0.0.1", "127.0.0.1"], connect_timeout=1.0)
    with pytest.raises(EgressRefusedError, match="private.*loopback|loopback.*private"):
        g.fetch(f"http://two.test:{origin.port}/img.png")
    assert origin.hits == []


def test_dns_rebinding_cannot_swap_the_address(origin: Origin) -> None:
    """The guard resolves once per connection and connects to the address it checked. A
    resolver answering a public address first and loopback afterwards (a rebinding DNS
    server) never gets the guard to connect to loopback."""
    answers: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        answers.append(host)
        return ["192.88.99.1" if len(answers) == 1 else "127.0.0.1"]  # public, then loopback

    g = guard(resolver=rebinding, connect_timeout=0.5, total_seconds=3)
    with pytest.raises(ChannelErrorTypes):
        g.fetch(f"http://rebind.test:{origin.port}/img.png")
    assert answers == ["rebind.test"] and origin.hits == []
    # the second connection gets the loopback answer: refused at connect time
    with pytest.raises(EgressRefusedError, match="loopback"):
        g.fetch(f"http://rebind.test:{origin.port}/img.png")
    assert origin.hits == []


ChannelErrorTypes = (TransientError, EgressRefusedError)


# ---------------------------------------------------------------- the allow-list
def test_allow_list_is_per_host_and_port(origin: Origin) -> None:
    exact = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
    assert exact.fetch(origin.url("/img.png"), accept=("image/",)).content == PNG
    other_port = guard(allow_hosts=frozenset({"127.0.0.1:1"}))
    with pytest.raises(EgressRefusedError):
        other_port.fetch(origin.url("/img.png"))
    any_port = guard(allow_hosts=frozenset({"127.0.0.1"}))
    assert any_port.fetch(origin.url("/img.png")).status == 200


def test_allow_listed_name_may_resolve_to_a_private_address(origin: Origin) -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    g = EgressGuard(egress_settings({"allow_hosts": ["Files.Intranet."]}))
    g = EgressGuard(EgressSettings(allow_hosts=g.settings.allow_hosts, resolver=resolver))
    assert g.fetch(f"http://files.intranet:{origin.port}/img.png").content == PNG
    # the same address by another name is still refused
    with pytest.raises(EgressRefusedError):
        g.fetch(f"http://other.intranet:{origin.port}/img.png")


def test_settings_reject_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValueError, match="unknown"):
        egress_settings({"allow_host": ["x"]})
    with pytest.raises(ValueError):
        egress_settings({"max_bytes": 0})
    assert egress_settings({"allow_hosts": "a.test, b.test:81"}).allow_hosts == {"a.test", "b.test:81"}


# ---------------------------------------------------------------- redirects
def test_every_redirect_hop_is_checked(origin: Origin) -> None:
    allowed = frozenset({f"127.0.0.1:{origin.port}"})
    with serve() as internal:
        origin.routes.update(
            {
                "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
                "/to-internal": (301, {"Location": internal.url("/admin")}, b""),
                "/to-name": (307, {"Location": f"http://evil.test:{internal.port}/admin"}, b""),
                "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
                "/to-creds": (302, {"Location": f"http://u:p@127.0.0.1:{origin.port}/img.png"}, b""),
                "/relative": (302, {"Location": "/img.png"}, b""),
            }
        )
        g = guard(allow_hosts=allowed, resolver=lambda h, p: ["127.0.0.1"])
        for path, reason in [
            ("/to-metadata", "link-local"),
            ("/to-internal", "loopback"),
            ("/to-name", "loopback"),
            ("/to-file", "scheme"),
            ("/to-creds", "credentials"),
        ]:
            with pytest.raises(EgressRefusedError, match=reason) as info:
                g.fetch(origin.url(path))
            assert info.value.url == origin.url(path)  # named by the URL the content gave
            assert "redirected to" in info.value.message
        assert internal.hits == []
        got = g.fetch(origin.url("/relative"))
        assert got.content == PNG and got.redirects == (origin.url("/relative"),)
        assert got.url == origin.url("/img.png")


def test_redirect_loops_and_long_chains_are_refused(origin: Origin) -> None:
    origin.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}), max_redirects=3)
    with pytest.raises(EgressRefusedError, match="more than 3 redirect"):
        g.fetch(origin.url("/loop"))
    assert len(origin.hits) == 4
    # a link check sees the redirect itself instead
    seen = g.fetch(origin.url("/loop"), max_redirects=0, check_status=False)
    assert seen.status == 302 and seen.headers["Location"] == "/loop" and seen.redirects == ()
    assert len(origin.hits) == 5  # the call's max_redirects, not the guard's 3
    seen = g.fetch(origin.url("/loop"), max_redirects=1, check_status=False)
    assert seen.redirects == (origin.url("/loop"),) and len(origin.hits) == 7


@pytest.mark.parametrize("location", ["http://[::1", "http://a.example:abc/", "\x7f"])
def test_an_unparsable_redirect_is_refused_for_good(origin: Origin, location: str) -> None:
    # httpx calls such a Location a protocol error, which would read as a fault worth retrying
    origin.routes["/bad"] = (302, {"Location": location}, b"")
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
    with pytest.raises(EgressRefusedError, match="bad redirect Location: Invalid") as exc:
        g.fetch(origin.url("/bad"))  # the parser's own words follow: "Invalid port: 'abc'"…
    assert isinstance(exc.value, PermanentError) and exc.value.url == origin.url("/bad")
    assert len(origin.hits) == 1
    # the same answer is fine when it is not a redirect
    origin.routes["/fine"] = (200, {"Location": location, "Content-Type": "text/plain"}, b"ok")
    assert g.fetch(origin.url("/fine")).content == b"ok"


@pytest.mark.parametrize("url", ["http://xn--/", "http://xn--a/", "https://xn--zz.example/x"])
def test_a_malformed_idna_host_is_an_invalid_url(url: str) -> None:
    # the host is decoded only when read: it used to escape as a bare IDNAError (a 500)
    with pytest.raises(EgressRefusedError, match="invalid URL: .*(A-label|Codepoint)"):
        check_url(url)  # with the IDNA codec's reason
    assert (static_problem(url) or "").startswith("地址无效 / invalid URL")


# ---------------------------------------------------------------- size and time
def _chunked(total: int, chunk: int = 4096, pause: float = 0.0) -> object:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        sent = 0
        try:
            while sent < total:
                piece = b"x" * min(chunk, total - sent)
                handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                handler.wfile.flush()
                sent += len(piece)
                if pause:
                    time.sleep(pause)
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the guard hung up

    return answer


def test_size_caps(origin: Origin) -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    origin.routes.update(
        {
            "/declared": (200, {"Content-Length": "999999999"}, b""),
            "/chunked": _chunked(200_000),  # no Content-Length at all
            "/bomb": (200, {"Content-Encoding": "gzip"}, bomb),
            "/small": _chunked(1000),
        }
    )
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
    for path in ("/declared", "/chunked", "/bomb"):
        with pytest.raises(EgressTooLargeError, match="larger than 100000 bytes"):
            g.fetch(origin.url(path), max_bytes=100_000)
    assert len(bomb) < 100_000  # the cap counts what the body inflates to
    assert len(g.fetch(origin.url("/small"), max_bytes=1000).content) == 1000


def test_total_time_cap_stops_a_trickling_body(origin: Origin) -> None:
    origin.routes["/slow"] = _chunked(10_000, chunk=10, pause=0.1)  # 100 s in all
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}), total_seconds=1.0, read_timeout=5.0)
    started = time.monotonic()
    with pytest.raises(TransientError, match="longer than 1 s"):
        g.fetch(origin.url("/slow"))
    assert time.monotonic() - started < 4


def test_read_timeout_is_transient(origin: Origin) -> None:
    release = threading.Event()

    def hang(handler: BaseHTTPRequestHandler) -> None:
        release.wait(5)

    origin.routes["/hang"] = hang
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}), read_timeout=0.3)
    try:
        with pytest.raises(TransientError) as info:
            bounded(lambda: g.fetch(origin.url("/hang")), 3)
        assert info.value.message == f"外部地址超时 / fetch timed out (ReadTimeout): {origin.url('/hang')}"
    finally:
        release.set()


# ---------------------------------------------------------------- statuses and schemes
@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, PermanentError),
        (403, PermanentError),
        (404, PermanentError),
        (410, PermanentError),
        (500, TransientError),
        (503, TransientError),
        (408, TransientError),
        (429, TransientError),
    ],
)
def test_status_classification_never_blames_our_credentials(origin: Origin, status: int, kind: type) -> None:
    origin.routes["/s"] = (status, {"Retry-After": "5"}, b"no")
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
    with pytest.raises(kind) as info:
        g.fetch(origin.url("/s"))
    assert not isinstance(info.value, ChannelConfigError | RateLimitedError)
    assert info.value.http_status == status and origin.url("/s") in info.value.message
    assert g.fetch(origin.url("/s"), check_status=False).status == status


def test_content_type_must_match_accept(origin: Origin) -> None:
    origin.routes["/page"] = (200, {"Content-Type": "text/html"}, b"<html>")
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
    with pytest.raises(PermanentError) as info:
        g.fetch(origin.url("/page"), accept=("image/",))
    assert info.value.message == f"内容类型不符 / unexpected content type text/html: {origin.url('/page')}"
    assert info.value.http_status == 200

    def untyped(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    origin.routes["/untyped"] = untyped
    with pytest.raises(PermanentError, match=r"^内容类型不符 / unexpected content type \(none\): "):
        g.fetch(origin.url("/untyped"), accept=("image/",))


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/a",
        "gopher://example.com/",
        "data:image/png;base64,AAAA",
        "javascript:alert(1)",
        "//example.com/a.png",
        "/relative.png",
        "http://user:secret@example.com/",
        "http:///nohost",
        "http://" + "a" * 3000 + ".com/",
    ],
)
def test_urls_refused_before_any_network(url: str) -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise AssertionError("resolved a URL that should have been refused")

    with pytest.raises(EgressRefusedError):
        guard(resolver=resolver).fetch(url)


def test_environment_proxy_is_ignored(origin: Origin, monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy from the environment would connect to the internal host on our behalf."""
    with serve({"/": (200, {}, b"proxied")}) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url("/"))
        monkeypatch.setenv("ALL_PROXY", proxy.url("/"))
        with pytest.raises(EgressRefusedError):
            guard().fetch(origin.url("/img.png"))
        allowed = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
        assert allowed.fetch(origin.url("/img.png")).content == PNG
        assert proxy.hits == []


# ---------------------------------------------------------------- the rules as tables (issue 22)
def test_settings_read_every_key_and_check_each_bound() -> None:
    got = egress_settings(
        {
            "allow_hosts": ["Files.Intranet.", "[::1]:8080"],
            "connect_timeout": "2.5",
            "read_timeout": 7,
            "total_seconds": "30",
            "max_redirects": "0",
            "max_bytes": "1",
            "max_connections": 1,
        }
    )
    assert got == EgressSettings(
        allow_hosts=frozenset({"files.intranet", "::1:8080"}),
        connect_timeout=2.5,
        read_timeout=7.0,
        total_seconds=30.0,
        max_redirects=0,
        max_bytes=1,
        max_connections=1,
    )
    assert egress_settings({}) == EgressSettings()
    assert egress_settings({"allow_hosts": " a.test ,, b.test:81 ,"}).allow_hosts == {"a.test", "b.test:81"}
    with pytest.raises(ValueError, match=r"^egress: unknown key\(s\) allow_host, max_byte$"):
        egress_settings({"max_byte": 1, "allow_host": ["x"]})
    for bad in ({"allow_hosts": 5}, {"allow_hosts": ["a", 5]}):
        with pytest.raises(
            ValueError, match=r"^egress.allow_hosts must be a list of host or host:port strings$"
        ):
            egress_settings(bad)
    for key in ("connect_timeout", "read_timeout", "total_seconds"):
        assert getattr(egress_settings({key: "0.5"}), key) == 0.5
        with pytest.raises(ValueError, match=rf"^egress.{key} must be positive$"):
            egress_settings({key: 0})
    for key, lowest in (("max_redirects", 0), ("max_bytes", 1), ("max_connections", 1)):
        assert getattr(egress_settings({key: lowest}), key) == lowest
        with pytest.raises(ValueError, match=rf"^egress.{key} is out of range$"):
            egress_settings({key: lowest - 1})


def test_allow_list_entries_are_normalised() -> None:
    hosts = EgressSettings().allowing("Files.Example.", " [::1]:8080 ", "[fe80::1]", "", "[::2]x").allow_hosts
    assert hosts == {"files.example", "::1:8080", "fe80::1", "::2"}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://x.example/", "只允许 http/https / scheme 'ftp' not allowed"),
        ("http:///x", "缺少主机名 / no host"),
        ("http://u:p@x.example/", "地址含用户名或密码 / URL carries credentials"),
        ("http://x.example/" + "a" * 2048, "地址过长 / URL longer than 2048 characters"),
        ("http://localhost/", "回环地址 / loopback name localhost"),
        ("http://LocalHost./", "回环地址 / loopback name localhost"),
        ("http://a.localhost/", "回环地址 / loopback name a.localhost"),
        ("http://127.0.0.1/", "回环地址 / loopback address 127.0.0.1"),
        ("https://10.0.0.1:8443/", "内网地址 / private address 10.0.0.1"),
        ("http://x.example/", None),  # a name: only known at connect time
        ("http://8.8.8.8/", None),
    ],
)
def test_static_problem_tells_the_approver_what_needs_no_network(url: str, reason: str | None) -> None:
    assert static_problem(url) == reason


def test_static_problem_honours_the_allow_list_by_host_and_by_port() -> None:
    by_host = EgressSettings(allow_hosts=frozenset({"localhost", "10.0.0.1"}))
    assert static_problem("http://localhost:9/", by_host) is None
    assert static_problem("https://10.0.0.1:8443/", by_host) is None
    by_port = EgressSettings(allow_hosts=frozenset({"10.0.0.1:443", "10.0.0.2:80", "10.0.0.3:8080"}))
    assert static_problem("https://10.0.0.1/", by_port) is None  # the scheme's default port
    assert static_problem("http://10.0.0.2/", by_port) is None
    assert static_problem("http://10.0.0.3:8080/", by_port) is None
    assert static_problem("http://10.0.0.1/", by_port) == "内网地址 / private address 10.0.0.1"
    assert static_problem("http://10.0.0.3:8081/", by_port) == "内网地址 / private address 10.0.0.3"


def test_a_refusal_names_the_url_and_the_reason() -> None:
    with pytest.raises(EgressRefusedError) as info:
        check_url("gopher://x.example/")
    err = info.value
    assert (err.url, err.reason) == ("gopher://x.example/", "只允许 http/https / scheme 'gopher' not allowed")
    assert (
        err.message
        == "外部地址被拒绝 / egress refused: gopher://x.example/: 只允许 http/https / scheme 'gopher' not allowed"
    )
    assert check_url("https://X.example/a?b=1").host == "x.example"


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        # a zone index is not part of the address (IPv4 has none: ipaddress refuses one)
        ("10.0.0.1%eth0", "内网地址 / private address 10.0.0.1"),
        ("fe80::1%a%b", "链路本地地址 / link-local address fe80::1"),
        # a Teredo address embedding public addresses is refused as what it is itself
        ("2001:0:808:808:0:0:fefe:fefe", "非公网地址 / not a public address 2001:0:808:808::fefe:fefe"),
        # IPv4-compatible is ::a.b.c.d above ::1; 2**32 and up is not
        ("::2", "IPv4 兼容地址 / IPv4-compatible address ::2"),
        ("::1:0:0", "非公网地址 / not a public address ::1:0:0"),
        ("x" * 80, f"不是 IP 地址 / not an IP address ({'x' * 60})"),
    ],
)
def test_address_problem_edges(address: str, problem: str) -> None:
    assert address_problem(address) == problem


def test_url_length_and_scheme_edges() -> None:
    longest = "http://x.example/" + "a" * (MAX_URL - len("http://x.example/"))
    assert len(longest) == MAX_URL and check_url(longest).host == "x.example"
    assert static_problem(longest + "a") == f"地址过长 / URL longer than {MAX_URL} characters"
    assert static_problem("//x.example/a") == "只允许 http/https / scheme '(none)' not allowed"


# ---------------------------------------------------------------- the fetch loop as tables (issue 22)
@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirects_body_is_neither_read_nor_counted(origin: Origin, code: int) -> None:
    origin.routes["/moved"] = (code, {"Location": "/img.png"}, b"x" * 5000)  # declared and sent
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
    got = g.fetch(origin.url("/moved"), max_bytes=1000)
    assert (got.content, got.redirects) == (PNG, (origin.url("/moved"),))


def test_a_declared_length_may_equal_the_cap(origin: Origin) -> None:
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
    assert g.fetch(origin.url("/img.png"), max_bytes=len(PNG)).content == PNG
    with pytest.raises(EgressTooLargeError) as info:
        g.fetch(origin.url("/img.png"), max_bytes=len(PNG) - 1)
    assert (info.value.url, info.value.limit) == (origin.url("/img.png"), len(PNG) - 1)
    assert info.value.message == f"内容超过 39 字节 / larger than 39 bytes: {origin.url('/img.png')}"


def test_a_body_in_several_chunks_is_joined_as_sent(origin: Origin) -> None:
    origin.routes["/parts"] = _chunked(3000, chunk=1000, pause=0.05)
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
    assert g.fetch(origin.url("/parts")).content == b"x" * 3000


def test_slow_headers_count_against_the_total_time(origin: Origin) -> None:
    """A deadline passed before the body: an empty body or a HEAD has no chunk to look at
    the clock for, so the clock is read once more at the end."""

    def late(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(0.5)  # the answer itself is slow: this is the behaviour under test
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    origin.routes["/late"] = late
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}), total_seconds=0.3, read_timeout=5.0)
    url = origin.url("/late")
    for method in ("GET", "HEAD"):
        with pytest.raises(TransientError) as info:
            g.fetch(url, method=method)  # type: ignore[arg-type]
        assert info.value.message == f"外部地址超过 0.3 秒未完成 / fetch took longer than 0.3 s: {url}"


def test_the_accept_and_the_callers_headers_are_sent(origin: Origin) -> None:
    seen: list[dict[str, str]] = []

    def echo(handler: BaseHTTPRequestHandler) -> None:
        seen.append({k.lower(): v for k, v in handler.headers.items()})
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", str(len(PNG)))
        handler.end_headers()
        handler.wfile.write(PNG)

    origin.routes["/echo"] = echo
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
    g.fetch(origin.url("/echo"), accept=("image/", "application/pdf"), headers={"If-None-Match": '"v1"'})
    g.fetch(origin.url("/echo"))
    assert [(h["accept"], h.get("if-none-match")) for h in seen] == [
        ("image/*, application/pdf", '"v1"'),
        ("*/*", None),
    ]
    assert seen[0]["user-agent"] == "publisher/0.1 (+government information disclosure)"


def test_a_refusal_message_is_capped_at_400_characters() -> None:
    err = EgressRefusedError("http://x.example/", "原因" * 300)
    assert len(err.message) == 400 and err.reason == "原因" * 300
    assert err.message.startswith("外部地址被拒绝 / egress refused: http://x.example/: 原因")


def test_a_refusal_on_the_first_hop_names_no_redirect() -> None:
    with pytest.raises(EgressRefusedError) as info:
        guard().fetch("http://127.0.0.1:1/a")
    assert info.value.reason == "回环地址 / loopback address 127.0.0.1"


def test_only_a_redirect_status_with_a_location_is_followed(origin: Origin) -> None:
    origin.routes["/created"] = (200, {"Location": "/img.png"}, b"page")
    origin.routes["/bare"] = (302, {}, b"")
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
    got = g.fetch(origin.url("/created"))
    assert (got.content, got.redirects) == (b"page", ())
    assert g.fetch(origin.url("/bare"), check_status=False).status == 302
    assert origin.hits == ["/created", "/bare"]


def test_only_a_303_turns_the_request_into_a_get(origin: Origin) -> None:
    methods: list[tuple[str, str]] = []

    def record(handler: BaseHTTPRequestHandler) -> None:
        methods.append((handler.command, handler.path))
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    origin.routes["/target"] = record
    for code in (302, 303, 307):
        origin.routes[f"/r{code}"] = (code, {"Location": "/target"}, b"")
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
    for code in (302, 303, 307):
        assert g.fetch(origin.url(f"/r{code}"), method="HEAD").status == 200
    assert methods == [("HEAD", "/target"), ("GET", "/target"), ("HEAD", "/target")]


def test_the_callers_accept_header_replaces_the_guards(origin: Origin) -> None:
    seen: list[list[str]] = []

    def echo(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get_all("Accept") or [])
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    origin.routes["/echo"] = echo
    g = guard(allow_hosts=frozenset({f"127.0.0.1:{origin.port}"}))
    g.fetch(origin.url("/echo"), headers={"Accept": "text/html"})
    assert seen == [["text/html"]]
