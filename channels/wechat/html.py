"""Turn the service's clean HTML into what a WeChat article accepts and reads well on a phone.

WeChat strips scripts, filters out images not hosted by WeChat and only lets articles link
to other WeChat articles, and its renderer ignores stylesheets: styling has to be inline.
So: dangerous and interactive elements go, every other unknown tag is unwrapped, headings
and tables get inline styles (tables scroll sideways instead of overflowing), external links
become their text followed by the URL, and images are kept only from allowed hosts: their
URLs are returned so the sender can re-host them through media/uploadimg. Pure functions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup
from bs4.element import NavigableString, Tag

from publisher.domain.sanitize import clean_output

REMOVE = frozenset(
    {
        "script",
        "style",
        "iframe",
        "frame",
        "frameset",
        "form",
        "input",
        "button",
        "select",
        "option",
        "textarea",
        "object",
        "embed",
        "noscript",
        "template",
        "link",
        "meta",
        "base",
        "svg",
        "math",
        "video",
        "audio",
        "canvas",
        "applet",
        "head",
        "title",
    }
)
KEEP = frozenset(
    {
        "p",
        "br",
        "hr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "strong",
        "b",
        "em",
        "i",
        "u",
        "s",
        "sub",
        "sup",
        "blockquote",
        "pre",
        "code",
        "ul",
        "ol",
        "li",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "th",
        "td",
        "caption",
        "colgroup",
        "col",
        "img",
        "span",
        "section",
        "a",
    }
)
RENAME = {
    "div": "section",
    "figure": "section",
    "figcaption": "p",
    "dl": "section",
    "dt": "p",
    "dd": "p",
    "article": "section",
    "header": "section",
    "footer": "section",
    "main": "section",
}
ATTRIBUTES = {
    "img": {"src", "alt"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "ol": {"start"},
    "col": {"span"},
    "a": {"href"},
}

BODY = "font-size:16px;line-height:1.75;"
STYLES = {
    "p": "margin:0 0 1em;" + BODY,
    "li": BODY,
    "h1": "font-size:22px;font-weight:bold;line-height:1.4;margin:1.2em 0 0.6em;",
    "h2": "font-size:20px;font-weight:bold;line-height:1.4;margin:1.2em 0 0.6em;",
    "h3": "font-size:18px;font-weight:bold;line-height:1.4;margin:1em 0 0.5em;",
    "h4": "font-size:16px;font-weight:bold;line-height:1.4;margin:1em 0 0.5em;",
    "h5": "font-size:16px;font-weight:bold;line-height:1.4;margin:1em 0 0.5em;",
    "h6": "font-size:16px;font-weight:bold;line-height:1.4;margin:1em 0 0.5em;",
    "table": "border-collapse:collapse;width:100%;font-size:14px;line-height:1.5;",
    "th": "border:1px solid #ccc;padding:6px 4px;background-color:#f5f5f5;font-weight:bold;text-align:center;",
    "td": "border:1px solid #ccc;padding:6px 4px;word-break:break-all;",
    "caption": "font-weight:bold;padding:4px 0;",
    "img": "max-width:100%;height:auto;display:block;margin:0.5em auto;",
    "blockquote": "border-left:3px solid #ccc;padding-left:10px;color:#555;margin:1em 0;",
    "pre": "white-space:pre-wrap;word-break:break-all;font-size:14px;",
}
TABLE_WRAP = "overflow-x:auto;max-width:100%;margin:0 0 1em;"
LINK_TEXT = "color:#576b95;word-break:break-all;"
# WeChat only lets an article link to other WeChat articles.
WECHAT_LINK_HOSTS = frozenset({"mp.weixin.qq.com"})


@dataclass(frozen=True)
class Transformed:
    content: str
    images: tuple[str, ...]  # absolute URLs from allowed hosts, to re-host; src still points at them
    # images removed: their URL when the host is not allowed, else why (empty src, data: URI)
    dropped_images: tuple[str, ...]


def host_allowed(url: str, allowed_hosts: Collection[str]) -> bool:
    """Only http(s) URLs whose host (or host:port) is listed; user-info tricks refused."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not hostname or "@" in parts.netloc:
        return False
    allowed = {h.lower() for h in allowed_hosts}
    return parts.netloc.lower() in allowed or hostname.lower() in allowed


