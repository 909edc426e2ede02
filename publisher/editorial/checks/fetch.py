"""The link checker's `Fetcher` over HTTP: HEAD (then GET when HEAD is refused), redirects
followed by hand so every hop is seen, bounded in time and hops.

This is the plain prober used until the egress guard (`channels/egress.py`, issue 16) is
available: it checks schemes and hops but not the addresses they resolve to.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import httpx

from publisher.editorial.checks.links import Probe

USER_AGENT = "publisher/0.1 link check (+government information disclosure)"
MAX_HOPS = 5


class HttpFetcher:
    def __init__(self, timeout: float = 5.0, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    def probe(self, url: str) -> Probe:
        hops: list[str] = []
        current = url
        for _ in range(MAX_HOPS + 1):
            if urlsplit(current).scheme not in ("http", "https"):
                return Probe(url, None, current, tuple(hops), "只支持 http/https / not an http(s) URL")
            try:
                status, location = self._once(current)
            except httpx.HTTPError as exc:
                return Probe(url, None, current, tuple(hops), f"无法访问 / unreachable: {type(exc).__name__}")
            if status in (301, 302, 303, 307, 308) and location:
                hops.append(current)
                current = urljoin(current, location)
                continue
            return Probe(url, status, current, tuple(hops))
        return Probe(url, None, current, tuple(hops), f"重定向超过 {MAX_HOPS} 次 / too many redirects")

    def _once(self, url: str) -> tuple[int, str | None]:
        response = self.client.head(url)
        if response.status_code >= 400:  # some servers refuse HEAD: ask again with GET
            with self.client.stream("GET", url) as streamed:
                return streamed.status_code, streamed.headers.get("location")
        return response.status_code, response.headers.get("location")

    def close(self) -> None:
        self.client.close()
