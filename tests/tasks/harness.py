"""Real processes for the Celery tests: `celery worker` / `celery beat` subprocesses, a
private redis-server that a test may stop and start, and the config file they share."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import redis

from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def write_config(
    path: Path,
    *,
    db_url: str,
    broker_url: str,
    subscribers: dict[str, str],
    webhook: dict[str, Any] | None = None,
    sweep_interval: float = 0.5,
    lease_seconds: int = 2,
) -> Path:
    """A publisher TOML config: webhook subscribers only (RSS off), short leases."""
    lines = [
        f"data_dir = {toml_value(str(path.parent / 'data'))}",
        "[database]",
        f"url = {toml_value(db_url)}",
        "[broker]",
        f"url = {toml_value(broker_url)}",
        "[executor]",
        f"lease_seconds = {lease_seconds}",
        f"sweep_interval_seconds = {sweep_interval}",
        "[channels.rss]",
        "enabled = false",
        "[channels.webhook]",
        "enabled = true",
        'secret_env = "PUBLISHER_TEST_WEBHOOK_SECRET"',
        f"lease_seconds = {lease_seconds}",
    ]
    for k, v in (webhook or {}).items():
        lines.append(f"{k} = {toml_value(v)}")
    for name, url in subscribers.items():
        lines += [
            "[[channels.webhook.subscribers]]",
            f"name = {toml_value(name)}",
            f"url = {toml_value(url)}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Proc:
    """A subprocess with its output in a log file."""

    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> Proc:
        self.starts += 1
        out = self.log.open("ab")
        out.write(f"\n===== start #{self.starts} {time.strftime('%X')} =====\n".encode())
        out.flush()
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def ready_count(self) -> int:
        """How many times a celery worker logged "<name> ready." into this log (once per start
        that got as far as consuming)."""
        try:
            return sum(
                1 for line in self.log.read_text(errors="replace").splitlines() if line.endswith(" ready.")
            )
        except OSError:
            return 0

    def tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def process_env(config: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    env.update(
        {
            "PUBLISHER_CONFIG": str(config),
            "PYTHONPATH": str(ROOT),
            "PUBLISHER_DISPATCH_STALE_SECONDS": "3",
            "PUBLISHER_HEARTBEAT_SECONDS": "6",
        }
    )
    env.update(extra or {})
    return env


def celery_worker(name: str, env: dict[str, str], log_dir: Path, *, concurrency: int = 12) -> Proc:
    argv = [
        CELERY,
        "-A",
        "tasks",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "info",
    ]
    return Proc(argv, env, log_dir / f"{name}.log")


def celery_beat(env: dict[str, str], log_dir: Path) -> Proc:
    argv = [CELERY, "-A", "tasks", "beat", "-s", str(log_dir / "beat-schedule"), "--pidfile=", "-l", "info"]
    return Proc(argv, env, log_dir / "beat.log")


@dataclass
class RedisServer:
    """A private redis-server without persistence: stopping it loses every queued message,
    the worst case for the broker path."""

    dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    # redis-server's persistence options (a subclass keeps an append-only file)
    persistence: ClassVar[tuple[str, ...]] = ("--appendonly", "no")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Self:
        log = (self.dir / f"redis-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + [*self.persistence, "--dir", str(self.dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(self.ping, 10, f"redis-server {' '.join(self.persistence)} did not start")
        return self

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)