def to_wechat_html(html: str, *, base_url: str, allowed_hosts: Collection[str]) -> Transformed:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(list(REMOVE)):
        tag.decompose()
    images: list[str] = []
    dropped: list[str] = []
    for tag in list(soup.find_all(True)):
        if not isinstance(tag, Tag) or tag.decomposed:
            continue
        name = RENAME.get(tag.name, tag.name)
        if name not in KEEP:
            tag.unwrap()
            continue
        tag.name = name
        keep = ATTRIBUTES.get(name, set())
        tag.attrs = {k: v for k, v in tag.attrs.items() if k in keep}
        if name == "a":
            _link(soup, tag, base_url)
        elif name == "img":
            _image(soup, tag, base_url, allowed_hosts, images, dropped)
        elif name in STYLES:
            tag["style"] = STYLES[name]
        if name == "table":
            wrapper = soup.new_tag("section", attrs={"style": TABLE_WRAP})
            tag.wrap(wrapper)
    return Transformed(
        content=str(soup).strip(),
        images=tuple(dict.fromkeys(images)),
        dropped_images=tuple(dict.fromkeys(dropped)),
    )


def _link(soup: BeautifulSoup, tag: Tag, base_url: str) -> None:
    href = str(tag.get("href") or "").strip()
    text = tag.get_text().strip()
    if not href or href.startswith("#"):
        tag.unwrap()
        return
    if href.lower().startswith("mailto:"):
        # The address is shown as text, never unwrapped into a URL of its own:
        # `mailto:javascript://mp.weixin.qq.com/%0a...` would otherwise become a live script link.
        url, shown = href, href[len("mailto:") :]
    else:
        url = shown = urljoin(base_url, href)
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname in WECHAT_LINK_HOSTS:
        tag["href"] = url
        return
    if text == shown or shown in text:
        tag.name = "span"
        tag.attrs = {"style": LINK_TEXT}
        return
    span = soup.new_tag("span")
    for child in list(tag.contents):
        span.append(child.extract())
    span.append(NavigableString("（"))
    url_span = soup.new_tag("span", attrs={"style": LINK_TEXT})
    url_span.string = shown
    span.append(url_span)
    span.append(NavigableString("）"))
    tag.replace_with(span)


def _image(
    soup: BeautifulSoup,
    tag: Tag,
    base_url: str,
    allowed_hosts: Collection[str],
    images: list[str],
    dropped: list[str],
) -> None:
    src, problem = image_url(str(tag.get("src") or ""), base_url)
    if src and host_allowed(src, allowed_hosts):
        tag["src"] = src
        tag["style"] = STYLES["img"]
        images.append(src)
        return
    dropped.append(problem or src)
    alt = str(tag.get("alt") or "").strip()
    if alt:
        tag.replace_with(NavigableString(f"［图片：{alt}］"))
    else:
        tag.decompose()


def image_url(raw: str, base_url: str) -> tuple[str, str | None]:
    """The absolute URL of an `<img src>`, or ("", why not). An empty src, a fragment or a
    query alone would resolve to the item's own page, and a data:/javascript:/blob: URI is
    no image source we fetch: each is an image problem, never a URL to fetch."""
    raw = raw.strip()
    if not raw:
        return "", "（空图片地址 / empty src）"
    scheme = urlsplit(raw).scheme.lower() if ":" in raw else ""
    if scheme and scheme not in ("http", "https"):
        return "", f"（{scheme}: 图片不受支持 / {scheme}: image not supported）"
    src = urljoin(base_url, raw)
    if _page(src) == _page(base_url) or urlsplit(src).scheme not in ("http", "https"):
        return "", f"（图片地址无效 / not an image URL: {raw[:80]}）"
    return src, None


def _page(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower(), parts.path or "/"


def rewrite_images(content: str, hosted: Mapping[str, str]) -> str:
    """Point every re-hosted image at its WeChat URL; an image without one is removed."""
    soup = BeautifulSoup(content, "html.parser")
    for img in soup.find_all("img"):
        src = str(img.get("src") or "")
        if src in hosted:
            img["src"] = hosted[src]
        else:
            img.decompose()
    return clean_output(str(soup))
