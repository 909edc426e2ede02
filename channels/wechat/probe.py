"""The WeChat channel's live check: can this appid/secret get an access token from
`api_base_url`?

It asks `stable_token` without `force_refresh`: unlike `token`, that returns the token
already in force instead of issuing a new one, so the check never knocks out the token the
workers share (a new `token` fetch invalidates the previous one five minutes later, and
counts against the 2,000 fetches a day; DOMAIN.md §4).
"""

from __future__ import annotations

import httpx

from channels._http import make_client, request
from channels.base import ChannelConfigError, PermanentError
from channels.wechat.errors import classify, classify_http


def probe_token(api_base_url: str, appid: str, secret: str | None, *, timeout: float = 10.0) -> str:
    if not appid or not secret:
        raise ChannelConfigError("未配置 appid 或 AppSecret / appid or secret not configured")
    body = {"grant_type": "client_credential", "appid": appid, "secret": secret, "force_refresh": False}
    with make_client(timeout=httpx.Timeout(timeout)) as client:
        response = request(client, "POST", f"{api_base_url.rstrip('/')}/stable_token", json=body)
    if response.status_code != 200:
        raise classify_http(response.status_code, response.text[:500], what="stable_token")
    try:
        data = response.json()
    except ValueError as exc:
        raise PermanentError("stable_token: 应答不是 JSON / not JSON", http_status=200) from exc
    errcode = int(data.get("errcode") or 0)
    if errcode:
        raise classify(errcode, str(data.get("errmsg", "")), what="stable_token")
    if not data.get("access_token"):
        raise PermanentError("stable_token: 应答缺少 access_token / no access_token in the answer")
    ttl = int(data.get("expires_in") or 0)
    return f"已取得 access_token（appid {appid}，{ttl} 秒内有效）/ access token fetched for {appid}, valid {ttl} s"
