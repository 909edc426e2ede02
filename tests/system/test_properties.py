"""Property tests (hypothesis) for the metadata parsers and the HTML path to every channel.

- 文号: normalise is idempotent, every bracket variant of a valid number parses to the
  canonical form, parse(normalise(x)) == parse(x) for any text.
- 索取号: the agency pattern always yields a number ItemIn accepts and the counter can
  reserve past (on SQLite and PostgreSQL); anything else is refused.
- HTML: generated hostile markup (scripts, event handlers, javascript:/data: URLs, styles,
  iframes, nested and broken tags, entity tricks) comes out of the sanitiser with no script,
  no on* attribute and no script URL, and so does every channel's rendered output built from
  a VersionView carrying that body (RSS entry and the written feed, CMS post, WeChat article,
  webhook JSON, city-platform record). Channels render pure; nothing here touches a network.
"""

from __future__ import annotations

import html as _html
import json
import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html
from pydantic import SecretStr
from pydantic import ValidationError as PydanticValidationError

from channels import signing
from channels.base import ChannelContext, Payload
from channels.cityplatform import CityPlatformChannel, CityPlatformSettings
from channels.cms import CmsChannel, CmsSettings
from channels.rss import RssChannel
from channels.webhook import WebhookChannel, WebhookSettings
from channels.wechat import WechatChannel
from channels.wechat.channel import WechatSettings
from channels.wechat.html import to_wechat_html
from publisher.domain.item import (
    NATIONAL_INDEX,
    SHANGHAI_INDEX,
    ItemIn,
    ItemType,
    Operation,
    VersionView,
    docnumber,
)
from publisher.domain.sanitize import ALLOWED_TAGS, clean_html
from publisher.editorial import indexno
from publisher.settings import AgencySettings
from publisher.store.db import Database
from tests.factories import make_version

PROPS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
HTML_PROPS = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- 文号 ----------------------------------------------------------------------------------------
OPENERS = "[［(（【〔{｛<＜"
CLOSERS = "]］)）】〕}｝>＞"
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
organ = st.text(cjk, min_size=1, max_size=12)
spaces = st.sampled_from(["", " ", "  ", "\t", "\u3000"])


@st.composite
def digits(draw: st.DrawFn, value: int, *, zeros: bool = True) -> str:
    text = "0" * draw(st.integers(0, 3) if zeros else st.just(0)) + str(value)
    return text.translate(FULLWIDTH) if draw(st.booleans()) else text


@st.composite
def standard_number(draw: st.DrawFn) -> tuple[str, str]:
    """(as an editor might type it, the canonical form)."""
    org, year, serial = draw(organ), draw(st.integers(1949, 2100)), draw(st.integers(1, 99999))
    opener, closer = draw(st.sampled_from(OPENERS)), draw(st.sampled_from(CLOSERS))
    raw = (
        f"{draw(spaces)}{org}{draw(spaces)}{opener}{draw(spaces)}{draw(digits(year, zeros=False))}"
        f"{draw(spaces)}{closer}{draw(spaces)}{draw(digits(serial))}{draw(spaces)}号{draw(spaces)}"
    )
    return raw, f"{org}〔{year}〕{serial}号"


@st.composite
def decree_number(draw: st.DrawFn) -> tuple[str, str]:
    org, serial = draw(st.text(cjk, min_size=2, max_size=20)), draw(st.integers(1, 9999))
    return f"{org}{draw(spaces)}令第{draw(digits(serial))}号", f"{org}令第{serial}号"


# text near the grammar: the characters the normaliser reacts to, plus anything
doc_like = st.text(
    st.one_of(st.sampled_from(list(OPENERS + CLOSERS + "0０1１9９号令第 \t\u3000沪财预")), st.characters()),
    max_size=30,
)


def _parse_or_error(text: str) -> str | None:
    try:
        return docnumber.parse(text)
    except ValueError:
        return None


@PROPS
@given(doc_like)
@example("沪财预〔2019〕00号")
@example("[[2019]]")
@example("沪财预〔2019〕0012号")
def test_normalise_is_idempotent(text: str) -> None:
    once = docnumber.normalise(text)
    assert docnumber.normalise(once) == once


