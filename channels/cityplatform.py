"""The city platforms: signed catalogue-record pushes with asynchronous receipts.

The contract is ours (docs/cityplatform.openapi.yaml, prose in docs/cityplatform.md): one JSON
message per change (`create` / `update` / `revoke`), signed the Standard Webhooks way with
`webhook-id` = the delivery key, answered `202` with a receipt that later turns `accepted` or
`rejected`. Several targets share this kind, each taking some item types (the disclosure
platform everything disclosed, the trading platform procurement results): `send` pushes to
every target of the item's type and keeps each target's receipt id; `confirm` reads them all.

A retry after a partial failure re-sends to every target with the same key: targets that took
it already answer 409 with their original receipt, which counts as success.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from channels import signing
from channels._http import Classifier, excerpt, make_client, request
from channels.base import (
    Channel,
    ChannelConfigError,
    ChannelContext,
    ChannelError,
    ChannelSettings,
    Confirmation,
    CopyRef,
    Holding,
    Operation,
    Payload,
    PermanentError,
    Problem,
    RateLimitedError,
    Receipt,
    TransientError,
)
from publisher.domain.item import NATIONAL_INDEX, SHANGHAI_INDEX, Disclosure, ItemType, VersionView

__all__ = ["CityPlatformChannel", "CityPlatformSettings", "CityPlatformTarget", "classify"]

KIND = "cityplatform"

# Receiver answers -> error class (None: success). Anything unlisted: 2xx ok, 5xx transient,
# other 4xx permanent.
STATUS_TABLE: dict[int, type[ChannelError] | None] = {
    200: None,
    201: None,
    202: None,
    409: None,  # duplicate webhook-id: the body carries the original receipt
    400: PermanentError,
    401: ChannelConfigError,  # wrong secret, or our clock is off by more than 5 minutes
    403: ChannelConfigError,
    404: ChannelConfigError,  # wrong URL
    405: ChannelConfigError,
    408: TransientError,
    410: ChannelConfigError,  # Standard Webhooks: "disable this endpoint"
    413: PermanentError,
    415: PermanentError,
    422: PermanentError,
    429: RateLimitedError,
}

DISCLOSURES = (Disclosure.ACTIVE, Disclosure.ON_REQUEST)  # 不予公开 is never reported


PLATFORM = Classifier(overrides=STATUS_TABLE)


def classify(status: int, headers: Mapping[str, str] | None = None) -> type[ChannelError] | None:
    """channels/_http.py's table with the platform contract's statuses (STATUS_TABLE)."""
    return PLATFORM.classify(status, headers)


class CityPlatformTarget(BaseModel):
    """One receiving platform. `url` is its records endpoint (…/records); receipts are read
    from the sibling …/receipts/{id}."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)  # errors never echo a secret

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
    url: str = Field(pattern=r"^https?://\S+/records$", max_length=1000)
    # one whsec_ secret, or several separated by spaces while rotating keys
    secret: SecretStr
    types: list[ItemType] = Field(min_length=1)

    @field_validator("secret")
    @classmethod
    def _secret(cls, v: SecretStr) -> SecretStr:
        signing.parse_secrets(v.get_secret_value())
        return v

    @property
    def keys(self) -> list[bytes]:
        return signing.parse_secrets(self.secret.get_secret_value())

    @property
    def base_url(self) -> str:
        return self.url.removesuffix("/records")


class CityPlatformSettings(ChannelSettings):
    targets: list[CityPlatformTarget] = Field(default_factory=list)
    timeout_seconds: float = Field(default=20.0, gt=0, le=120)

    @model_validator(mode="after")
    def _unique_names(self) -> CityPlatformSettings:
        names = [t.name for t in self.targets]
        if len(names) != len(set(names)):
            raise ValueError("城市平台目标名称重复 / target names must be unique")
        return self


def _resolve_target_secret(raw: Mapping[str, Any], context: ChannelContext) -> str | None:
    """A target's secret from `secret_env` or `secret_file` (resolved by the deployment's
    settings, the one place that reads the environment); never written inline."""
    name = raw.get("name", "?")
    if raw.get("secret") not in (None, ""):
        raise ChannelConfigError(
            f"城市平台目标 {name} 的密钥不能写在配置文件中，请用 secret_env 或 secret_file / "
            "secret must not be written in the file: use secret_env or secret_file"
        )
    try:
        return context.resolve_secret(raw, "secret")
    except Exception as exc:  # the settings' SettingsError: an unreadable secret file
        raise ChannelConfigError(
            f"城市平台目标 {name} 的密钥无法读取 / cannot read its secret: {exc}"
        ) from exc


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _message_id(key: str) -> str:
    # webhook-id travels in a header: a key that is not printable ASCII is replaced by a
    # stable digest, so retries of the same delivery still share one id.
    if key and len(key) <= 200 and all(0x21 <= ord(c) <= 0x7E for c in key):
        return key
    return "k_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def _nothing_to_revoke(state: dict[str, Any]) -> bool:
    reasons = state.get("reasons")
    return (
        state.get("operation") == "revoke"
        and isinstance(reasons, list)
        and bool(reasons)
        and all(isinstance(r, dict) and r.get("code") == "unknown_record" for r in reasons)
    )


