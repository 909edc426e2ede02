"""The explicit registry of channel kinds. The core asks for adapters by kind name only.

Adapters are imported lazily so the core never imports a concrete adapter module.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from channels.base import Channel, ChannelContext

KINDS: dict[str, str] = {
    "rss": "channels.rss:RssChannel",
    "cms": "channels.cms:CmsChannel",
    "wechat": "channels.wechat:WechatChannel",
    "cityplatform": "channels.cityplatform:CityPlatformChannel",
    "webhook": "channels.webhook:WebhookChannel",
}


class UnknownChannelError(KeyError):
    pass


def channel_class(kind: str) -> type[Channel]:
    try:
        target = KINDS[kind]
    except KeyError:
        raise UnknownChannelError(kind) from None
    module_name, _, attr = target.partition(":")
    cls: type[Channel] = getattr(importlib.import_module(module_name), attr)
    return cls


def available(kind: str) -> bool:
    """Whether the adapter module for `kind` exists in this installation."""
    try:
        channel_class(kind)
    except (UnknownChannelError, ModuleNotFoundError):
        return False
    return True


def create(kind: str, section: Mapping[str, Any], context: ChannelContext) -> Channel:
    return channel_class(kind).from_config(section, context)


ALERT_SENDER = "channels.alerttargets:AlertSender"


def alert_sender(config: Mapping[str, Any]) -> Any:
    """The alert targets' sender (webhooks, SMTP) for the alert clock in publisher/alerting/."""
    module_name, _, attr = ALERT_SENDER.partition(":")
    return getattr(importlib.import_module(module_name), attr).from_config(config)