@PROPS
@given(st.one_of(standard_number(), decree_number()))
@example(("沪财预[2019]12号", "沪财预〔2019〕12号"))
@example(("沪财预（２０１９）０１２号", "沪财预〔2019〕12号"))
@example(("上海市人民政府令第032号", "上海市人民政府令第32号"))
def test_every_bracket_variant_of_a_valid_number_parses_to_the_canonical_form(pair: tuple[str, str]) -> None:
    raw, canonical = pair
    assert docnumber.parse(raw) == canonical
    assert docnumber.is_valid(canonical)
    # and the item model stores the same canonical form
    assert ItemIn.model_validate({**_ITEM, "doc_number": raw}).doc_number == canonical


@PROPS
@given(st.one_of(doc_like, standard_number().map(lambda p: p[0]), decree_number().map(lambda p: p[0])))
def test_parse_of_normalised_equals_parse(text: str) -> None:
    parsed = _parse_or_error(text)
    assert _parse_or_error(docnumber.normalise(text)) == parsed
    if parsed is not None:
        assert docnumber.is_valid(parsed) and docnumber.parse(parsed) == parsed


@PROPS
@given(organ, st.integers(1000, 9999), st.integers(0, 99999), st.sampled_from(["", "号"]))
def test_malformed_numbers_are_refused(org: str, year: int, serial: int, suffix: str) -> None:
    # a zero serial, a missing 号 or a missing year bracket never validate
    for raw in ([f"{org}〔{year}〕{serial}"] if not suffix else []) + [
        f"{org}〔{year}〕0{suffix}" if suffix else f"{org}{year}{serial}号"
    ]:
        assert _parse_or_error(raw) is None, raw


# -- 索取号 ---------------------------------------------------------------------------------------
agency_code = st.from_regex(r"\A[A-Z][0-9A-Z]{8,10}\Z")
national_code = st.one_of(st.from_regex(r"\A[0-9A-Z]{9}\Z"), st.from_regex(r"\A[0-9A-Z]{18}\Z"))
_ITEM = {"type": "notice", "title": "通知", "issue_date": "2019-05-01", "subject": "财政"}


@PROPS
@given(agency_code, st.integers(1000, 9999), st.integers(1, 99999))
def test_the_agency_pattern_always_yields_an_accepted_index_number(code: str, year: int, serial: int) -> None:
    number = AgencySettings(code=code).index_pattern.format(code=code, year=year, serial=serial)
    assert SHANGHAI_INDEX.match(number)
    assert ItemIn.model_validate({**_ITEM, "index_number": number}).index_number == number


@PROPS
@given(national_code, st.integers(1000, 9999), st.integers(0, 99999))
def test_national_index_numbers_are_accepted(code: str, year: int, serial: int) -> None:
    number = f"{code}/{year}-{serial:05d}"
    assert NATIONAL_INDEX.match(number)
    assert ItemIn.model_validate({**_ITEM, "index_number": number}).index_number == number


@PROPS
@given(st.text(st.sampled_from("AB19000-/ 0123456789Zz\n"), min_size=1, max_size=40))
def test_index_numbers_outside_both_patterns_are_refused(text: str) -> None:
    stripped = text.strip()
    accepted = bool(SHANGHAI_INDEX.match(stripped) or NATIONAL_INDEX.match(stripped))
    try:
        ItemIn.model_validate({**_ITEM, "index_number": text})
    except PydanticValidationError:
        assert not accepted
    else:
        assert accepted or stripped == ""