def _reasons_text(reasons: Any) -> str:
    if not isinstance(reasons, list):
        return ""
    parts = []
    for r in reasons:
        if isinstance(r, dict):
            fld = r.get("field")
            parts.append(f"{fld}: {r.get('message', '')}" if fld else str(r.get("message", "")))
    return "；".join(parts)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _not_json(target: CityPlatformTarget, response: httpx.Response, zh: str, en: str) -> TransientError:
    return TransientError(
        f"{target.name}: {zh}不是 JSON / {en} is not JSON",
        http_status=response.status_code,
        response_excerpt=excerpt(response),
    )


class CityPlatformChannel(Channel):
    kind: ClassVar[str] = KIND
    settings_model: ClassVar[type[ChannelSettings]] = CityPlatformSettings
    asynchronous: ClassVar[bool] = True

    def __init__(
        self,
        settings: ChannelSettings,
        context: ChannelContext,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`transport` replaces the network (`channels._http.make_client`; the classification
        tables pass an `httpx.MockTransport`)."""
        super().__init__(settings, context)
        assert isinstance(settings, CityPlatformSettings)
        self.cfg: CityPlatformSettings = settings
        self._transport = transport
        self._client: httpx.Client | None = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any], context: ChannelContext) -> Channel:
        """The base resolves top-level secrets only; each target has its own."""
        data = {k: v for k, v in section.items() if k != "targets"}
        targets = []
        for raw in section.get("targets") or []:
            target = {k: v for k, v in raw.items() if k not in ("secret_env", "secret_file", "secret")}
            secret = _resolve_target_secret(raw, context)
            if secret is not None:
                target["secret"] = secret
            targets.append(target)
        data["targets"] = targets
        return cls(cls.settings_model.model_validate(data), context)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            t = self.cfg.timeout_seconds
            self._client = make_client(
                timeout=httpx.Timeout(t, connect=min(5.0, t)), transport=self._transport
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def targets_for(self, item_type: str) -> list[CityPlatformTarget]:
        return [t for t in self.cfg.targets if item_type in t.types]

    # -- pre-flight and rendering (pure)

    def check(self, version: VersionView) -> list[Problem]:
        p: list[Problem] = []
        if not version.index_number:
            p.append(
                Problem(
                    "index_number",
                    "缺少索引号，城市平台要求索引号 / the city platform requires an index number",
                )
            )
        elif not (SHANGHAI_INDEX.match(version.index_number) or NATIONAL_INDEX.match(version.index_number)):
            p.append(Problem("index_number", "索引号格式不正确 / invalid index number"))
        if not version.title.strip():
            p.append(Problem("title", "缺少名称 / title required"))
        if not version.description.strip():
            p.append(
                Problem("description", "城市平台要求填写内容概述 / the city platform requires a description")
            )
        elif len(version.description) > 500:
            p.append(Problem("description", "内容概述不超过500字 / description at most 500 characters"))
        if not version.issuing_body.strip():
            p.append(Problem("issuing_body", "缺少发布机构 / issuing body required"))
        if not version.subject.strip():
            p.append(Problem("subject", "缺少主题分类 / subject class required"))
        if version.disclosure not in DISCLOSURES:
            p.append(
                Problem("disclosure", f"公开方式为“{version.disclosure}”的信息不能报送 / not disclosable")
            )
        if not version.public_url.startswith(("http://", "https://")):
            p.append(Problem("public_url", "正文地址须为 http(s) 地址 / the body URL must be http(s)"))
        s = version.structured
        if version.type is ItemType.FEE_CHANGE and not (
            s.get("catalogue") and s.get("effective_date") and s.get("changes")
        ):
            p.append(
                Problem(
                    "changes",
                    "收费目录调整须有目录、执行日期和变动项目 / catalogue, date and changes required",
                )
            )
        if version.type is ItemType.PROCUREMENT_RESULT and not s.get("procurement"):
            p.append(Problem("procurement", "采购结果须填写项目信息 / procurement details required"))
        if version.type is ItemType.CONSULTATION and not s.get("consultation"):
            p.append(Problem("consultation", "征求意见须填写起止日期 / open and close dates required"))
        if not self.targets_for(version.type.value):
            p.append(
                Problem(
                    "type", f"没有城市平台目标接收“{version.type_label}” / no target takes this item type"
                )
            )
        return p

    def render(self, version: VersionView, op: Operation) -> Payload:
        body: dict[str, Any]
        if op is Operation.WITHDRAW:
            body = {
                "operation": "revoke",
                "index_number": version.index_number,
                "source_id": version.uid,
                "version": version.version,
                "item_type": version.type.value,
                "reason": (version.withdraw_reason or "").strip()[:2000] or "已撤回 / withdrawn",
            }
        else:
            body = {
                "operation": "create" if op is Operation.PUBLISH else "update",
                "record": self.record(version),
            }
        return Payload(kind=KIND, operation=op, uid=version.uid, version=version.version, body=body)

    @staticmethod
    def record(version: VersionView) -> dict[str, Any]:
        """The catalogue record of one version (the contract's CatalogueRecord)."""
        rec: dict[str, Any] = {
            "index_number": version.index_number,
            "source_id": version.uid,
            "version": version.version,
            "item_type": version.type.value,
            "title": version.title,
            "description": version.description,
            "issue_date": version.issue_date.isoformat(),
            "published_at": version.published_at.isoformat() if version.published_at else None,
            "issuing_body": version.issuing_body,
            "doc_number": version.doc_number,
            "subject": version.subject,
            "disclosure": version.disclosure,
            "scope": version.scope,
            "validity": version.validity,
            "validity_changed_on": _iso(version.validity_changed_on),
            "abolished_by": version.abolished_by,
            "keywords": list(version.keywords),
            "url": version.public_url,
            "attachments": [{"title": a["title"], "url": a["url"]} for a in version.attachments],
            "interprets": version.interprets,
        }
        s = version.structured
        if version.type is ItemType.FEE_CHANGE and s.get("changes"):
            rec["fee_change"] = {
                "catalogue": s.get("catalogue"),
                "effective_date": _iso(s.get("effective_date")),
                "changes": [
                    {k: row.get(k) for k in ("action", "item", "department", "old_standard", "new_standard")}
                    for row in s["changes"]
                ],
            }
        proc = s.get("procurement")
        if version.type is ItemType.PROCUREMENT_RESULT and proc:
            rec["procurement"] = {
                "project_number": proc.get("project_number"),
                "project_name": proc.get("project_name"),
                "purchaser": proc.get("purchaser"),
                "supplier": proc.get("supplier"),
                "amount_yuan": None if proc.get("amount_yuan") is None else str(proc["amount_yuan"]),
                "award_date": _iso(proc.get("award_date")),
                "method": proc.get("method"),
            }
        cons = s.get("consultation")
        if version.type is ItemType.CONSULTATION and cons:
            rec["consultation"] = {"opens": _iso(cons.get("opens")), "closes": _iso(cons.get("closes"))}
        return rec

    # -- remote

    def send(self, payload: Payload, *, key: str) -> Receipt:
        body = payload.body
        item_type = str((body.get("record") or body)["item_type"])
        index_number = str((body.get("record") or body)["index_number"])
        targets = self.targets_for(item_type)
        if not targets:
            raise PermanentError(f"没有城市平台目标接收 {item_type} / no target takes this item type")
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        msg_id = _message_id(key)
        receipts: dict[str, str] = {}
        errors: list[ChannelError] = []
        last: httpx.Response | None = None
        for target in targets:
            try:
                receipts[target.name], last = self._push(target, msg_id, raw)
            except ChannelError as exc:
                errors.append(exc)
        if errors:
            # the most serious failure decides what the ledger does with the whole delivery;
            # targets that took it answer a retry with 409 and their original receipt
            rank = (ChannelConfigError, PermanentError, RateLimitedError, TransientError)
            raise min(errors, key=lambda e: next(i for i, cls in enumerate(rank) if isinstance(e, cls)))
        return Receipt(
            external_id=index_number,
            accepted=True,
            data=receipts,
            http_status=last.status_code if last is not None else None,
            response_excerpt=excerpt(last) if last is not None else None,
        )

    def _headers(self, target: CityPlatformTarget, msg_id: str, content: bytes) -> dict[str, str]:
        return signing.signed_headers(target.keys, msg_id, int(time.time()), content)

    def _push(self, target: CityPlatformTarget, msg_id: str, raw: bytes) -> tuple[str, httpx.Response]:
        headers = {**self._headers(target, msg_id, raw), "Content-Type": "application/json"}
        response = request(self.client, "POST", target.url, content=raw, headers=headers)
        self._raise_for(target, response, "报送 / push")
        data = _json(response)
        receipt = data.get("receipt") if response.status_code == 409 and isinstance(data, dict) else data
        receipt_id = receipt.get("receipt_id") if isinstance(receipt, dict) else None
        if not isinstance(receipt_id, str) or not receipt_id:
            raise PermanentError(
                f"{target.name}: 平台未返回回执号 / no receipt id in the answer",
                http_status=response.status_code,
                response_excerpt=excerpt(response),
            )
        return receipt_id, response

    @staticmethod
    def _raise_for(target: CityPlatformTarget, response: httpx.Response, what: str) -> None:
        status = response.status_code
        error = classify(status, response.headers)
        if error is None:
            return
        data = _json(response)
        code = data.get("code") if isinstance(data, dict) else None
        detail = data.get("message", "") if isinstance(data, dict) else ""
        reasons = _reasons_text(data.get("details")) if isinstance(data, dict) else ""
        text = f"{target.name} {what}: {detail or status}"
        if reasons:
            text += f"（{reasons}）"
        raise PLATFORM.make(
            error,
            text[:500],
            status=status,
            headers=response.headers,
            provider_code=str(code) if code else None,
            response_excerpt=excerpt(response),
        )

    def confirm(self, receipt: Receipt) -> Confirmation | None:
        """Every target's receipt: all accepted -> delivered; any rejected -> failed with the
        platform's reasons; otherwise still pending (also when a platform is briefly down).
        Bad credentials raise ChannelConfigError."""
        states: dict[str, Any] = {}
        rejected: list[str] = []
        pending = False
        by_name = {t.name: t for t in self.cfg.targets}
        for name, receipt_id in receipt.data.items():
            target = by_name.get(name)
            if target is None:
                rejected.append(f"{name}: 该目标已不在配置中 / target no longer configured")
                continue
            try:
                state = self._receipt(target, str(receipt_id))
            except TransientError:
                pending = True
                continue
            except PermanentError as exc:
                rejected.append(f"{name}: {exc.message}")
                continue
            states[name] = state
            if state.get("status") == "rejected" and _nothing_to_revoke(state):
                continue  # a revoke of a record the platform never held: already not shown there
            if state.get("status") == "rejected":
                reasons = _reasons_text(state.get("reasons")) or "未说明原因 / no reason given"
                rejected.append(f"{name} 退回 / rejected: {reasons}")
            elif state.get("status") != "accepted":
                pending = True
        if rejected:
            return Confirmation(delivered=False, error="；".join(rejected)[:2000], data=states)
        if pending:
            return None
        return Confirmation(delivered=True, data=states)

    # -- reconciliation

    INVENTORY_PAGE = 1000  # the contract's largest page

    def probe(self) -> str:
        """Live check: each target's records endpoint answers a signed read (GET /records?limit=1),
        which proves the address and the shared secret."""
        if not self.cfg.targets:
            raise ChannelConfigError("未配置城市平台目标 / no targets configured")
        found = []
        for target in self.cfg.targets:
            headers = self._headers(target, "probe_" + uuid.uuid4().hex, b"")
            response = request(self.client, "GET", target.url, params={"limit": 1}, headers=headers)
            status = response.status_code
            if status in (401, 403):
                raise ChannelConfigError(
                    f"目标 {target.name}：签名被拒绝，密钥不符 / {target.name}: signature refused ({status})",
                    http_status=status,
                    response_excerpt=excerpt(response),
                )
            if status != 200:
                error = classify(status) or PermanentError
                raise (TransientError if issubclass(error, TransientError) else error)(
                    f"目标 {target.name}：应答 {status} / {target.name}: answered {status}",
                    http_status=status,
                    response_excerpt=excerpt(response),
                )
            total = (_json(response) or {}).get("total")
            found.append(f"{target.name}: {total}")
        listed = ", ".join(found)
        return (
            f"各目标签名读取成功（已收录 {listed}）/ signed read accepted by every target (records: {listed})"
        )

    def inventory(self) -> Iterable[Holding]:
        """Every record on every target (GET …/records, signed like every read). A record is
        live unless revoked. An item held alike by every target that takes its type is one
        holding; targets that disagree (version, validity, revoked or not) yield one holding
        each, so the comparison sees the difference."""
        by_uid: dict[str, dict[str, Holding]] = {}
        types: dict[str, str] = {}
        for target in self.cfg.targets:
            for rec in self._records(target):
                raw = rec.get("record")
                body: dict[str, Any] = raw if isinstance(raw, dict) else {}
                uid = str(body.get("source_id") or "")
                if not uid:
                    continue
                by_uid.setdefault(uid, {})[target.name] = _record_holding(target, rec)
                types[uid] = str(body.get("item_type") or "")
        holdings: list[Holding] = []
        for uid, held in by_uid.items():
            holdings.extend(self._merged(uid, types[uid], held))
        return holdings

    def _merged(self, uid: str, item_type: str, held: Mapping[str, Holding]) -> list[Holding]:
        wanted = {t.name for t in self.targets_for(item_type)}
        views = {(h.live, h.version, h.validity) for h in held.values()}
        if len(views) == 1 and wanted <= set(held):
            first = next(iter(held.values()))
            return [replace(first, external_id=",".join(h.external_id or "" for h in held.values()))]
        return list(held.values())

    def inspect(self, ref: CopyRef) -> Holding | None:
        """The item's record on every target that takes its type (GET …/records/{索引号},
        signed like every read), merged as `inventory` merges them: one holding when the
        targets agree; when they do not, the first that is missing or differs. None: no
        target has the record."""
        if not ref.external_id:
            return None
        targets = self.targets_for(ref.item_type) if ref.item_type else list(self.cfg.targets)
        held: dict[str, Holding] = {}
        for target in targets:
            response = self._read(target, f"{target.url.rstrip('/')}/{quote(ref.external_id, safe='')}")
            if response.status_code == 404:
                continue
            self._raise_for(target, response, "记录查询 / read record")
            rec = _json(response)
            if not isinstance(rec, dict):
                raise _not_json(target, response, "记录", "record")
            held[target.name] = replace(_record_holding(target, rec), uid=ref.uid)
        if not held or len(held) < len(targets):
            return None  # a target that should hold it does not
        merged = self._merged(ref.uid, ref.item_type or "", held)
        # targets that disagree: the worst of them (revoked, then the oldest version)
        return min(merged, key=lambda h: (h.live, h.version or 0))

    def _records(self, target: CityPlatformTarget) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            response = self._read(target, target.url, limit=str(self.INVENTORY_PAGE), offset=str(offset))
            self._raise_for(target, response, "目录查询 / list records")
            data = _json(response)
            page = data.get("records") if isinstance(data, dict) else None
            if not isinstance(page, list):
                raise _not_json(target, response, "目录", "record list")
            out.extend(r for r in page if isinstance(r, dict))
            total = data.get("total") if isinstance(data, dict) else None
            offset += len(page)
            if not page or not isinstance(total, int) or offset >= total:
                return out

    def _receipt(self, target: CityPlatformTarget, receipt_id: str) -> dict[str, Any]:
        response = self._read(target, f"{target.base_url}/receipts/{receipt_id}")
        if response.status_code == 404:
            raise PermanentError(
                f"{target.name}: 回执 {receipt_id} 不存在 / receipt not found",
                http_status=404,
                response_excerpt=excerpt(response),
            )
        self._raise_for(target, response, "回执查询 / receipt")
        data = _json(response)
        if not isinstance(data, dict):
            raise _not_json(target, response, "回执", "receipt")
        return data

    def _read(self, target: CityPlatformTarget, url: str, **params: str) -> httpx.Response:
        """A GET of the platform's, signed over an empty body with a fresh id (reads are not
        de-duplicated); the status is the caller's to classify."""
        headers = self._headers(target, "read_" + uuid.uuid4().hex, b"")
        return request(self.client, "GET", url, headers=headers, params=params or None)


def _record_holding(target: CityPlatformTarget, rec: Mapping[str, Any]) -> Holding:
    """One record of one target as a holding: live unless revoked."""
    raw = rec.get("record")
    body: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    live = rec.get("status") != "revoked"
    version = rec.get("version")
    validity = body.get("validity") if live else None
    return Holding(
        uid=str(body.get("source_id") or ""),
        version=int(version) if isinstance(version, int) else None,
        validity=str(validity) if validity else None,
        live=live,
        external_id=f"{target.name}:{rec.get('index_number')}",
        url=str(body.get("url") or "") or None,
        status=None if live else f"已撤销 / revoked: {rec.get('revoke_reason') or ''}".strip(),
    )
