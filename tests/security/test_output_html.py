"""What goes out: every HTML we render or show passes one allow-list after the channel's
transformation (publisher.domain.sanitize.clean_output).

The attack: an editor's body carries `mailto:javascript://mp.weixin.qq.com/%0a...`. The input
sanitiser keeps it (a mailto: link); the WeChat transformation used to unwrap the address into
`javascript://mp.weixin.qq.com/\\n...`, a live script link on the approver's preview page,
where one click runs in the approver's session. Here through the real pages (login, CSRF),
and as property tests: hostile HTML through every channel's render.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import publisher
from channels.base import ChannelContext
from channels.cms import CmsChannel
from channels.rss.entry import render_entry
from channels.wechat import WechatChannel
from channels.wechat.html import rewrite_images, to_wechat_html
from publisher.domain.item import Operation
from publisher.domain.sanitize import OUTPUT_ATTRIBUTES, OUTPUT_TAGS, clean_output
from publisher.runtime import Runtime
from publisher.web import create_app
from tests.conftest import redis_url
from tests.factories import make_version as version_view
from tests.publisher.web.pages.conftest import PASSWORD, create, log_in

EXPLOIT = "mailto:javascript://mp.weixin.qq.com/%0aalert(document.cookie)"
SAFE_SCHEMES = {"http", "https", "mailto"}


def problems_in(html: str) -> list[str]:
    """Everything in `html` a browser could run or that is not on the output allow-list."""
    found = []
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        if tag.name not in OUTPUT_TAGS:
            found.append(f"tag <{tag.name}>")
        allowed = OUTPUT_ATTRIBUTES.get(tag.name, set()) | OUTPUT_ATTRIBUTES["*"]
        for attr, value in tag.attrs.items():
            if attr.lower().startswith("on") or attr not in allowed:
                found.append(f"attribute {attr} on <{tag.name}>")
            if attr in ("href", "src") and not url_ok(str(value)):
                found.append(f"{attr}={value!r}")
            if attr == "style" and re.search(r"url\(|expression|javascript|@import", str(value), re.I):
                found.append(f"style={value!r}")
    return found


def url_ok(url: str) -> bool:
    # what a browser would do with it: strip control characters and whitespace first
    stripped = re.sub(r"[\x00-\x20]", "", url)
    scheme = urlsplit(stripped).scheme.lower()
    return scheme in SAFE_SCHEMES or (scheme == "" and ":" not in stripped.split("/", 1)[0])


# ---- the preview, through the pages --------------------------------------------------------


@pytest.fixture
def preview_site(
    make_runtime: Callable[..., Runtime],
) -> Iterator[tuple[Runtime, Callable[[str], TestClient]]]:
    rt = make_runtime(
        channels={
            "rss": {"enabled": True},
            "cms": {"enabled": True},
            "wechat": {"enabled": True, "redis_url": redis_url(9)},
        },
        routing={"policy": ["rss", "cms", "wechat"]},
        executor=False,
    )
    for name, role in (("editor", "editor"), ("approver", "approver")):
        rt.service.add_user(name, role, PASSWORD)
    app = create_app(rt)
    clients: list[TestClient] = []

    def login(name: str) -> TestClient:
        client = TestClient(app)
        clients.append(client)
        return log_in(client, name)

    yield rt, login
    for c in clients:
        c.close()


def test_a_crafted_link_in_the_body_is_no_script_in_the_approvers_preview(
    preview_site: tuple[Runtime, Callable[[str], TestClient]],
) -> None:
    _, login = preview_site
    editor = login("editor")
    uid = create(editor, body_html=f'<p>请来信：<a href="{EXPLOIT}">联系我们</a></p>')
    approver = login("approver")
    page = approver.get(f"/app/items/{uid}/preview")
    assert page.status_code == 200, page.text
    soup = BeautifulSoup(page.text, "html.parser")
    for channel in ("rss", "cms", "wechat"):
        section = soup.find(id=f"preview-{channel}")
        assert section is not None, f"no preview for {channel}"
        assert "联系我们" in section.get_text()
        hrefs = [str(a.get("href")) for a in section.find_all("a")]
        assert all(url_ok(h) for h in hrefs), (channel, hrefs)
    # anywhere on the page: the address may show as text, never as a link of another scheme
    assert [u for u in re.findall(r'(?:href|src)="([^"]*)"', page.text) if not url_ok(u)] == []
    # the item page shows the stored body through the same allow-list
    item = approver.get(f"/app/items/{uid}")
    assert [h for h in re.findall(r'href="([^"]*)"', item.text) if not url_ok(h)] == []


def test_the_wechat_article_keeps_mailto_as_itself() -> None:
    out = to_wechat_html(
        f'<p><a href="{EXPLOIT}">联系我们</a></p>', base_url="http://site.local/", allowed_hosts=()
    )
    assert problems_in(out.content) == []
    assert "javascript://mp.weixin.qq.com" not in re.sub(r"（[^）]*）", "", out.content)
    assert not BeautifulSoup(out.content, "html.parser").find_all("a")


# ---- property tests: hostile HTML through every channel's render --------------------------

SCHEMES = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "&#106;avascript:alert(1)",
    "javascript&colon;alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD4=",
    "mailto:javascript://mp.weixin.qq.com/%0aalert(1)",
    "mailto:JAVASCRIPT://mp.weixin.qq.com/%0Aalert(1)",
    "mailto:data:text/html,<script>alert(1)</script>",
    "mailto:gk@czj.sh.gov.cn",
    "https://mp.weixin.qq.com/s/abc",
    "http://www.gov.cn/a.pdf",
    "//evil.example/x",
    "/relative/path",
    "#top",
]
TAGS = [
    "a",
    "a",
    "a",
    "img",
    "img",
    "p",
    "div",
    "span",
    "table",
    "td",
    "svg",
    "math",
    "iframe",
    "script",
    "style",
    "form",
    "b",
]
ATTRS = [
    "href",
    "href",
    "href",
    "src",
    "src",
    "onclick",
    "onerror",
    "OnLoad",
    "style",
    "class",
    "formaction",
    "srcdoc",
    "xlink:href",
]
STYLES = ["color:red", "background:url(javascript:alert(1))", "position:fixed", "expression(alert(1))"]


@st.composite
def hostile(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(TAGS))
    attrs = []
    # a link or an image always carries its URL: the attack surface is the URL, not its absence
    names = [{"a": "href", "img": "src"}.get(tag, draw(st.sampled_from(ATTRS)))]
    for name in names + draw(st.lists(st.sampled_from(ATTRS), max_size=2)):
        value = draw(st.sampled_from(STYLES if name == "style" else SCHEMES))
        quote = draw(st.sampled_from(['"', "'", ""]))
        attrs.append(f"{name}={quote}{value}{quote}" if quote else f"{name}={value.replace(' ', '')}")
    inner = draw(st.text(alphabet="政务公开<>&\"' =", max_size=6))
    if depth < 2 and draw(st.booleans()):
        inner += draw(hostile(depth + 1))
    close = draw(st.sampled_from([f"</{tag}>", "", "<!--", "</scr" + "ipt>"]))
    return f"<{tag} {' '.join(attrs)}>{inner}{close}"


hostile_bodies = st.lists(hostile(), min_size=1, max_size=4).map("".join)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def context(factory: pytest.TempPathFactory) -> ChannelContext:
    return ChannelContext(
        public_base_url="http://site.local", data_dir=factory.mktemp("channel"), agency_name="上海市财政局"
    )


@pytest.fixture(scope="module")
def wechat_channel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WechatChannel]:
    section = {"enabled": True, "redis_url": redis_url(9), "allowed_image_hosts": ["img.example.gov.cn"]}
    channel = WechatChannel.from_config(section, context(tmp_path_factory))
    assert isinstance(channel, WechatChannel)
    yield channel
    channel.close()


@pytest.fixture(scope="module")
def cms_channel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CmsChannel]:
    channel = CmsChannel.from_config({"enabled": True}, context(tmp_path_factory))
    assert isinstance(channel, CmsChannel)
    yield channel
    channel.close()


@PROPERTY
@given(body=hostile_bodies)
def test_clean_output_leaves_nothing_runnable(body: str) -> None:
    once = clean_output(body)
    assert problems_in(once) == []
    # cleaning what a channel re-parsed and re-serialised stays clean (mis-nested tags
    # serialise differently the second time; that is layout, not a hole)
    assert problems_in(clean_output(once)) == []


@PROPERTY
@given(body=hostile_bodies)
@example(body=f'<a href="{EXPLOIT}">联系我们</a>')
def test_wechat_output_is_on_the_allow_list(wechat_channel: WechatChannel, body: str) -> None:
    # the raw hostile HTML, as if the input sanitiser had missed it: the output list must hold alone
    view = version_view(body_html=body)
    for op in (Operation.PUBLISH, Operation.UPDATE):
        content = wechat_channel.render(view, op).body["article"]["content"]
        assert problems_in(content) == [], content
        assert (
            problems_in(rewrite_images(content, {"http://img.example.gov.cn/a.png": "http://wx.local/1"}))
            == []
        )


@PROPERTY
@given(body=hostile_bodies)
def test_cms_output_is_on_the_allow_list(cms_channel: CmsChannel, body: str) -> None:
    content = cms_channel.render(version_view(body_html=body), Operation.PUBLISH).body["post"]["content"]
    assert problems_in(content) == [], content


@PROPERTY
@given(body=hostile_bodies)
def test_feed_entry_is_on_the_allow_list(body: str) -> None:
    entry = render_entry(version_view(body_html=body), Operation.PUBLISH)
    assert problems_in(entry["content"]) == [], entry["content"]


def test_no_template_marks_content_safe() -> None:
    """Pages show content HTML only through the `clean` filter: `|safe` or a Markup() of
    content anywhere would bypass the output allow-list."""
    root = Path(publisher.__file__).parent
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for path in (root / "templates").rglob("*.html")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\|\s*safe\b|Markup\(", line)
    ]
    assert offenders == []