@pytest.fixture
def store(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(year=st.integers(1990, 2100), serial=st.integers(1, 99998))
def test_an_imported_index_number_moves_the_counter_past_it(store: Database, year: int, serial: int) -> None:
    # a fresh agency per example, so examples never see each other's counters
    code = "Z" + uuid.uuid4().hex[:9].upper()
    agency = AgencySettings(code=code)
    number = agency.index_pattern.format(code=code, year=year, serial=serial)
    with store.transaction() as s:
        indexno.reserve_existing(s, agency, number)
        nxt = indexno.next_index_number(s, agency, year)
    assert nxt == agency.index_pattern.format(code=code, year=year, serial=serial + 1)
    assert ItemIn.model_validate({**_ITEM, "index_number": nxt}).index_number == nxt


# -- hostile HTML ---------------------------------------------------------------------------------
SCRIPT_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\tjava\tscript:alert(1)",
    "java\nscript:alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;&#x61;vascript:alert(1)",
    "javascript&colon;alert(1)",
    "&#0000106avascript:alert(1)",
    "\x01javascript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD4=",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "jav&#x09;ascript:alert(1)",
    "javascript:/*--></title></style>*/",
]
SAFE_URLS = [
    "http://img.example.gov.cn/a.png",
    "https://www.example.gov.cn/x?a=1&b=2",
    "/relative/path",
    "#top",
    "mailto:a@example.gov.cn",
]
HANDLERS = ["onclick", "onerror", "onload", "OnMouseOver", "ONFOCUS", "onanimationstart", "on", "onx"]
TAGS = [
    "p",
    "div",
    "span",
    "a",
    "img",
    "table",
    "td",
    "h2",
    "ul",
    "li",
    "b",
    "svg",
    "math",
    "iframe",
    "object",
    "embed",
    "form",
    "input",
    "button",
    "style",
    "script",
    "noscript",
    "template",
    "base",
    "link",
    "meta",
    "video",
    "audio",
    "source",
    "details",
    "marquee",
    "xmp",
    "textarea",
    "title",
    "select",
    "frameset",
]
BROKEN = [
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<script",
    "<script>alert(1)",
    "</p",
    "<img src=x onerror=alert(1)//",
    "<!--",
    "--><script>alert(1)</script>",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<svg><script>alert(1)</script>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<a href='javascript:alert(1)'>x",
    '"><script>alert(1)</script>',
    "<img/src=x/onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "<<script>>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<style><img src=x onerror=alert(1)></style>",
    "<iframe srcdoc='&lt;script&gt;alert(1)&lt;/script&gt;'></iframe>",
    '<div style="background:url(javascript:alert(1))">',
    "<p style='x:expression(alert(1))'>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<base href=javascript:alert(1)//>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<object data="data:text/html,<script>alert(1)</script>"></object>',
    "<template><script>alert(1)</script></template>",
    "<title><script>alert(1)</script></title>",
    "<textarea><script>alert(1)</script></textarea>",
]
text_part = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
    st.sampled_from(["正文", "&amp;", "&lt;", "&#60;", "&#x3C;", "<", ">", '"', "'", "=", "&", "/"]),
)
attr_value = st.one_of(st.sampled_from(SCRIPT_URLS + SAFE_URLS), text_part, st.just("alert(1)"))


@st.composite
def attribute(draw: st.DrawFn) -> str:
    name = draw(
        st.one_of(
            st.sampled_from(HANDLERS),
            st.sampled_from(
                [
                    "href",
                    "src",
                    "style",
                    "srcset",
                    "action",
                    "formaction",
                    "xlink:href",
                    "background",
                    "poster",
                    "data",
                    "title",
                    "alt",
                    "class",
                    "id",
                    "width",
                    "colspan",
                    "srcdoc",
                ]
            ),
        )
    )
    value = draw(attr_value)
    quote = draw(st.sampled_from(['"', "'", ""]))
    if not quote:
        value = re.sub(r"[\s\"'=<>`]", "", value) or "x"
    return f" {name}={quote}{value}{quote}"


def element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw: st.DrawFn) -> str:
        tag = draw(st.sampled_from(TAGS))
        shown = "".join(c.upper() if draw(st.booleans()) else c for c in tag) if draw(st.booleans()) else tag
        attrs = "".join(draw(st.lists(attribute(), max_size=3)))
        inner = "".join(draw(st.lists(children, max_size=3)))
        close = draw(st.sampled_from([f"</{shown}>", "", f"</{tag} >", "</p>"]))
        return f"<{shown}{attrs}>{inner}{close}"

    return build()


hostile_html = st.recursive(
    st.one_of(text_part, st.sampled_from(BROKEN)),
    lambda children: st.one_of(element(children), st.lists(children, min_size=1, max_size=4).map("".join)),
    max_leaves=12,
)

URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "srcset",
    "poster",
    "background",
    "data",
    "cite",
    "longdesc",
    "xlink:href",
    "lowsrc",
    "dynsrc",
    "ping",
    "manifest",
    "codebase",
    "usemap",
}
FORBIDDEN_ELEMENTS = {
    "script",
    "iframe",
    "object",
    "embed",
    "frame",
    "frameset",
    "base",
    "meta",
    "link",
    "form",
    "svg",
    "math",
    "template",
    "noscript",
    "applet",
    "style",
}
_STRIP = re.compile(r"[\x00-\x20]")  # browsers drop C0 controls and spaces around and inside a scheme


