"""The WeChat Official Account channel (see channel.py; callback.py for pushes, broadcast.py
for the daily digest)."""

from channels.wechat.channel import WechatChannel, WechatSettings

__all__ = ["WechatChannel", "WechatSettings"]
