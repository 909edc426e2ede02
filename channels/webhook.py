"""The `webhook` channel: Standard Webhooks pushes to a subscriber endpoint.

Each configured subscriber is its own channel instance (`webhook.<name>`), with its own
queue, retry budget and breaker. `webhook-id` is the delivery key, stable across retries,
so receivers de-duplicate on it; every live secret signs, for key rotation.
Status mapping: 2xx delivered; 410 "disable me" pauses this subscription (held, ops told,
nothing dropped); 401/403 our signature is refused (config); 429/502/504, and a 503 with
Retry-After, slow down; other 4xx permanent; other 5xx and timeouts transient.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr

from channels import _http, signing
from channels.base import (
    Channel,
    ChannelConfigError,
    ChannelContext,
    ChannelSettings,
    Payload,
    RateLimitedError,
    Receipt,
)
from publisher.domain.item import ItemType, Operation, VersionView

EVENT_TYPES = {
    Operation.PUBLISH: "item.published",
    Operation.UPDATE: "item.updated",
    Operation.WITHDRAW: "item.withdrawn",
}


class WebhookSettings(ChannelSettings):
    url: str = Field(pattern=r"^https?://")
    # several whitespace-separated whsec_ secrets sign together during a rotation
    secret: SecretStr
    timeout_seconds: float = 10.0
    max_connections: int = 20


class WebhookChannel(Channel):
    kind: ClassVar[str] = "webhook"
    settings_model: ClassVar[type[ChannelSettings]] = WebhookSettings

    def __init__(
        self,
        settings: ChannelSettings,
        context: ChannelContext,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`transport` replaces the network (tests pass an `httpx.MockTransport`)."""
        super().__init__(settings, context)
        assert isinstance(settings, WebhookSettings)
        self.cfg = settings
        try:
            self._secrets = signing.parse_secrets(settings.secret.get_secret_value())
        except ValueError as exc:
            raise ChannelConfigError(f"webhook 密钥无效 / invalid webhook secret: {exc}") from None
        t = settings.timeout_seconds
        self._client = _http.make_client(
            timeout=httpx.Timeout(connect=min(5.0, t), read=t, write=t, pool=t),
            max_connections=settings.max_connections,
            transport=transport,
        )

    @classmethod
    def from_config(cls, section: Mapping[str, Any], context: ChannelContext) -> Channel:
        data = dict(section)
        if "secret" not in data:
            data["secret"] = context.resolve_secret(section, "secret") or context.secret("secret")
        data = {k: v for k, v in data.items() if not (k.endswith("_env") or k.endswith("_file"))}
        if not data.get("secret"):
            raise ChannelConfigError(
                "webhook 未配置密钥 / webhook subscriber has no secret (secret_env or secret_file)"
            )
        return cls(WebhookSettings.model_validate(data), context)

    def probe(self) -> str:
        """Live check: the subscriber's endpoint answers over HTTP (any status: a Standard
        Webhooks receiver takes only signed POSTs, and a probe must not post a fake event)."""
        response = _http.request(self._client, "HEAD", self.cfg.url)
        return f"端点可达（HTTP {response.status_code}）/ endpoint reachable (HTTP {response.status_code})"

    def render(self, version: VersionView, op: Operation) -> Payload:
        when = version.published_at or version.created_at
        data: dict[str, Any] = {
            "uid": version.uid,
            "version": version.version,
            "content_hash": version.content_hash,
            "type": version.type.value,
            "type_label": version.type_label,
            "title": version.title,
            "index_number": version.index_number,
            "doc_number": version.doc_number,
            "issuing_body": version.issuing_body,
            "issue_date": version.issue_date.isoformat(),
            "subject": version.subject,
            "validity": version.validity,
            "validity_changed_on": version.validity_changed_on.isoformat()
            if version.validity_changed_on
            else None,
            "abolished_by": version.abolished_by,
            "description": version.description,
            "keywords": list(version.keywords),
            "url": version.channel_urls.get("cms") or version.public_url,
            "public_url": version.public_url,
            "published_at": when.isoformat(),
            "interprets": version.interprets,
        }
        if version.type is ItemType.PROCUREMENT_RESULT or version.type is ItemType.FEE_CHANGE:
            data["structured"] = version.structured
        if op is Operation.WITHDRAW:
            data["withdraw_reason"] = version.withdraw_reason
        body = {"type": EVENT_TYPES[op], "timestamp": when.isoformat(), "data": data}
        return Payload(kind=self.kind, operation=op, uid=version.uid, version=version.version, body=body)

    def send(self, payload: Payload, *, key: str) -> Receipt:
        body = json.dumps(payload.body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = signing.signed_headers(self._secrets, key, int(time.time()), body)
        headers["Content-Type"] = "application/json"
        response = _http.request(self._client, "POST", self.cfg.url, content=body, headers=headers)
        SUBSCRIBER.raise_for(response, "webhook")
        return Receipt(
            external_id=key,
            url=None,
            http_status=response.status_code,
            response_excerpt=_http.excerpt(response) or None,
        )

    def close(self) -> None:
        self._client.close()


# Standard Webhooks: 410 asks the sender to switch the endpoint off (pause this subscription
# and tell ops, holding its deliveries rather than dropping them); 502 and 504 mean "slow
# down" (back off, honouring Retry-After).
SUBSCRIBER = _http.Classifier(
    overrides={410: ChannelConfigError, 502: RateLimitedError, 504: RateLimitedError},
    notes={
        410: "订阅方已停用该订阅 / subscriber endpoint is gone: subscription disabled",
        502: "接收方繁忙 / receiver asks to slow down",
        504: "接收方繁忙 / receiver asks to slow down",
    },
)
