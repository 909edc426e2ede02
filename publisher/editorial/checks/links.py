"""Links and attachments: every link, image and attachment of an item, probed.

    links.dead (block)      4xx or 5xx, unreachable, refused by the egress guard, or not http(s)
    links.redirect (warn)   the link ends up on another site (registrable domain) after redirects

Probing goes through a `Fetcher`: the deployment's guarded fetch (the egress guard: no private
or loopback addresses, every redirect hop checked, size and time caps). Results are cached
for `[checks] link_cache_seconds` (failures for at most a minute), so the check that runs as
an editor types uses cached results only and never sends a request, while approval probes
every link not in the cache, before its transaction starts (`LinkChecker.probe_all`), in
parallel and within a total time budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from publisher.editorial.checks.fields import Link, Subject, label_of
from publisher.editorial.checks.problem import Problem, Severity, fingerprint


@dataclass(frozen=True)
class Probe:
    """What probing one URL found: the final status (None when no answer), every redirect hop."""

    url: str
    status: int | None
    final_url: str
    hops: tuple[str, ...] = ()
    error: str | None = None

    @property
    def dead(self) -> bool:
        return self.status is None or self.status >= 400


class Fetcher(Protocol):
    """Probe a URL: follow redirects (each hop guarded), report the final status; never raise
    for a network failure (that is a Probe with `error`)."""

    def probe(self, url: str) -> Probe: ...


@dataclass
class _Entry:
    probe: Probe
    until: float


@dataclass
class LinkCache:
    ttl: float = 300.0
    failure_ttl: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, url: str) -> Probe | None:
        with self._lock:
            entry = self._entries.get(url)
            if entry is None:
                return None
            if entry.until < self.clock():
                del self._entries[url]
                return None
            return entry.probe

    def put(self, probe: Probe) -> None:
        ttl = min(self.ttl, self.failure_ttl) if probe.dead else self.ttl
        with self._lock:
            if len(self._entries) > 10_000:  # a bounded cache: drop the expired, then the oldest
                now = self.clock()
                for url in [u for u, e in self._entries.items() if e.until < now] or list(self._entries)[
                    :1000
                ]:
                    self._entries.pop(url, None)
            self._entries[url_key(probe.url)] = _Entry(probe, self.clock() + ttl)


def url_key(url: str) -> str:
    return url.strip()


class LinkChecker:
    """The cache and the fetcher together."""

    def __init__(
        self,
        fetcher: Fetcher | None,
        cache: LinkCache | None = None,
        *,
        workers: int = 8,
        budget_seconds: float = 20.0,
    ) -> None:
        self.fetcher = fetcher
        self.cache = cache or LinkCache()
        self.workers = workers
        self.budget_seconds = budget_seconds

    def cached(self, urls: Iterable[str]) -> dict[str, Probe]:
        out = {}
        for url in urls:
            probe = self.cache.get(url_key(url))
            if probe is not None:
                out[url] = probe
        return out

    def probe_all(self, urls: Iterable[str]) -> dict[str, Probe]:
        """Results for every URL: cached ones as they are, the rest probed now (in parallel,
        within the time budget; a URL not answered within it counts as unreachable)."""
        wanted = list(dict.fromkeys(urls))
        out = self.cached(wanted)
        missing = [u for u in wanted if u not in out]
        if not missing or self.fetcher is None:
            return out
        fetcher = self.fetcher
        with ThreadPoolExecutor(max_workers=min(self.workers, len(missing))) as pool:
            futures = {pool.submit(fetcher.probe, u): u for u in missing}
            done, pending = wait(futures, timeout=self.budget_seconds)
            for f in done:
                url = futures[f]
                try:
                    probe = f.result()
                except Exception as exc:  # a fetcher bug must not pass a link unchecked
                    probe = Probe(url, None, url, error=f"{type(exc).__name__}: {exc}"[:200])
                self.cache.put(probe)
                out[url] = probe
            for f in pending:
                f.cancel()
                url = futures[f]
                out[url] = Probe(url, None, url, error="检查超时 / probe timed out")
        return out


def targets(subject: Subject, public_base_url: str) -> list[tuple[Link, str]]:
    """(link, absolute URL) for every link worth checking: relative ones resolved against the
    public site, the item's own page (not yet published) left out. A URL that cannot be parsed
    is kept as written: `check` reports it dead without asking the network."""
    own = f"{public_base_url.rstrip('/')}/items/{subject.uid}" if subject.uid else None
    out = []
    for link in subject.links:
        raw = link.url.strip()
        if not raw or raw.startswith(("mailto:", "#", "tel:")):
            continue
        try:
            url = urljoin(public_base_url.rstrip("/") + "/", raw)
        except ValueError:  # "http://[::1": no URL at all
            url = raw
        if own is not None and url.split("#")[0].rstrip("/") == own:
            continue
        out.append((link, url))
    return out


def probeable(url: str) -> bool:
    """An http(s) URL with a host: the only kind the network is asked about. Anything else
    (javascript:, ftp:, "http://[::1", "http:///x") is dead for every reader as written."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number or out of range)
    except ValueError:  # an unparsable host or port
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def probe_targets(subject: Subject, public_base_url: str) -> list[str]:
    """The URLs of an item the link checker asks the network (or its cache) about."""
    return [url for _, url in targets(subject, public_base_url) if probeable(url)]


_SECOND_LEVEL = frozenset({"gov", "com", "org", "net", "edu", "ac", "mil"})


def site_of(url: str) -> str:
    """The registrable domain of a URL's host: www.sh.gov.cn → sh.gov.cn; an IP stays itself."""
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""
    labels = host.split(".")
    if len(labels) <= 2 or host.replace(".", "").isdigit() or ":" in host:
        return host
    keep = 3 if len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def check(subject: Subject, results: dict[str, Probe], public_base_url: str) -> Iterator[Problem]:
    for link, url in targets(subject, public_base_url):
        valid = probeable(url)
        probe = results.get(url) if valid else None
        if valid and probe is None:
            continue  # not checked yet (typing uses cached results only)
        where = label_of(link.path)
        shown = link.text.strip()[:60] or url
        if probe is None or probe.dead:
            if probe is None:
                why = "不是有效的 http(s) 地址 / not a valid http(s) URL"
            elif probe.status is not None:
                why = f"HTTP {probe.status}"
            else:
                why = probe.error or "无法访问"
            yield Problem(
                link.path,
                f"链接“{shown}”无法访问（{why}）：{url} / dead link",
                rule="links.dead",
                severity=Severity.BLOCK,
                label=where,
                anchor=link.path.split(".")[0],
                matched=url,
                start=link.start,
                end=link.end,
                suggestion="改为可访问的地址或删除该链接 / fix or remove the link",
                key=fingerprint("links.dead", link.path, url),
            )
        elif probe.final_url and site_of(probe.final_url) != site_of(url):
            yield Problem(
                link.path,
                f"链接“{shown}”跳转到其他网站：{url} → {probe.final_url} / redirects to another site",
                rule="links.redirect",
                severity=Severity.WARN,
                label=where,
                anchor=link.path.split(".")[0],
                matched=url,
                start=link.start,
                end=link.end,
                suggestion=probe.final_url,
                key=fingerprint("links.redirect", link.path, url, probe.final_url),
            )
