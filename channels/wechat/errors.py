"""WeChat errcodes → the classified channel errors.

WeChat reports most failures inside an HTTP 200 body as `errcode`
(https://developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html).
The table below is the one place that decides what each code means for the ledger.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from channels._http import Classifier
from channels.base import ChannelConfigError, ChannelError, PermanentError, RateLimitedError, TransientError

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Token problems: the adapter refreshes the shared token once and retries; a second failure
# is transient (the ledger retries later).
TOKEN_CODES = frozenset({40001, 40014, 42001})
# Daily API quota (45009) and broadcast quota (45028) reset at midnight Beijing time.
QUOTA_CODES = frozenset({45009, 45028})
# 45011: the per-minute frequency limit; WeChat asks callers to retry in the next minute.
MINUTE_LIMIT = 45011
TRANSIENT_CODES = frozenset({-1}) | TOKEN_CODES
CONFIG_CODES = frozenset({40002, 40013, 40125, 40164, 41002, 41004, 48001, 61023})

REASONS: dict[int, str] = {
    -1: "微信系统繁忙 / WeChat system busy",
    40001: "access_token 无效 / invalid access token",
    40002: "grant_type 不合法 / invalid grant_type",
    40004: "媒体文件类型不合法 / invalid media type",
    40005: "文件类型不合法 / invalid file type",
    40006: "文件大小不合法 / invalid file size",
    40007: "素材编号无效 / invalid media_id",
    40009: "图片大小不合法 / invalid image size",
    40013: "AppID 无效 / invalid appid",
    40014: "access_token 不合法 / invalid access token",
    40125: "AppSecret 无效 / invalid appsecret",
    40164: "调用 IP 不在白名单 / caller IP not whitelisted",
    41002: "缺少 AppID / appid missing",
    41004: "缺少 AppSecret / appsecret missing",
    42001: "access_token 已过期 / access token expired",
    45002: "正文超过长度限制 / content too long",
    45003: "标题超过长度限制 / title too long",
    45004: "摘要超过长度限制 / digest too long",
    45005: "原文链接超过长度限制 / source url too long",
    45008: "图文数量超过限制 / too many articles",
    45009: "接口调用超过每日限额 / daily API quota reached",
    45011: "接口调用过于频繁 / API called too often, retry next minute",
    45028: "今日群发次数已用完 / no broadcast quota left today",
    45110: "作者超过长度限制 / author too long",
    45166: "正文内容不合法 / invalid content",
    47001: "数据格式错误 / data format error",
    48001: "公众号未获得该接口权限 / API not authorised for this account",
    53503: "草稿未通过发布检查 / draft failed the publish check",
    53504: "须在公众平台使用该草稿 / draft must be used on the MP platform",
    53505: "须手动保存草稿后再发表 / save the draft manually before publishing",
    53600: "文章编号无效 / invalid article_id",
}


def seconds_until_quota_reset(now: datetime | None = None) -> float:
    """WeChat's daily quotas reset at midnight Asia/Shanghai."""
    current = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
    midnight = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (midnight - current).total_seconds())


def classify(
    errcode: int, errmsg: str = "", *, what: str = "wechat", now: datetime | None = None
) -> ChannelError:
    """The classified error for a non-zero errcode (unknown codes are permanent: WeChat said no)."""
    reason = REASONS.get(errcode, "微信拒绝请求 / WeChat rejected the request")
    message = f"{what}: {reason} (errcode {errcode})"
    code, excerpt = str(errcode), f"{errcode} {errmsg}"[:500]
    if errcode in QUOTA_CODES:
        return RateLimitedError(
            message, retry_after=seconds_until_quota_reset(now), provider_code=code, response_excerpt=excerpt
        )
    if errcode == MINUTE_LIMIT:
        return RateLimitedError(message, retry_after=60.0, provider_code=code, response_excerpt=excerpt)
    if errcode in TRANSIENT_CODES:
        return TransientError(message, provider_code=code, response_excerpt=excerpt)
    if errcode in CONFIG_CODES:
        return ChannelConfigError(message, provider_code=code, response_excerpt=excerpt)
    return PermanentError(message, provider_code=code, response_excerpt=excerpt)


# WeChat's gateways answer with an HTTP status under load; a 401/403 from WeChat's own API
# is our credentials (or our address not whitelisted). Content images never come here: they
# are fetched through the egress guard, whose answers never pause the channel.
WECHAT_HTTP = Classifier(
    hints={
        TransientError: "微信服务暂不可用 / server error",
        ChannelConfigError: "凭据被拒绝 / credentials rejected",
    },
    # WeChat's per-minute limits: try again in the next minute
    retry_after=60.0,
)


def classify_http(status: int, body: str, *, what: str = "wechat") -> ChannelError:
    """WeChat answering with a non-2xx status (its gateways do, under load)."""
    err = WECHAT_HTTP.error(status, what, body=body)
    return err if err is not None else PermanentError(f"{what}: 意外的应答 / unexpected answer ({status})")
