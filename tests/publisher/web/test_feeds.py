"""Feed files served over real HTTP: validators, conditional GET, gzip, content types.

Feeds are produced by the rss adapter the deployment builds (through the channel set, so the
folder it writes to and the folder the server reads are the defaults of each side)."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from channels.base import Operation
from publisher.runtime import Runtime
from publisher.web.app import create_app
from publisher.web.feeds import read_index
from tests.factories import make_version
from tests.publisher.web.live import serve

IDENTITY = {"Accept-Encoding": "identity"}


# the feed files and their serving do not depend on the database: SQLite only
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime({"rss": {"enabled": True}}, executor=False)


@pytest.fixture
def base(runtime: Runtime) -> Iterator[str]:
    with serve(create_app(runtime)) as url:
        yield url


def publish(runtime: Runtime, n: int, **overrides: Any) -> None:
    uid = f"01jfeedtest{n:015d}"
    values: dict[str, Any] = dict(
        uid=uid,
        title=f"测试信息{n}",
        public_url=f"{runtime.settings.public_base_url}/items/{uid}",
        created_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=n),
        published_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=n),
    )
    values.update(overrides)
    channel = runtime.channels.get("rss")
    view = make_version(**values)
    channel.send(channel.render(view, Operation.PUBLISH), key=f"{uid}.v1.rss.publish")


def test_feeds_are_served_with_types_and_validators(runtime: Runtime, base: str) -> None:
    # given nothing published yet, when a feed is asked for, then 404
    with httpx.Client(base_url=base, headers=IDENTITY) as client:
        assert client.get("/feeds/all.rss").status_code == 404
        # when the rss channel publishes
        publish(runtime, 1)
        folder = runtime.settings.data_dir / "channels" / "rss" / "feeds"
        for path, ctype in [
            ("/feeds/all.rss", "application/rss+xml; charset=utf-8"),
            ("/feeds/all.atom", "application/atom+xml; charset=utf-8"),
            ("/feeds/type/policy.rss", "application/rss+xml; charset=utf-8"),
            ("/feeds/type/policy.atom", "application/atom+xml; charset=utf-8"),
        ]:
            r = client.get(path)
            # then each feed is the file the adapter wrote, with its validators
            assert r.status_code == 200, path
            assert r.headers["content-type"] == ctype
            assert r.content == (folder / path.removeprefix("/feeds/")).read_bytes()
            assert r.headers["etag"].startswith('"') and not r.headers["etag"].startswith("W/")
            assert r.headers["last-modified"].endswith("GMT")
            assert r.headers["cache-control"] == "public, max-age=300"
            assert r.headers["vary"] == "Accept-Encoding"
            parsed = feedparser.parse(r.content)
            assert parsed.bozo == 0 and parsed.entries[0].title == "测试信息1"
        # subject feeds by the ids index.json lists
        (sid,) = [
            s for s, name in read_index(runtime.settings)["subjects"].items() if name == "综合政务\\政务公开"
        ]
        assert client.get(f"/feeds/subject/{sid}.atom").status_code == 200
        assert client.get("/feeds/index.json").json()["subjects"][sid] == "综合政务\\政务公开"
        for bad in (
            "/feeds/type/nosuch.rss",
            "/feeds/subject/..%2F..%2Fpublisher.rss",
            "/feeds/type/POLICY.rss",
        ):
            r = client.get(bad)
            assert r.status_code == 404, bad
            assert r.json()["errors"][0]["message"].startswith("未找到")
        head = client.head("/feeds/all.rss")
        assert head.status_code == 200 and head.content == b"" and head.headers["etag"]


def test_conditional_get_answers_304_with_no_body(runtime: Runtime, base: str) -> None:
    publish(runtime, 1)
    with httpx.Client(base_url=base, headers=IDENTITY) as client:
        first = client.get("/feeds/all.atom")
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        r = client.get("/feeds/all.atom", headers={"If-None-Match": etag})
        assert r.status_code == 304 and r.content == b""
        assert r.headers["etag"] == etag and r.headers["cache-control"] == "public, max-age=300"
        assert (
            client.get("/feeds/all.atom", headers={"If-None-Match": f'W/{etag}, "other"'}).status_code == 304
        )
        assert client.get("/feeds/all.atom", headers={"If-Modified-Since": modified}).status_code == 304
        older = "Mon, 01 Jan 2024 00:00:00 GMT"
        assert client.get("/feeds/all.atom", headers={"If-Modified-Since": older}).status_code == 200
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
        r = client.get("/feeds/all.atom", headers={"If-None-Match": '"stale"', "If-Modified-Since": modified})
        assert r.status_code == 200
        # after another publish the ETag changes and the old one no longer matches
        publish(runtime, 2)
        r = client.get("/feeds/all.atom", headers={"If-None-Match": etag})
        assert r.status_code == 200
        assert r.headers["etag"] != etag
        assert [e.title for e in feedparser.parse(r.content).entries] == ["测试信息2", "测试信息1"]
        assert client.get("/feeds/all.atom", headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_gzip_when_accepted(runtime: Runtime, base: str) -> None:
    publish(runtime, 1, body_html="<p>" + "财政预算公开。" * 2000 + "</p>")
    raw = (runtime.settings.data_dir / "channels" / "rss" / "feeds" / "all.rss").read_bytes()
    with httpx.Client(base_url=base) as client:
        with client.stream("GET", "/feeds/all.rss", headers={"Accept-Encoding": "gzip"}) as r:
            body = b"".join(r.iter_raw())
        assert r.headers["content-encoding"] == "gzip"
        assert gzip.decompress(body) == raw
        assert len(body) < len(raw) / 5
        gz_etag = r.headers["etag"]
        plain = client.get("/feeds/all.rss", headers=IDENTITY)
        assert "content-encoding" not in plain.headers and plain.content == raw
        # each representation has its own strong tag; either revalidates
        assert gz_etag != plain.headers["etag"]
        assert client.get("/feeds/all.rss", headers={"If-None-Match": gz_etag, **IDENTITY}).status_code == 304
        assert (
            client.get("/feeds/all.rss", headers={"Accept-Encoding": "gzip;q=0"}).headers.get(
                "content-encoding"
            )
            is None
        )


def test_configured_output_dir_is_where_the_server_looks(
    make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    out = tmp_path / "www" / "feeds"
    rt = make_runtime({"rss": {"enabled": True, "output_dir": str(out)}}, executor=False)
    with serve(create_app(rt)) as url:
        publish(rt, 1)
        assert (out / "all.rss").is_file()
        assert httpx.get(f"{url}/feeds/all.rss").status_code == 200


def test_settings_max_age(runtime: Runtime) -> None:
    publish(runtime, 1)
    rt = replace(runtime, settings=runtime.settings.replace(feeds={"max_age": 60}))
    with serve(create_app(rt)) as url:
        assert httpx.get(f"{url}/feeds/all.rss").headers["cache-control"] == "public, max-age=60"
