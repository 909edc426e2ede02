"""Allow-list HTML sanitising: once when content enters the system, and again on the way out.

nh3 (Rust ammonia) parses like a browser, so tricks that fool regex cleaners (broken
tags, entity-encoded `javascript:`) do not get through. Channels transform this clean
HTML further for their own limits (WeChat, for one); a transformation can turn harmless
input into something else (a `mailto:` address that is itself a `javascript:` URL, once
unwrapped), so every channel's output and every page that shows HTML passes
`clean_output` last: one allow-list for everything that leaves (docs/security.md).
"""

from __future__ import annotations

import html as _html

import nh3

ALLOWED_TAGS = {
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
    "dl",
    "dt",
    "dd",
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
    "a",
    "img",
    "span",
    "div",
    "figure",
    "figcaption",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}
_DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template"}


# nh3's own defaults are relied on, not restated: comments stripped (`strip_comments=True`),
# links given `rel="noopener noreferrer"` (`link_rel`), and `<script>`/`<style>` dropped with
# their content (`clean_content_tags`, for `text_of`). Restating them changed nothing a mutant
# could show (checked on 20,000 generated fragments for issue 22); tests/publisher/domain/
# test_sanitize.py pins each behaviour, so a release of nh3 that changed one fails there.


def clean_html(html: str) -> str:
    """Keep the allow-listed structure; drop scripts, styles, event handlers and unsafe URLs."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
    )


# What leaves: the input allow-list, the tags channels add (WeChat's <section>), their class
# names and inline styles. A style may only set these properties (no url(), no position:
# nothing that fetches or overlays); the values are layout values the channels write.
OUTPUT_TAGS = ALLOWED_TAGS | {"section"}
OUTPUT_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    "*": {"class", "style"},
}
OUTPUT_ATTRIBUTES["a"] = OUTPUT_ATTRIBUTES["a"] | {"rel"}
STYLE_PROPERTIES = {
    "background-color",
    "border",
    "border-collapse",
    "border-left",
    "color",
    "display",
    "font-size",
    "font-weight",
    "height",
    "line-height",
    "margin",
    "max-width",
    "overflow-x",
    "padding",
    "padding-left",
    "text-align",
    "white-space",
    "width",
    "word-break",
}


def clean_output(html: str) -> str:
    """The last step before HTML leaves us (a channel's payload, a preview, a page, a feed).

    Links and images keep only http, https or mailto URLs (relative URLs resolve against
    the page, so they stay http(s)); event handlers, scripts and every tag or attribute not
    listed go."""
    return nh3.clean(
        html,
        tags=OUTPUT_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=OUTPUT_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=None,
        filter_style_properties=STYLE_PROPERTIES,
    )


def text_of(html: str) -> str:
    """The visible text of clean HTML (for summaries, search and length checks)."""
    stripped = nh3.clean(html, tags=set())
    return _html.unescape(stripped).strip()
