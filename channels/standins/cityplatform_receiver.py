"""LOCAL REFERENCE RECEIVER for the city platform contract (docs/cityplatform.openapi.yaml).

Not the real city-wide disclosure platform: an executable specification of the receiving side,
strict on purpose, for tests, demos and the platform's own developers.

* every request is checked against the OpenAPI document (header/query/path parameters and the
  JSON body, with jsonschema) and against its Standard Webhooks signature;
* timestamps older or newer than 5 minutes are refused; POSTs are de-duplicated on
  `webhook-id` (a repeat answers 409 with the original receipt and is not processed again);
* intake is asynchronous: a receipt starts `processing` and turns `accepted` or `rejected`
  after `delay` seconds, when the business rules run (revoking an unknown record, an index
  number claimed by another item, updating a revoked record, ...);
* accepted records are stored (SQLite, a file or memory): one row per index number, latest
  version wins, revoked records stay listed as revoked; `/` shows them (Chinese);
* `/_admin/faults` makes it reject every record, or answer 503/429 for a while;
  `/_admin/state` shows (GET) or clears (DELETE) everything; `POST /_admin/records/{索引号}/revoke`
  revokes a record as the platform itself would. Admin endpoints are unauthenticated:
  bind to 127.0.0.1 only.

Run: python -m channels.standins.cityplatform_receiver --port 8102 --secret-file var/city.secret
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html
import json
import logging
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from channels import signing

BANNER = "LOCAL REFERENCE RECEIVER — 本地参考接收端，并非真实的市政务公开平台 / not the real city platform"
SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "cityplatform.openapi.yaml"
SPEC_URI = "urn:publisher:cityplatform-openapi"
MAX_BODY = 1024 * 1024

log = logging.getLogger("cityplatform_receiver")

Reason = dict[str, Any]


def reason(code: str, message: str, fld: str | None = None) -> Reason:
    return {"code": code, "field": fld, "message": message}


def _now_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- contract


_SCHEMA_MESSAGES = {
    "minLength": "不能为空或过短 / too short or empty",
    "maxLength": "过长 / too long",
    "pattern": "格式不正确 / invalid format",
    "enum": "取值不在允许范围 / not one of the allowed values",
    "const": "取值不正确 / wrong value",
    "type": "类型不正确 / wrong type",
    "format": "格式不正确 / invalid format",
    "minimum": "数值过小 / too small",
    "minItems": "条目过少 / too few entries",
    "maxItems": "条目过多 / too many entries",
    "additionalProperties": "不允许的字段 / unknown field",
    "not": "该类别的信息不应包含此字段 / not allowed for this item type",
    "oneOf": "报文结构不正确 / matches none of the message shapes",
}


def _pointer(path: Sequence[Any]) -> str:
    return "".join(f"/{p}" for p in path) or "/"


class Contract:
    """The OpenAPI document, loaded once, as request validators."""

    def __init__(self, spec_path: Path = SPEC_PATH) -> None:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self.document: dict[str, Any] = yaml.load(spec_path.read_text(encoding="utf-8"), Loader=loader)
        resource: Resource[Any] = DRAFT202012.create_resource(self.document)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._validators: dict[str, Draft202012Validator] = {}

    def _resolve(self, node: Mapping[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return dict(node)
        target: Any = self.document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return dict(target)

    def validator(self, ref: str) -> Draft202012Validator:
        if ref not in self._validators:
            self._validators[ref] = Draft202012Validator(
                {"$ref": SPEC_URI + ref}, registry=self._registry, format_checker=FormatChecker()
            )
        return self._validators[ref]

    def operation(self, path: str, method: str) -> dict[str, Any]:
        return dict(self.document["paths"][path][method])

    def parameter_problems(
        self,
        path: str,
        method: str,
        *,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        path_params: Mapping[str, str],
    ) -> tuple[list[Reason], list[Reason]]:
        """(header problems, other problems): headers concern authentication (401), the rest
        is a bad request (400)."""
        auth: list[Reason] = []
        other: list[Reason] = []
        sources = {"header": headers, "query": query, "path": path_params}
        declared: set[str] = set()
        for raw in self.operation(path, method).get("parameters", []):
            param = self._resolve(raw)
            where, name = param["in"], param["name"]
            out = auth if where == "header" else other
            if where == "query":
                declared.add(name)
            value = sources[where].get(name)
            if value is None:
                if param.get("required"):
                    out.append(
                        reason("required", f"缺少参数 {name} / missing {where} parameter {name}", name)
                    )
                continue
            schema = param["schema"]
            ref = schema["$ref"] if "$ref" in schema else None
            validator = (
                self.validator(ref) if ref else Draft202012Validator(schema, format_checker=FormatChecker())
            )
            if not validator.is_valid(value):
                out.append(
                    reason("invalid", f"参数 {name} 格式不正确 / invalid {where} parameter {name}", name)
                )
        for name in query:
            if name not in declared:
                other.append(
                    reason("unknown", f"未定义的查询参数 {name} / unknown query parameter {name}", name)
                )
        return auth, other

    def body_problems(self, path: str, method: str, body: Any) -> list[Reason]:
        """Every violation of the operation's request body schema, with JSON pointers. A
        oneOf with a discriminator is narrowed first, so errors name fields, not shapes."""
        schema = self.operation(path, method)["requestBody"]["content"]["application/json"]["schema"]
        ref: str = schema["$ref"]
        target = self._resolve(schema)
        disc = target.get("discriminator")
        if disc and isinstance(body, dict):
            mapped = disc.get("mapping", {}).get(body.get(disc["propertyName"]))
            if isinstance(mapped, str):
                ref = mapped
        errors = sorted(self.validator(ref).iter_errors(body), key=lambda e: list(e.absolute_path))
        out: dict[tuple[str | None, str], Reason] = {}
        for err in errors:
            r = self._reason(err)
            # one reason per field: an empty title breaks minLength and the non-blank pattern
            if r["code"] == "unknown_field" or not any(f == r["field"] for f, _c in out):
                out.setdefault((r["field"], r["code"]), r)
        return list(out.values())

    @staticmethod
    def _reason(err: SchemaError) -> Reason:
        path = list(err.absolute_path)
        declared: Any = err.validator_value
        if err.validator == "required":
            missing = [p for p in declared if isinstance(err.instance, dict) and p not in err.instance]
            name = missing[0] if missing else "?"
            return reason(
                "required", f"缺少必填字段 {name} / required field missing", _pointer([*path, name])
            )
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            schema: Any = err.schema
            allowed = set(schema.get("properties", {}))
            extra = sorted(k for k in err.instance if k not in allowed)
            return reason(
                "unknown_field", "不允许的字段 / unknown field: " + ", ".join(extra), _pointer(path)
            )
        if err.validator == "not":
            # the if/then/else "not required" branch: the field belongs to another item type
            forbidden = declared.get("required", []) if isinstance(declared, dict) else []
            return reason("not_allowed", _SCHEMA_MESSAGES["not"], _pointer([*path, *forbidden[:1]]))
        message = _SCHEMA_MESSAGES.get(str(err.validator), f"取值无效 / invalid value ({err.message[:200]})")
        return reason(str(err.validator), message, _pointer(path))


@functools.lru_cache(maxsize=4)
def load_contract(spec_path: Path = SPEC_PATH) -> Contract:
    """Parsing the document takes a while; receivers started in one process share it."""
    return Contract(spec_path)


# --------------------------------------------------------------------------- store


_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS receipts (
    receipt_id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    operation TEXT NOT NULL,
    index_number TEXT NOT NULL,
    version INTEGER,
    message TEXT NOT NULL,
    received_at REAL NOT NULL,
    due_at REAL NOT NULL,
    decided_at REAL,
    reasons TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS receipts_due ON receipts (status, due_at);
CREATE TABLE IF NOT EXISTS records (
    index_number TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    item_type TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    record TEXT NOT NULL,
    receipt_id TEXT NOT NULL,
    updated_at REAL NOT NULL,
    revoked_at REAL,
    revoke_reason TEXT
);
"""


