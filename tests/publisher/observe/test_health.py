"""/readyz: database, broker (a real redis-server started for the test), a live worker
heartbeat — the embedded sweeper's last round, or a Celery worker's Redis key — and every
enabled channel's own dependencies (WeChat's Redis token cache, the feed folder)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from publisher.delivery.executor import EmbeddedExecutor
from publisher.observe.health import WORKER_KEY_PREFIX, check_worker
from publisher.runtime import build_runtime, use_executor
from publisher.settings import Settings
from publisher.web import create_app
from tests.support import wait_for
from tests.tasks.harness import RedisServer, free_port


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A private redis-server on a free port: the machine's shared Redis has other workers' keys."""
    server = RedisServer(tmp_path).start()
    yield server.url
    server.stop()


def readyz(settings: Settings, **kwargs: object) -> tuple[int, dict[str, dict[str, object]]]:
    rt = build_runtime(settings.replace(**kwargs))  # type: ignore[arg-type]
    try:
        with TestClient(create_app(rt)) as client:
            r = client.get("/readyz")
        return r.status_code, r.json()["checks"]
    finally:
        rt.close()


def test_embedded_ready_only_while_the_sweeper_runs(settings: Settings) -> None:
    rt = build_runtime(settings)
    with TestClient(create_app(rt)) as client:
        # no executor at all: the database is fine but nothing would send
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["database"]["ok"] is True
        assert r.json()["checks"]["worker"] == {
            "ok": False,
            "detail": "没有运行的执行器 / no executor running",
        }
        executor = EmbeddedExecutor(rt.engine, threads_per_channel=1, sweep_interval=0.05)
        use_executor(rt, executor)
        assert "尚未完成首次巡检" in client.get("/readyz").json()["checks"]["worker"]["detail"]
        rt.start()
        wait_for(lambda: executor.last_sweep, 5, "the first sweep")
        r = client.get("/readyz")
        assert r.status_code == 200, r.json()
        assert r.json()["status"] == "ok"
        # the enabled channels' own dependencies: the feed folder (WeChat without redis_url has none)
        assert set(r.json()["checks"]) == {"database", "worker", "channel:rss:feeds"}
        # a sweeper that stopped going round (a wedged process) is not ready
        assert not check_worker(rt, now=time.time() + 3600).ok
    rt.close()


def test_database_down_is_503_naming_the_database(settings: Settings) -> None:
    status, checks = readyz(
        settings, database={"url": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"}
    )
    assert status == 503 and checks["database"]["ok"] is False
    assert "OperationalError" in str(checks["database"]["detail"])


def test_broker_mode_needs_redis_and_a_worker_heartbeat(settings: Settings, redis_url: str) -> None:
    # broker up, no worker heartbeat: not ready
    status, checks = readyz(settings, broker={"url": redis_url})
    assert status == 503
    assert checks["broker"] == {"ok": True, "detail": "PING ok"}
    assert checks["worker"]["ok"] is False and "没有存活的 worker" in str(checks["worker"]["detail"])
    # a worker keeps its key alive (as tasks/heartbeat.py does): ready
    r = redis.Redis.from_url(redis_url)
    r.set(WORKER_KEY_PREFIX + "celery@host-1", b"{}", px=5000)
    status, checks = readyz(settings, broker={"url": redis_url})
    assert status == 200 and checks["worker"]["detail"] == "1 live: celery@host-1"
    # the key expires when the worker dies: not ready again
    r.pexpire(WORKER_KEY_PREFIX + "celery@host-1", 1)
    wait_for(
        lambda: readyz(settings, broker={"url": redis_url})[0] == 503, 5, "not ready once the key expired"
    )
    r.close()


def test_broker_down_fails_broker_and_worker(settings: Settings) -> None:
    status, checks = readyz(settings, broker={"url": f"redis://127.0.0.1:{free_port()}/0"})
    assert status == 503
    assert checks["broker"]["ok"] is False and "ConnectionError" in str(checks["broker"]["detail"])
    assert checks["worker"]["ok"] is False and "heartbeats unknown" in str(checks["worker"]["detail"])


def ready_with_executor(settings: Settings) -> tuple[int, dict[str, dict[str, object]]]:
    rt = build_runtime(settings)
    executor = EmbeddedExecutor(rt.engine, threads_per_channel=1, sweep_interval=0.05)
    use_executor(rt, executor)
    rt.start()
    try:
        wait_for(lambda: executor.last_sweep, 5, "the first sweep")
        with TestClient(create_app(rt)) as client:
            r = client.get("/readyz")
        return r.status_code, r.json()["checks"]
    finally:
        rt.close()


def wechat_with_redis(settings: Settings, url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PUBLISHER_TEST_WECHAT_SECRET", "s")
    section = {
        "enabled": True,
        "appid": "wx1",
        "secret_env": "PUBLISHER_TEST_WECHAT_SECRET",
        "redis_url": url,
    }
    return settings.replace(channels={"wechat": section})


def test_the_wechat_token_cache_is_a_dependency_when_configured(
    settings: Settings, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, checks = ready_with_executor(wechat_with_redis(settings, redis_url, monkeypatch))
    assert status == 200, checks
    assert checks["channel:wechat:redis"] == {"ok": True, "detail": "PING ok"}

    dead = f"redis://127.0.0.1:{free_port()}/0"
    status, checks = ready_with_executor(wechat_with_redis(settings, dead, monkeypatch))
    assert status == 503 and checks["worker"]["ok"] is True and checks["database"]["ok"] is True
    assert checks["channel:wechat:redis"]["ok"] is False
    assert "Redis 不可用" in str(checks["channel:wechat:redis"]["detail"])


def test_an_unwritable_feed_folder_is_not_ready(settings: Settings, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    changed = settings.replace(channels={"rss": {"enabled": True, "output_dir": str(blocker / "feeds")}})
    status, checks = ready_with_executor(changed)
    assert status == 503 and checks["channel:rss:feeds"]["ok"] is False
    assert "不可写" in str(checks["channel:rss:feeds"]["detail"])