def _script_url(value: str) -> bool:
    compact = _STRIP.sub("", _html.unescape(value)).lower()
    return compact.startswith(("javascript:", "vbscript:", "data:", "livescript:"))


def html_problems(fragment: str) -> list[str]:
    """What a browser could run in `fragment`, as seen by two different HTML parsers."""
    problems: list[str] = []
    elements: list[tuple[str, dict[str, str]]] = []
    soup = BeautifulSoup(fragment, "html.parser")
    for tag in soup.find_all(True):
        elements.append(
            (
                tag.name.lower(),
                {k.lower(): " ".join(v) if isinstance(v, list) else str(v) for k, v in tag.attrs.items()},
            )
        )
    if fragment.strip():
        try:
            root = lxml_html.fragment_fromstring(fragment, create_parent="div")
        except Exception:  # lxml refuses some inputs (control characters); html.parser has seen them
            root = None
        if root is not None:
            for node in root.iter():
                if isinstance(node.tag, str):
                    elements.append(
                        (node.tag.lower(), {str(k).lower(): str(v) for k, v in node.attrib.items()})
                    )
    for name, attrs in elements:
        if name in FORBIDDEN_ELEMENTS:
            problems.append(f"<{name}> element")
        for attr, value in attrs.items():
            if attr.startswith("on"):
                problems.append(f"event handler {attr}= on <{name}>")
            if attr in URL_ATTRIBUTES and _script_url(value):
                problems.append(f"script URL {attr}={value!r} on <{name}>")
            if attr == "srcdoc":
                problems.append(f"srcdoc on <{name}>")
            if attr == "style" and re.search(
                r"expression|javascript:|url\s*\(|@import", _html.unescape(value), re.I
            ):
                problems.append(f"active style {value!r} on <{name}>")
    return problems


@HTML_PROPS
@given(hostile_html)
def test_the_sanitiser_leaves_nothing_that_runs(raw: str) -> None:
    cleaned = clean_html(raw)
    assert html_problems(cleaned) == [], (raw, cleaned)
    tags = {t.name for t in BeautifulSoup(cleaned, "html.parser").find_all(True)}
    assert tags <= ALLOWED_TAGS, (raw, cleaned)
    # cleaning clean HTML changes nothing that matters: still clean, and stable from then on
    again = clean_html(cleaned)
    assert html_problems(again) == [] and clean_html(again) == again


# -- every channel's rendered output ----------------------------------------------------------------
CONTEXT = ChannelContext(
    public_base_url="http://127.0.0.1:8000", data_dir=Path("/nonexistent"), agency_name="上海市财政局"
)
IMAGE_HOSTS = ["img.example.gov.cn"]


def _channels(tmp: Path) -> dict[str, Any]:
    """One adapter per kind, built the way their own tests build them (no network)."""
    rss_context = ChannelContext(
        public_base_url="http://127.0.0.1:8000", data_dir=tmp / "rss", agency_name="上海市财政局"
    )
    secret = signing.generate_secret()
    return {
        "rss": RssChannel.from_config({"enabled": True}, rss_context),
        "cms": CmsChannel(
            CmsSettings(
                enabled=True, base_url="http://wp.test", user="admin", app_password=SecretStr("abcd efgh")
            ),
            CONTEXT,
        ),
        "wechat": WechatChannel(
            WechatSettings(
                enabled=True,
                api_base_url="http://wechat.test/cgi-bin/",
                appid="wx0000",
                secret=SecretStr("s"),
                allowed_image_hosts=IMAGE_HOSTS,
                redis_url="redis://127.0.0.1:1/0",
            ),
            CONTEXT,
        ),
        "webhook": WebhookChannel(
            WebhookSettings(enabled=True, url="http://hook.test/in", secret=SecretStr(secret)), CONTEXT
        ),
        "cityplatform": CityPlatformChannel(
            CityPlatformSettings.model_validate(
                {
                    "enabled": True,
                    "targets": [
                        {
                            "name": "disclosure",
                            "url": "http://city.test/records",
                            "secret": secret,
                            "types": [t.value for t in ItemType],
                        }
                    ],
                }
            ),
            CONTEXT,
        ),
    }


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    made = _channels(tmp_path_factory.mktemp("channels"))
    yield made
    for adapter in made.values():
        adapter.close()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


# The payload fields each channel hands on as HTML; webhook and city-platform bodies are JSON
# whose every string is checked (none of them is meant to carry markup).
HTML_FIELDS: dict[str, tuple[str, ...]] = {
    "rss": ("entry", "content"),
    "cms": ("post", "content"),
    "wechat": ("article", "content"),
}


