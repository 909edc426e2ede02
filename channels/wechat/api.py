"""The WeChat API boundary: a wechatpy client made safe for a ledger-driven worker.

Why wechatpy==2.0.0a26, pinned exactly (pyproject.toml): the stable 1.8.18 has no draft or
freepublish API at all; 2.0.0a26 is the only release that has them. We still call the
endpoints through `client.post(path, data=…)` because two of its helpers are traps:
`draft.add` silently drops every article field beyond the basic eight, and
`freepublish.delete` defaults to `index=0`, which deletes *all* articles of a publish.

Three more things are switched off or redirected:
- `auto_retry=False`: wechatpy would retry 40001/40014/42001 without bound; here a rejected
  token is refreshed once (token.py: shared through the database, under a lease) and the call retried once, after which
  the ledger owns the retry;
- `API_BASE_URL` points at the configured base (the local stand-in in tests);
- `fetch_access_token()` is overridden because wechatpy hard-codes
  https://api.weixin.qq.com/cgi-bin/token there, which would leave a stand-in deployment
  fetching real tokens (or hanging on an unreachable host).

wechatpy speaks `requests`, not httpx, so its transport errors are mapped here rather than
in channels/_http.py; image fetching (our own outbound HTTP) still goes through _http.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from channels.base import ChannelError, SharedValues, TransientError
from channels.wechat.errors import TOKEN_CODES, classify, classify_http
from channels.wechat.token import SharedToken


class _TokenRejected(Exception):
    def __init__(self, errcode: int, errmsg: str, token: str) -> None:
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg
        self.token = token


class _Client(WeChatClient):  # type: ignore[misc]
    def __init__(self, appid: str, secret: str, api_base_url: str, timeout: tuple[float, float]) -> None:
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base_url
        self.shared: SharedToken | None = None

    def fetch_access_token(self) -> dict[str, Any]:
        result: dict[str, Any] = self._fetch_access_token(
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )
        return result

    @property
    def access_token(self) -> str:
        # Every call passes its token explicitly; this only keeps wechatpy from ever caching
        # a token of its own if a helper is called without one.
        if self.shared is None:
            raise RuntimeError("shared token not configured")
        return self.shared.get()


def _error_from(exc: WeChatClientException, what: str) -> ChannelError:
    if exc.errcode is None:
        response = exc.response
        status = response.status_code if response is not None else 0
        body = response.text if response is not None else ""
        if status:
            return classify_http(status, body, what=what)
        return TransientError(f"{what}: 微信无应答 / no response from WeChat")
    return classify(int(exc.errcode), str(exc.errmsg or ""), what=what)


class WechatApi:
    def __init__(
        self,
        *,
        appid: str,
        secret: str,
        api_base_url: str,
        shared: SharedValues,
        redis_url: str | None,
        key_prefix: str,
        timeout: tuple[float, float],
        token_margin: float = 300.0,
    ) -> None:
        base = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
        self.client = _Client(appid, secret, base, timeout)
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2) if redis_url else None
        self.tokens = SharedToken(
            shared,
            name=f"token:{appid}",
            fetch=self._fetch_token,
            margin=token_margin,
            redis_client=self._redis,
            redis_key=f"{key_prefix}:token:{appid}",
        )
        self.client.shared = self.tokens

    def _fetch_token(self) -> tuple[str, int]:
        try:
            result = self.client.fetch_access_token()
        except WeChatClientException as exc:
            raise _error_from(exc, "token") from exc
        except requests.Timeout as exc:
            raise TransientError("token: 超时 / timeout") from exc
        except requests.RequestException as exc:
            raise TransientError(f"token: 连接失败 / connection error: {type(exc).__name__}") from exc
        return str(result["access_token"]), int(result.get("expires_in", 7200))

    def _once(self, what: str, call: Callable[[str], Any]) -> dict[str, Any]:
        token = self.tokens.get()
        try:
            result = call(token)
        except WeChatClientException as exc:
            if exc.errcode is not None and int(exc.errcode) in TOKEN_CODES:
                raise _TokenRejected(int(exc.errcode), str(exc.errmsg), token) from exc
            raise _error_from(exc, what) from exc
        except requests.Timeout as exc:
            raise TransientError(f"{what}: 超时 / timeout") from exc
        except requests.RequestException as exc:
            raise TransientError(f"{what}: 连接失败 / connection error: {type(exc).__name__}") from exc
        if not isinstance(result, dict):
            # wechatpy hands back the raw response when the body is not JSON.
            text = getattr(result, "text", repr(result))
            raise TransientError(
                f"{what}: 微信返回非 JSON / non-JSON answer", response_excerpt=str(text)[:500]
            )
        return result

    def call(self, what: str, call: Callable[[str], Any]) -> dict[str, Any]:
        """Run one API call with the shared token; on 40001/40014/42001 refresh the token once
        and retry once (WeChat did nothing with a rejected token, so repeating is safe)."""
        try:
            return self._once(what, call)
        except _TokenRejected as first:
            self.tokens.refresh(stale=first.token)
            try:
                return self._once(what, call)
            except _TokenRejected as again:
                raise TransientError(
                    f"{what}: access_token 刷新后仍被拒绝 / token still rejected after refresh (errcode {again.errcode})",
                    provider_code=str(again.errcode),
                    response_excerpt=f"{again.errcode} {again.errmsg}"[:500],
                ) from first

    def post(self, what: str, path: str, data: dict[str, Any]) -> dict[str, Any]:
        return self.call(
            what, lambda token: self.client.post(path, params={"access_token": token}, data=data)
        )

    def upload(
        self, what: str, path: str, params: dict[str, str], filename: str, data: bytes, content_type: str
    ) -> dict[str, Any]:
        return self.call(
            what,
            lambda token: self.client.post(
                path,
                params={**params, "access_token": token},
                files={"media": (filename, data, content_type)},
            ),
        )

    def close(self) -> None:
        self.client._http.close()
        if self._redis is not None:
            self._redis.close()