@dataclass
class Faults:
    """Admin fault switches. Times are absolute (time.time())."""

    reject: bool = False
    reject_reason: str = "平台退回（故障注入）/ rejected by the admin fault switch"
    unavailable_until: float = 0.0
    rate_limited_until: float = 0.0
    retry_after: int = 1

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "reject": self.reject,
            "reject_reason": self.reject_reason,
            "unavailable_for": max(0.0, round(self.unavailable_until - now, 3)),
            "rate_limited_for": max(0.0, round(self.rate_limited_until - now, 3)),
            "retry_after": self.retry_after,
        }


@dataclass
class ReceiverConfig:
    secrets: list[bytes]
    db_path: str = ":memory:"
    delay: float = 1.0
    # None: every item type; else the types this platform takes (e.g. the trading platform)
    accept_types: frozenset[str] | None = None
    name: str = "市政务公开平台（本地参考接收端）"
    tolerance: int = signing.DEFAULT_TOLERANCE
    spec_path: Path = SPEC_PATH
    clock: Callable[[], float] = field(default=time.time)


class Receiver:
    """Store, rules and asynchronous processing; the HTTP layer is `create_app` below."""

    def __init__(self, config: ReceiverConfig) -> None:
        self.config = config
        self.contract = load_contract(config.spec_path)
        self.faults = Faults()
        self._lock = threading.RLock()
        self._db = sqlite3.connect(config.db_path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(_SCHEMA_SQL)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="cityplatform-receiver", daemon=True)
        self._worker.start()

    # -- receipts

    def receipt_json(self, row: sqlite3.Row) -> dict[str, Any]:
        return {
            "receipt_id": row["receipt_id"],
            "message_id": row["message_id"],
            "status": row["status"],
            "operation": row["operation"],
            "index_number": row["index_number"],
            "version": row["version"],
            "received_at": _now_iso(row["received_at"]),
            "decided_at": _now_iso(row["decided_at"]) if row["decided_at"] is not None else None,
            "reasons": json.loads(row["reasons"]),
        }

    def receipt_for_message(self, message_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM receipts WHERE message_id = ?", (message_id,)).fetchone()
        return self.receipt_json(row) if row else None

    def receipt(self, receipt_id: str) -> dict[str, Any] | None:
        self.process_due()
        with self._lock:
            row = self._db.execute("SELECT * FROM receipts WHERE receipt_id = ?", (receipt_id,)).fetchone()
        return self.receipt_json(row) if row else None

    def take(self, message_id: str, message: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store a new receipt for a validated message; (receipt, created). A message id seen
        before returns the original receipt and created=False."""
        now = self.config.clock()
        record = message.get("record", message)
        receipt_id = "rcpt_" + uuid.uuid4().hex
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO receipts (receipt_id, message_id, status, operation, index_number, version,"
                    " message, received_at, due_at) VALUES (?, ?, 'processing', ?, ?, ?, ?, ?, ?)",
                    (
                        receipt_id,
                        message_id,
                        message["operation"],
                        record["index_number"],
                        record["version"],
                        json.dumps(message, ensure_ascii=False),
                        now,
                        now + self.config.delay,
                    ),
                )
            except sqlite3.IntegrityError:
                existing = self.receipt_for_message(message_id)
                assert existing is not None
                return existing, False
            row = self._db.execute("SELECT * FROM receipts WHERE receipt_id = ?", (receipt_id,)).fetchone()
        self._wake.set()
        return self.receipt_json(row), True

    # -- processing

    def _work(self) -> None:
        while not self._stop.is_set():
            self.process_due()
            self._wake.wait(timeout=min(0.05, max(self.config.delay / 4, 0.01)))
            self._wake.clear()

    def process_due(self) -> None:
        now = self.config.clock()
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM receipts WHERE status = 'processing' AND due_at <= ? ORDER BY received_at, rowid",
                (now,),
            ).fetchall()
            for row in rows:
                status, reasons = self._decide(row, now)
                self._db.execute(
                    "UPDATE receipts SET status = ?, reasons = ?, decided_at = ? WHERE receipt_id = ?",
                    (status, json.dumps(reasons, ensure_ascii=False), now, row["receipt_id"]),
                )
                log.info(
                    "receipt %s %s %s %s: %s",
                    row["receipt_id"],
                    row["operation"],
                    row["index_number"],
                    status,
                    "; ".join(r["message"] for r in reasons) or "-",
                )

    def _decide(self, row: sqlite3.Row, now: float) -> tuple[str, list[Reason]]:
        """Apply one message's business rules; writes the record when accepted."""
        message = json.loads(row["message"])
        op = message["operation"]
        record = message.get("record", message)
        index_number, source_id = record["index_number"], record["source_id"]
        if self.faults.reject:
            return "rejected", [reason("fault", self.faults.reject_reason)]
        types = self.config.accept_types
        if types is not None and record["item_type"] not in types:
            return "rejected", [
                reason(
                    "type_not_accepted",
                    f"本平台不收录该类别信息（{record['item_type']}）/ this platform does not take this item type",
                    "/record/item_type" if op != "revoke" else "/item_type",
                )
            ]
        held = self._db.execute("SELECT * FROM records WHERE index_number = ?", (index_number,)).fetchone()
        if held is not None and held["source_id"] != source_id:
            return "rejected", [
                reason(
                    "index_conflict",
                    "该索引号已被其他信息使用 / the index number belongs to another item",
                    "/record/index_number" if op != "revoke" else "/index_number",
                )
            ]
        if op == "revoke":
            if held is None:
                return "rejected", [
                    reason(
                        "unknown_record",
                        "撤销的信息不存在 / no record with this index number",
                        "/index_number",
                    )
                ]
            if held["status"] == "revoked":
                return "accepted", [reason("already_revoked", "该信息此前已撤销 / already revoked")]
            self._db.execute(
                "UPDATE records SET status = 'revoked', revoked_at = ?, revoke_reason = ?, receipt_id = ?,"
                " updated_at = ?, version = MAX(version, ?) WHERE index_number = ?",
                (now, message["reason"], row["receipt_id"], now, message["version"], index_number),
            )
            return "accepted", []
        other = self._db.execute(
            "SELECT index_number FROM records WHERE source_id = ? AND index_number <> ?",
            (source_id, index_number),
        ).fetchone()
        if other is not None:
            return "rejected", [
                reason(
                    "index_changed",
                    f"同一信息的索引号不得变更（已收录为 {other['index_number']}）/ an item's index number never changes",
                    "/record/index_number",
                )
            ]
        consultation = record.get("consultation")
        if consultation and consultation["closes"] < consultation["opens"]:
            return "rejected", [
                reason(
                    "invalid_period",
                    "征求意见截止日期早于开始日期 / closes before it opens",
                    "/record/consultation",
                )
            ]
        if held is not None and held["status"] == "revoked":
            return "rejected", [
                reason("revoked", "该信息已撤销，不能再更新 / the record was revoked", "/record")
            ]
        if held is not None and record["version"] < held["version"]:
            return "accepted", [
                reason(
                    "stale_version",
                    f"已收录更高版本（{held['version']}），本版本未覆盖 / a newer version is held",
                )
            ]
        self._db.execute(
            "INSERT INTO records (index_number, source_id, item_type, status, version, record, receipt_id,"
            " updated_at) VALUES (?, ?, ?, 'active', ?, ?, ?, ?)"
            " ON CONFLICT (index_number) DO UPDATE SET item_type = excluded.item_type,"
            " version = excluded.version, record = excluded.record, receipt_id = excluded.receipt_id,"
            " updated_at = excluded.updated_at",
            (
                index_number,
                source_id,
                record["item_type"],
                record["version"],
                json.dumps(record, ensure_ascii=False),
                row["receipt_id"],
                now,
            ),
        )
        return "accepted", []

    # -- records

    @staticmethod
    def record_json(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "index_number": row["index_number"],
            "status": row["status"],
            "version": row["version"],
            "record": json.loads(row["record"]),
            "receipt_id": row["receipt_id"],
            "updated_at": _now_iso(row["updated_at"]),
            "revoked_at": _now_iso(row["revoked_at"]) if row["revoked_at"] is not None else None,
            "revoke_reason": row["revoke_reason"],
        }

    def record(self, index_number: str) -> dict[str, Any] | None:
        self.process_due()
        with self._lock:
            row = self._db.execute("SELECT * FROM records WHERE index_number = ?", (index_number,)).fetchone()
        return self.record_json(row) if row else None

    def records(
        self, *, item_type: str | None = None, status: str | None = None, limit: int = 1000, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        self.process_due()
        where, args = [], []
        if item_type:
            where.append("item_type = ?")
            args.append(item_type)
        if status:
            where.append("status = ?")
            args.append(status)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM records" + clause, args).fetchone()[0]
            rows = self._db.execute(
                "SELECT * FROM records" + clause + " ORDER BY updated_at DESC, index_number LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [self.record_json(r) for r in rows], int(total)

    def receipts(self, limit: int = 1000) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM receipts ORDER BY received_at DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [self.receipt_json(r) for r in rows]

    def platform_revoke(self, index_number: str, reason: str) -> bool:
        """The platform revokes a record on its own (a fault for post-publication inspection:
        not a message of ours). False when there is no such live record."""
        now = self.config.clock()
        with self._lock:
            cur = self._db.execute(
                "UPDATE records SET status = 'revoked', revoked_at = ?, revoke_reason = ?, updated_at = ?"
                " WHERE index_number = ? AND status <> 'revoked'",
                (now, reason, now, index_number),
            )
            return cur.rowcount == 1

    def reset(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM receipts")
            self._db.execute("DELETE FROM records")
            self.faults = Faults()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._worker.join(timeout=5)
        with self._lock:
            self._db.close()


# --------------------------------------------------------------------------- HTTP


def _error(
    status: int,
    code: str,
    message: str,
    details: list[Reason] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def create_app(config: ReceiverConfig) -> Starlette:
    receiver = Receiver(config)

    def gate(request: Request, body: bytes, path: str, path_params: Mapping[str, str]) -> Response | None:
        """Faults, parameters and signature: the checks every API request passes first."""
        now = config.clock()
        faults = receiver.faults
        retry = {"Retry-After": str(faults.retry_after)}
        if now < faults.unavailable_until:
            return _error(503, "unavailable", "平台暂不可用 / temporarily unavailable", headers=retry)
        if now < faults.rate_limited_until:
            return _error(429, "rate_limited", "请求过多 / too many requests", headers=retry)
        method = request.method.lower()
        auth, other = receiver.contract.parameter_problems(
            path, method, headers=request.headers, query=request.query_params, path_params=path_params
        )
        if auth:
            missing = any(r["code"] == "required" for r in auth)
            return _error(
                401,
                "signature_missing" if missing else "signature_invalid",
                "签名请求头缺失或格式不正确 / signature headers missing or malformed",
                auth,
            )
        try:
            signing.verify_headers(config.secrets, request.headers, body, now=now, tolerance=config.tolerance)
        except signing.TimestampError as exc:
            return _error(401, "timestamp_out_of_tolerance", str(exc))
        except signing.VerificationError as exc:
            return _error(401, "signature_invalid", str(exc))
        if other:
            return _error(400, "bad_request", "请求参数不正确 / invalid request parameters", other)
        return None

    async def push_record(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            return _error(413, "too_large", "报文过大（上限 1 MiB）/ body exceeds 1 MiB")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(413, "too_large", "报文过大（上限 1 MiB）/ body exceeds 1 MiB")
        refused = gate(request, body, "/records", {})
        if refused is not None:
            log.info("POST /records refused: %s", bytes(refused.body)[:200].decode("utf-8", "replace"))
            return refused
        message_id = request.headers["webhook-id"]
        original = receiver.receipt_for_message(message_id)
        if original is not None:
            return JSONResponse(
                {
                    "code": "duplicate",
                    "message": "重复报送，返回原回执 / duplicate message id",
                    "receipt": original,
                },
                status_code=409,
            )
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return _error(415, "unsupported_media_type", "仅接受 application/json / JSON only")
        try:
            message = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _error(400, "bad_request", f"报文不是有效的 JSON / body is not valid JSON: {exc}"[:300])
        problems = receiver.contract.body_problems("/records", "post", message)
        if problems:
            log.info(
                "POST /records %s invalid: %s",
                message_id,
                "; ".join(f"{p['field']} {p['message']}" for p in problems),
            )
            return _error(422, "invalid", "报文不符合规范 / message violates the contract", problems)
        receipt, created = receiver.take(message_id, message)
        if not created:  # a concurrent duplicate won the race for the message id
            return JSONResponse(
                {
                    "code": "duplicate",
                    "message": "重复报送，返回原回执 / duplicate message id",
                    "receipt": receipt,
                },
                status_code=409,
            )
        log.info(
            "POST /records %s -> %s %s %s",
            message_id,
            receipt["receipt_id"],
            receipt["operation"],
            receipt["index_number"],
        )
        return JSONResponse(
            receipt, status_code=202, headers={"Location": f"/receipts/{receipt['receipt_id']}"}
        )

    async def list_records(request: Request) -> Response:
        refused = gate(request, await request.body(), "/records", {})
        if refused is not None:
            return refused
        q = request.query_params
        records, total = receiver.records(
            item_type=q.get("item_type"),
            status=q.get("status"),
            limit=int(q.get("limit", "100")),
            offset=int(q.get("offset", "0")),
        )
        return JSONResponse({"records": records, "total": total})

    async def get_record(request: Request) -> Response:
        index_number = request.path_params["index_number"]
        refused = gate(
            request, await request.body(), "/records/{index_number}", {"index_number": index_number}
        )
        if refused is not None:
            return refused
        found = receiver.record(index_number)
        if found is None:
            return _error(404, "not_found", "未收录该索引号 / no record with this index number")
        return JSONResponse(found)

    async def get_receipt(request: Request) -> Response:
        receipt_id = request.path_params["receipt_id"]
        refused = gate(request, await request.body(), "/receipts/{receipt_id}", {"receipt_id": receipt_id})
        if refused is not None:
            return refused
        found = receiver.receipt(receipt_id)
        if found is None:
            return _error(404, "not_found", "回执不存在 / no such receipt")
        return JSONResponse(found)

    async def admin_faults(request: Request) -> Response:
        now = config.clock()
        if request.method == "POST":
            spec = await request.json()
            f = receiver.faults
            if "reject" in spec:
                f.reject = bool(spec["reject"])
            if "reject_reason" in spec:
                f.reject_reason = str(spec["reject_reason"])
            if "unavailable_for" in spec:
                f.unavailable_until = now + float(spec["unavailable_for"])
            if "rate_limited_for" in spec:
                f.rate_limited_until = now + float(spec["rate_limited_for"])
            if "retry_after" in spec:
                f.retry_after = int(spec["retry_after"])
            log.warning("faults set: %s", receiver.faults.as_json(now))
        elif request.method == "DELETE":
            receiver.faults = Faults()
        return JSONResponse(receiver.faults.as_json(now))

    async def admin_state(request: Request) -> Response:
        if request.method == "DELETE":
            receiver.reset()
        records, _total = receiver.records()
        return JSONResponse(
            {
                "records": records,
                "receipts": receiver.receipts(),
                "faults": receiver.faults.as_json(config.clock()),
            }
        )

    async def admin_revoke(request: Request) -> Response:
        spec = await request.json() if await request.body() else {}
        reason = str(spec.get("reason") or "平台撤销 / revoked by the platform")
        done = receiver.platform_revoke(request.path_params["index_number"], reason)
        return JSONResponse({"ok": done}, status_code=200 if done else 404)

    async def page(request: Request) -> Response:
        records, total = receiver.records(limit=500)
        return HTMLResponse(_page(config, records, total, receiver.receipts(limit=50)))

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/records", push_record, methods=["POST"]),
        Route("/records", list_records, methods=["GET"]),
        # national index numbers contain "/" (sent as %2F, which the ASGI path already decodes)
        Route("/records/{index_number:path}", get_record, methods=["GET"]),
        Route("/receipts/{receipt_id}", get_receipt, methods=["GET"]),
        Route("/_admin/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
        Route("/_admin/state", admin_state, methods=["GET", "DELETE"]),
        Route("/_admin/records/{index_number:path}/revoke", admin_revoke, methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        receiver.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.receiver = receiver
    return app


_STATUS = {
    "active": "有效收录",
    "revoked": "已撤销",
    "processing": "处理中",
    "accepted": "已收录",
    "rejected": "已退回",
}
_TYPES = {
    "policy": "政策文件",
    "interpretation": "政策解读",
    "fee_change": "收费目录调整",
    "procurement_result": "政府采购结果",
    "consultation": "征求意见",
    "notice": "通知公告",
}


def _page(
    config: ReceiverConfig, records: list[dict[str, Any]], total: int, receipts: list[dict[str, Any]]
) -> str:
    e = html.escape
    rows = "".join(
        "<tr>"
        f"<td>{e(r['index_number'])}</td>"
        f'<td><a href="{e(r["record"]["url"])}">{e(r["record"]["title"])}</a></td>'
        f"<td>{e(_TYPES.get(r['record']['item_type'], r['record']['item_type']))}</td>"
        f"<td>{e(r['record'].get('doc_number') or '—')}</td>"
        f"<td>{e(r['record']['issue_date'])}</td>"
        f"<td>{e(r['record']['validity'])}</td>"
        f"<td>{r['version']}</td>"
        f"<td>{e(_STATUS[r['status']])}{'：' + e(r['revoke_reason'] or '') if r['status'] == 'revoked' else ''}</td>"
        f"<td>{e(r['updated_at'])}</td>"
        "</tr>"
        for r in records
    )
    rcpts = "".join(
        "<tr>"
        f"<td>{e(r['receipt_id'])}</td><td>{e(r['operation'])}</td><td>{e(r['index_number'])}</td>"
        f"<td>{e(_STATUS[r['status']])}</td>"
        f"<td>{e('；'.join(x['message'] for x in r['reasons']))}</td><td>{e(r['received_at'])}</td>"
        "</tr>"
        for r in receipts
    )
    types = (
        "全部类别"
        if config.accept_types is None
        else "、".join(_TYPES.get(t, t) for t in sorted(config.accept_types))
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>本地参考接收端 — {e(config.name)}</title>
<style>body{{font-family:sans-serif;margin:2em}} .banner{{background:#b00;color:#fff;padding:.6em 1em;
font-weight:bold}} table{{border-collapse:collapse;margin:1em 0}} td,th{{border:1px solid #ccc;padding:.3em .6em}}
</style></head><body>
<div class="banner">LOCAL REFERENCE RECEIVER — 本地参考接收端，并非真实的市政务公开平台 / not the real city platform</div>
<h1>{e(config.name)}</h1>
<p>按 docs/cityplatform.openapi.yaml 接收目录信息；收录类别：{e(types)}；处理延时 {config.delay:g} 秒。</p>
<h2>已收录目录信息（{total} 条）</h2>
<table><tr><th>索引号</th><th>名称</th><th>类别</th><th>文号</th><th>生成日期</th><th>有效性</th><th>版本</th>
<th>状态</th><th>更新时间</th></tr>{rows}</table>
<h2>最近回执</h2>
<table><tr><th>回执号</th><th>操作</th><th>索引号</th><th>状态</th><th>原因</th><th>接收时间</th></tr>{rcpts}</table>
</body></html>"""


# --------------------------------------------------------------------------- running


class RunningReceiver:
    """The receiver in a background thread (tests, and the README's run command)."""

    def __init__(self, config: ReceiverConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = create_app(config)
        self.receiver: Receiver = self.app.state.receiver
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app, host=host, port=port, log_level="warning", lifespan="off", access_log=False
            )
        )
        self._thread = threading.Thread(
            target=self._server.run, name="cityplatform-receiver-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.receiver.close()
                raise RuntimeError("city platform reference receiver did not start")
            time.sleep(0.01)
        self.port = int(self._server.servers[0].sockets[0].getsockname()[1])
        self.base_url = f"http://{host}:{self.port}"
        self.records_url = f"{self.base_url}/records"

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        res = httpx.request(method, f"{self.base_url}/_admin/{path}", json=body, timeout=10)
        res.raise_for_status()
        return res.json()

    def fault(self, **spec: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("POST", "faults", spec)
        return result

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("GET", "state")
        return result

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.receiver.close()


def start_in_thread(config: ReceiverConfig, host: str = "127.0.0.1", port: int = 0) -> RunningReceiver:
    return RunningReceiver(config, host, port)


def load_or_create_secrets(path: Path) -> list[bytes]:
    """The secrets in `path` (whitespace-separated, for rotation); a missing file is created
    with a fresh secret so the publisher and this receiver can share it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(signing.generate_secret() + "\n", encoding="utf-8")
        path.chmod(0o600)
        log.warning("created a new secret in %s", path)
    return signing.parse_secrets(path.read_text(encoding="utf-8"))


_TYPE_LIST = re.compile(r"^[a-z_]+(,[a-z_]+)*$")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=BANNER)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument(
        "--secret-file",
        type=Path,
        required=True,
        help="whsec_ secret(s), whitespace-separated; created when missing",
    )
    parser.add_argument("--db", default=":memory:", help="SQLite file for what it accepted (default: memory)")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds a receipt stays 'processing'")
    parser.add_argument("--types", default="", help="comma-separated item types it takes (default: all)")
    parser.add_argument("--name", default=ReceiverConfig.name)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.types and not _TYPE_LIST.match(args.types):
        parser.error("--types: comma-separated item types, e.g. procurement_result")
    config = ReceiverConfig(
        secrets=load_or_create_secrets(args.secret_file),
        db_path=args.db,
        delay=args.delay,
        accept_types=frozenset(args.types.split(",")) if args.types else None,
        name=args.name,
    )
    line = "=" * 40
    log.warning("%s\n%s\n%s", line, BANNER, line)
    log.warning(
        "records endpoint http://%s:%s/records  page http://%s:%s/  db=%s",
        args.host,
        args.port,
        args.host,
        args.port,
        args.db,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