def payload_problems(payload: Payload) -> list[str]:
    body: Any = json.loads(json.dumps(payload.body, ensure_ascii=False, default=str))
    path = HTML_FIELDS.get(payload.kind)
    if path is None or path[0] not in body:  # JSON channels, and a WeChat withdrawal (no article)
        return [
            f"{payload.kind}: {p}" for s in _strings(body) if "<" in s or "&" in s for p in html_problems(s)
        ]
    for key in path:
        body = body[key]
    assert isinstance(body, str)
    return [f"{payload.kind}: {p}" for p in html_problems(body)]


def _version(body: str, **over: Any) -> VersionView:
    return make_version(body_html=body, description="", **over)


@HTML_PROPS
@given(hostile_html, st.sampled_from(list(Operation)), st.sampled_from(["有效", "已废止"]))
def test_no_channel_renders_anything_that_runs(
    adapters: dict[str, Any], raw: str, op: Operation, validity: str
) -> None:
    # given a body as it is stored: sanitised once on entry by ItemIn
    body = ItemIn.model_validate({**_ITEM, "body_html": raw}).body_html
    version = _version(
        body,
        validity=validity,
        withdrawn=op is Operation.WITHDRAW,
        withdraw_reason="撤回" if op is Operation.WITHDRAW else None,
    )
    problems: list[str] = []
    for adapter in adapters.values():
        problems += payload_problems(adapter.render(version, op))
    # WeChat transforms the body further for its editor; the transform holds even on raw HTML
    wechat = to_wechat_html(raw, base_url="http://127.0.0.1:8000/items/x", allowed_hosts=IMAGE_HOSTS)
    problems += [f"wechat transform of raw HTML: {p}" for p in html_problems(wechat.content)]
    assert problems == [], (raw, body)


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_html)
@example("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>")
def test_the_written_feeds_carry_nothing_that_runs(raw: str) -> None:
    body = ItemIn.model_validate({**_ITEM, "body_html": raw}).body_html
    version = _version(body)
    with tempfile.TemporaryDirectory() as tmp:
        rss = RssChannel.from_config(
            {"enabled": True},
            ChannelContext(
                public_base_url="http://127.0.0.1:8000", data_dir=Path(tmp), agency_name="上海市财政局"
            ),
        )
        assert isinstance(rss, RssChannel)
        try:
            receipt = rss.send(rss.render(version, Operation.PUBLISH), key="feed.rss")
            assert receipt.data["written"]
            feeds = {
                f"{key}.{ext}": (rss.output_dir / f"{key}.{ext}").read_bytes()
                for key in receipt.data["written"]
                for ext in ("rss", "atom")
            }
        finally:
            rss.close()
    problems = [f"{name}: {p}" for name, xml in feeds.items() for p in _feed_problems(xml)]
    assert problems == [], (raw, body)


HTML_ELEMENTS = {"description", "{http://purl.org/rss/1.0/modules/content/}encoded"}
ATOM = "{http://www.w3.org/2005/Atom}"


def _feed_problems(xml: bytes) -> list[str]:
    """RSS 2.0 description/content:encoded and Atom content/summary of type html are HTML to
    a feed reader once the XML escaping is undone: check them as such."""
    problems: list[str] = []
    for node in ElementTree.fromstring(xml).iter():
        html_text = node.tag in HTML_ELEMENTS or (
            node.tag in (f"{ATOM}content", f"{ATOM}summary") and node.get("type") == "html"
        )
        if html_text and node.text:
            problems += html_problems(node.text)
    return problems


hostile_text = st.one_of(st.sampled_from(BROKEN), hostile_html).map(lambda t: t.strip()[:200]).filter(bool)


@HTML_PROPS
@given(hostile_text, hostile_text)
@example("<img src=x onerror=alert(1)>", "<script>alert(1)</script>")
def test_plain_text_fields_never_become_markup_on_the_website(
    adapters: dict[str, Any], title: str, description: str
) -> None:
    item = ItemIn.model_validate({**_ITEM, "title": title, "description": description[:500]})
    version = make_version(title=item.title, description=item.description)
    post = adapters["cms"].render(version, Operation.PUBLISH).body["post"]
    assert html_problems(post["title"]) == [] and html_problems(post["excerpt"]) == []
