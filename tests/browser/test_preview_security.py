"""A malicious body in the preview runs no script, in a real browser.

The editor's body carries the hostile forms the input sanitiser lets through as harmless
(a `mailto:` whose address is a `javascript:` URL) and the ones it must drop (handlers,
script tags, javascript: links). The approver opens the preview of every routed channel,
clicks every link in it, and the page's marker stays unset: no script of the body ran,
so none could have approved anything with the approver's session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, expect

from publisher.runtime import Runtime
from publisher.web import create_app
from tests.browser.test_pages import PASSWORD, Live, login
from tests.conftest import redis_url
from tests.publisher.web.live import serve
from tests.receiver import Receiver
from tests.samples import policy

MARK = "window.__pwned=1"
BODY = (
    "<p>请来信："
    f'<a href="mailto:javascript://mp.weixin.qq.com/%0a{MARK}">联系我们</a>，'
    f'<a href="mailto:JAVASCRIPT://mp.weixin.qq.com/%0A{MARK}">信箱</a>，'
    f'<a href="javascript:{MARK}">链接</a>，'
    f'<a href="jav&#x09;ascript:{MARK}">另一链接</a></p>'
    f'<img src="x" onerror="{MARK}"><svg onload="{MARK}"></svg>'
    f"<script>{MARK}</script>"
    f'<p style="background:url(javascript:{MARK})">正文。</p>'
)


pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def hostile_live(make_runtime: Callable[..., Runtime]) -> Iterator[Live]:
    rt = make_runtime(
        {
            "rss": {"enabled": True},
            "cms": {"enabled": True},
            "wechat": {"enabled": True, "redis_url": redis_url(9)},
        },
        executor=False,
        routing={"policy": ["rss", "cms", "wechat"]},
    )
    for name, role in (("editor", "editor"), ("approver", "approver")):
        rt.service.add_user(name, role, PASSWORD)
    with serve(create_app(rt)) as base:
        yield Live(base, rt, Receiver())  # (not started: nothing here is delivered)


def test_a_malicious_body_in_the_preview_runs_no_script(browser: Browser, hostile_live: Live) -> None:
    live = hostile_live
    actor, _ = live.runtime.service.add_user("editor-api", "editor")
    uid = live.runtime.service.create_item(actor, policy(title="含恶意链接的正文", body_html=BODY)).uid

    page = login(browser, live, "approver")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # off-site links answer 204 (no navigation), so every click stays on the preview
    page.route(lambda url: not url.startswith(live.base), lambda route: route.fulfill(status=204))
    page.goto(f"{live.base}/app/items/{uid}/preview")
    for channel in ("rss", "cms", "wechat"):
        expect(page.locator(f"#preview-{channel}")).to_contain_text("正文")
    links = page.locator(".previews a")
    hrefs = [str(links.nth(i).get_attribute("href") or "") for i in range(links.count())]
    # a channel's pre-flight problem links to the field in our own editor: page chrome, not content
    own = f"/app/items/{uid}/edit#f-"
    for i, href in enumerate(hrefs):
        if href.lower().startswith("mailto:"):
            continue  # would hand over to a mail program; it is a mailto link, which is the point
        if href.startswith(own):
            continue
        links.nth(i).click()
        # a javascript: URL runs in this document; an http(s) link is answered 204 and stays
        assert page.evaluate("() => window.__pwned === undefined"), href
    assert page.evaluate("() => window.__pwned === undefined")
    assert dialogs == []
    content = [h for h in hrefs if not h.startswith(own)]
    assert [h for h in content if h and not h.lower().startswith(("http://", "https://", "mailto:"))] == []

    page.goto(f"{live.base}/app/items/{uid}")
    assert page.evaluate("() => window.__pwned === undefined")


def test_the_policy_alone_stops_an_injected_handler(browser: Browser, hostile_live: Live) -> None:
    """Defence in depth: markup that got past every sanitiser (inserted here by hand) still
    runs nothing, because the page's Content-Security-Policy allows no inline script."""
    page = login(browser, hostile_live, "approver")
    page.goto(f"{hostile_live.base}/app/items")
    # waits until the image's load has failed (its handler's turn has come and gone) and both
    # injections were refused, instead of looking after a fixed pause (bounded at 10 s)
    refused = page.evaluate(
        """() => new Promise(resolve => {
            const seen = [];
            let failed = false;
            const done = () => { if (failed && seen.length >= 2) resolve(seen); };
            document.addEventListener('securitypolicyviolation', e => { seen.push(e.violatedDirective); done(); });
            // capture phase: before the image's own handler; the check runs after the dispatch
            document.addEventListener('error', e => {
                if (e.target.id === 'bait') { failed = true; setTimeout(done, 0); }
            }, true);
            document.body.insertAdjacentHTML('beforeend', '<img id="bait" src="/static/none.png" onerror="window.__pwned=1">');
            const s = document.createElement('script'); s.textContent = 'window.__pwned=2';
            document.body.appendChild(s);
            setTimeout(() => resolve(seen.concat(failed ? [] : ['the image never failed'])), 10000);
        })"""
    )
    assert len(refused) >= 2 and all(d.startswith("script-src") for d in refused), refused
    assert page.evaluate("() => window.__pwned === undefined")
