"""Live checks of the enabled channels (`publisher config check --live`): each adapter that
implements channels.probe.Probing tries its credentials and reachability; nothing is sent.

A channel that cannot be built (a setting its adapter refuses) fails its check with that
message; one whose adapter has no probe is reported as not checked, never as fine.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels import registry
from channels.base import ChannelConfigError, ChannelError
from channels.probe import Probing
from publisher.delivery.channelset import ChannelSet
from publisher.settings import Settings, SettingsError


@dataclass(frozen=True)
class ChannelProbe:
    channel: str
    ok: bool | None  # None: this channel cannot be checked live
    message: str

    @property
    def verdict(self) -> str:
        return {True: "正常 / ok", False: "失败 / FAILED", None: "未检查 / not checked"}[self.ok]


def probe_channel(channels: ChannelSet, name: str) -> ChannelProbe:
    try:
        adapter = channels.get(name)
    except (SettingsError, ChannelError, ValueError, ImportError, registry.UnknownChannelError) as exc:
        return ChannelProbe(name, False, f"渠道无法建立 / cannot be built: {exc}")
    if not isinstance(adapter, Probing):
        return ChannelProbe(name, None, "该渠道不支持在线检查 / this channel has no live check")
    try:
        return ChannelProbe(name, True, adapter.probe())
    except ChannelConfigError as exc:
        return ChannelProbe(name, False, f"凭据或配置被拒绝 / credentials or settings refused: {exc.message}")
    except ChannelError as exc:
        return ChannelProbe(name, False, f"无法连通 / not reachable: {exc.message}")


def probe_channels(channels: ChannelSet, names: list[str]) -> list[ChannelProbe]:
    return [probe_channel(channels, name) for name in names]


def check_live(settings: Settings, names: list[str] | None = None) -> list[ChannelProbe]:
    """Every enabled channel's (or these channels') live check, with adapters built for it."""
    channels = ChannelSet(settings)
    try:
        return probe_channels(channels, names or settings.enabled_channels())
    finally:
        channels.close()
