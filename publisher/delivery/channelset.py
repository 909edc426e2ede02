"""The deployment's enabled channel adapters, built once per process by kind name through
the registry, so the core never imports a concrete adapter."""

from __future__ import annotations

import logging
import threading
from functools import partial
from typing import Any

from channels import registry
from channels.base import Channel, ChannelContext, ChannelError, Problem
from channels.egress import EgressSettings, egress_settings
from publisher.delivery.checkpoints import DbCheckpoints, DbValues
from publisher.domain.errors import FieldError
from publisher.domain.item import VersionView
from publisher.settings import ENGINE_KEYS, Settings, SettingsError, resolve_secret
from publisher.store.db import Database

log = logging.getLogger(__name__)


def _secret(section: dict[str, Any], name: str) -> str | None:
    return resolve_secret(section, name)


def adapter_section(section: dict[str, Any]) -> dict[str, Any]:
    """The keys of a channel section its adapter takes (the engine's stripped)."""
    return {k: v for k, v in section.items() if k not in ENGINE_KEYS}


class ChannelSet:
    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        """`db`: where adapters keep their progress and shared values (without one, as for a
        configuration probe, in this process's memory only)."""
        self.settings = settings
        self.db = db
        self._adapters: dict[str, Channel] = {}
        self._lock = threading.Lock()

    def context(self, name: str) -> ChannelContext:
        section = self.settings.channel(name)
        durable: dict[str, Any] = (
            {}
            if self.db is None
            else {"checkpoints": DbCheckpoints(self.db), "shared": DbValues(self.db, name)}
        )
        return ChannelContext(
            public_base_url=self.settings.public_base_url,
            data_dir=self.settings.data_dir / "channels" / name,
            agency_name=self.settings.agency.name,
            secret=partial(_secret, section),
            resolve_secret=resolve_secret,
            name=name,
            egress=self._egress(),
            **durable,
        )

    def _egress(self) -> EgressSettings:
        try:
            return egress_settings(self.settings.egress.model_dump())
        except ValueError as exc:
            raise SettingsError(str(exc)) from exc

    def get(self, kind: str) -> Channel:
        with self._lock:
            adapter = self._adapters.get(kind)
            if adapter is None:
                if kind not in self.settings.enabled_channels():
                    raise SettingsError(f"channel {kind!r} is not enabled")
                adapter = registry.create(
                    self.settings.kind_of(kind),
                    self.settings.section(kind).adapter_keys(),
                    self.context(kind),
                )
                self._adapters[kind] = adapter
            return adapter

    def preflight(self, view: VersionView, kinds: list[str]) -> list[FieldError]:
        """Every routed channel's check(); a channel that cannot be built is itself a problem."""
        out: list[FieldError] = []
        for kind in kinds:
            try:
                problems: list[Problem] = self.get(kind).check(view)
            except (
                SettingsError,
                ChannelError,
                ValueError,
                ImportError,
                registry.UnknownChannelError,
            ) as exc:
                out.append(FieldError(f"channels.{kind}", f"渠道配置有误 / channel misconfigured: {exc}"))
                continue
            out += [FieldError(f"channels.{kind}.{p.field}", p.message) for p in problems]
        return out

    def close(self) -> None:
        with self._lock:
            for adapter in self._adapters.values():
                try:
                    adapter.close()
                except Exception:  # closing is best effort at shutdown
                    log.exception("closing channel %s", adapter.kind)
            self._adapters.clear()
