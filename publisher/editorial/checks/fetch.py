"""The link checker's `Fetcher` over the egress guard (`channels/egress.py`): no private or
loopback address (unless `[egress] allow_hosts` names the host), every redirect hop checked
again, time and size capped.

A link is asked with HEAD; a server that refuses HEAD (any 4xx/5xx) is asked again with GET,
whose body is read up to `GET_BYTES` only: an answer too large to read that far counts as
reachable (error pages are small; a large answer is the document itself).
"""

from __future__ import annotations

from channels.base import ChannelError
from channels.egress import EgressGuard, EgressTooLargeError, Fetched
from publisher.editorial.checks.links import Probe

GET_BYTES = 256 * 1024


class GuardedFetcher:
    def __init__(self, guard: EgressGuard) -> None:
        self.guard = guard

    def probe(self, url: str) -> Probe:
        try:
            got = self.guard.fetch(url, method="HEAD", check_status=False)
            if got.status >= 400:
                got = self._get(url)
        except EgressTooLargeError:
            return Probe(url, 200, url, error="内容过大，未读完 / large answer, taken as reachable")
        except ChannelError as exc:  # refused by the guard, unreachable, timed out
            return Probe(url, None, url, error=str(exc)[:300])
        if 300 <= got.status < 400:  # still redirecting after the guard's last hop
            return Probe(url, None, got.url, got.redirects, "重定向过多 / too many redirects")
        return Probe(url, got.status, got.url, got.redirects)

    def _get(self, url: str) -> Fetched:
        return self.guard.fetch(url, method="GET", check_status=False, max_bytes=GET_BYTES)

    def close(self) -> None:
        self.guard.close()
