"""The reference receiver over real HTTP: contract validation, signatures, tolerance,
de-duplication, asynchronous receipts, business rules, faults, store, page and CLI."""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from channels import signing
from channels.standins.cityplatform_receiver import (
    SPEC_PATH,
    ReceiverConfig,
    RunningReceiver,
    start_in_thread,
)
from tests.support import answering, wait_for

ROOT = Path(__file__).resolve().parents[3]
SECRET = signing.generate_secret()
EXAMPLES = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))["components"]["examples"]


def example(name: str) -> dict[str, Any]:
    value: dict[str, Any] = copy.deepcopy(EXAMPLES[name]["value"])
    return value


@pytest.fixture
def receiver() -> Iterator[RunningReceiver]:
    running = start_in_thread(ReceiverConfig(secrets=[signing.parse_secret(SECRET)], delay=0.05))
    yield running
    running.stop()


_seq = iter(range(1, 10**9))


def post(
    r: RunningReceiver,
    message: Any,
    *,
    msg_id: str | None = None,
    ts: int | None = None,
    secret: str = SECRET,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> httpx.Response:
    body = raw if raw is not None else json.dumps(message, ensure_ascii=False).encode("utf-8")
    headers = signing.signed_headers([secret], msg_id or f"msg_{next(_seq)}", ts or int(time.time()), body)
    headers["content-type"] = content_type
    return httpx.post(r.records_url, content=body, headers=headers, timeout=10)


def get(r: RunningReceiver, path: str, secret: str = SECRET) -> httpx.Response:
    headers = signing.signed_headers([secret], f"read_{next(_seq)}", int(time.time()), b"")
    return httpx.get(r.base_url + path, headers=headers, timeout=10)


def settle(r: RunningReceiver, receipt_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = get(r, f"/receipts/{receipt_id}").json()
        return body if body["status"] != "processing" else None

    return wait_for(done, 5, f"receipt {receipt_id} processed", every=0.02)


def push(r: RunningReceiver, message: dict[str, Any]) -> dict[str, Any]:
    res = post(r, message)
    assert res.status_code == 202, res.text
    return settle(r, res.json()["receipt_id"])


# ---------------------------------------------------------------- intake


def test_a_valid_create_is_taken_then_accepted_and_stored(receiver: RunningReceiver) -> None:
    msg = example("CreatePolicy")
    res = post(receiver, msg, msg_id="msg_create_1")
    assert res.status_code == 202
    receipt = res.json()
    assert receipt["status"] == "processing" and receipt["message_id"] == "msg_create_1"
    assert res.headers["location"] == f"/receipts/{receipt['receipt_id']}"
    final = settle(receiver, receipt["receipt_id"])
    assert final["status"] == "accepted" and final["reasons"] == [] and final["decided_at"]
    held = get(receiver, "/records/AB1900010-2019-146").json()
    assert held["record"] == msg["record"] and held["status"] == "active" and held["version"] == 1
    assert held["receipt_id"] == receipt["receipt_id"]


def test_a_record_missing_a_required_field_is_refused_with_pointers(receiver: RunningReceiver) -> None:
    msg = example("CreatePolicy")
    del msg["record"]["description"]
    msg["record"]["title"] = ""
    res = post(receiver, msg)
    assert res.status_code == 422
    body = res.json()
    assert body["code"] == "invalid"
    assert {(d["code"], d["field"]) for d in body["details"]} == {
        ("required", "/record/description"),
        ("minLength", "/record/title"),
    }
    assert "缺少必填字段" in json.dumps(body, ensure_ascii=False)
    assert receiver.state()["receipts"] == []


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda m: m["record"].update(index_number="2019-146"), "/record/index_number"),
        (lambda m: m["record"].update(disclosure="不予公开"), "/record/disclosure"),
        (lambda m: m["record"].update(issue_date="2019/04/04"), "/record/issue_date"),
        (lambda m: m["record"].update(url="ftp://x"), "/record/url"),
        (lambda m: m["record"].update(extra="x"), "/record"),
        (lambda m: m.update(operation="delete"), "/"),
        (lambda m: m["record"]["procurement"].update(amount_yuan=1280000), "/record/procurement/amount_yuan"),
    ],
)
def test_contract_violations_name_the_field(receiver: RunningReceiver, mutate: Any, field: str) -> None:
    msg = example("CreateProcurement")
    mutate(msg)
    res = post(receiver, msg)
    assert res.status_code == 422
    assert field in [d["field"] for d in res.json()["details"]]


def test_a_bad_signature_is_refused(receiver: RunningReceiver) -> None:
    res = post(receiver, example("CreatePolicy"), secret=signing.generate_secret())
    assert res.status_code == 401
    assert res.json()["code"] == "signature_invalid"
    # a body altered after signing is refused too
    body = json.dumps(example("CreatePolicy"), ensure_ascii=False).encode()
    headers = signing.signed_headers([SECRET], "msg_tamper", int(time.time()), body)
    res = httpx.post(
        receiver.records_url, content=body + b" ", headers={**headers, "content-type": "application/json"}
    )
    assert res.status_code == 401 and res.json()["code"] == "signature_invalid"
    assert receiver.state()["receipts"] == []


def test_missing_signature_headers_are_refused(receiver: RunningReceiver) -> None:
    res = httpx.post(receiver.records_url, json=example("CreatePolicy"))
    assert res.status_code == 401
    body = res.json()
    assert body["code"] == "signature_missing"
    assert {d["field"] for d in body["details"]} == {"webhook-id", "webhook-timestamp", "webhook-signature"}


@pytest.mark.parametrize("age", [600, -600, 301])
def test_a_timestamp_outside_five_minutes_is_refused(receiver: RunningReceiver, age: int) -> None:
    res = post(receiver, example("CreatePolicy"), ts=int(time.time()) - age)
    assert res.status_code == 401
    assert res.json()["code"] == "timestamp_out_of_tolerance"
    assert receiver.state()["receipts"] == []


def test_a_duplicate_gets_the_original_receipt_and_is_processed_once(receiver: RunningReceiver) -> None:
    first = post(receiver, example("CreatePolicy"), msg_id="msg_dup")
    assert first.status_code == 202
    original = settle(receiver, first.json()["receipt_id"])
    # a replay (same id; even a changed body, freshly signed) is answered with the original
    changed = example("CreatePolicy")
    changed["record"]["title"] = "另一个标题"
    again = post(receiver, changed, msg_id="msg_dup")
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate"
    assert again.json()["receipt"] == original
    state = receiver.state()
    assert len(state["receipts"]) == 1
    assert state["records"][0]["record"]["title"] == example("CreatePolicy")["record"]["title"]


def test_a_refused_message_id_is_not_remembered(receiver: RunningReceiver) -> None:
    bad = example("CreatePolicy")
    bad["record"]["description"] = ""
    assert post(receiver, bad, msg_id="msg_fixme").status_code == 422
    assert post(receiver, example("CreatePolicy"), msg_id="msg_fixme").status_code == 202


def test_rotation_accepts_either_secret() -> None:
    old, new = signing.generate_secret(), signing.generate_secret()
    r = start_in_thread(ReceiverConfig(secrets=signing.parse_secrets(f"{old} {new}"), delay=0))
    try:
        assert post(r, example("CreatePolicy"), secret=old).status_code == 202
        assert post(r, example("CreateProcurement"), secret=new).status_code == 202
        assert post(r, example("CreatePolicy"), secret=signing.generate_secret()).status_code == 401
    finally:
        r.stop()


def test_non_json_wrong_media_type_and_oversized_bodies(receiver: RunningReceiver) -> None:
    res = post(receiver, None, raw=b"{not json")
    assert res.status_code == 400 and res.json()["code"] == "bad_request"
    res = post(receiver, example("CreatePolicy"), content_type="text/plain")
    assert res.status_code == 415 and res.json()["code"] == "unsupported_media_type"
    res = post(receiver, None, raw=b"x" * (1024 * 1024 + 1))
    assert res.status_code == 413 and res.json()["code"] == "too_large"


# ---------------------------------------------------------------- reads


def test_reads_are_signed_too(receiver: RunningReceiver) -> None:
    res = httpx.get(receiver.base_url + "/records")
    assert res.status_code == 401
    res = get(receiver, "/records", secret=signing.generate_secret())
    assert res.status_code == 401 and res.json()["code"] == "signature_invalid"


def test_unknown_receipt_and_record_are_404_and_bad_parameters_400(receiver: RunningReceiver) -> None:
    assert get(receiver, "/receipts/rcpt_" + "0" * 32).status_code == 404
    assert get(receiver, "/records/AB1900010-2019-999").json()["code"] == "not_found"
    res = get(receiver, "/receipts/not-a-receipt")
    assert res.status_code == 400 and res.json()["details"][0]["field"] == "receipt_id"
    assert get(receiver, "/records?limit=0").status_code == 400
    assert get(receiver, "/records?colour=red").status_code == 400


def test_list_filters_and_the_national_index_form(receiver: RunningReceiver) -> None:
    national = example("CreatePolicy")
    national["record"].update(index_number="000014349/2018-00222", source_id="nationalitem")
    assert push(receiver, national)["status"] == "accepted"
    assert push(receiver, example("CreateProcurement"))["status"] == "accepted"
    page = get(receiver, "/records?item_type=procurement_result").json()
    assert page["total"] == 1 and page["records"][0]["index_number"] == "AB1900010-2019-150"
    assert get(receiver, "/records?status=revoked").json() == {"records": [], "total": 0}
    assert get(receiver, "/records?limit=1").json()["total"] == 2
    held = get(receiver, "/records/000014349%2F2018-00222")
    assert held.status_code == 200 and held.json()["record"]["source_id"] == "nationalitem"


# ---------------------------------------------------------------- business rules (asynchronous)


def test_update_abolished_replaces_the_record_and_revoke_marks_it(receiver: RunningReceiver) -> None:
    assert push(receiver, example("CreatePolicy"))["status"] == "accepted"
    assert push(receiver, example("AbolishPolicy"))["status"] == "accepted"
    held = get(receiver, "/records/AB1900010-2019-146").json()
    assert held["version"] == 2 and held["record"] == example("AbolishPolicy")["record"]
    revoked = push(receiver, example("Revoke"))
    assert revoked["status"] == "accepted"
    held = get(receiver, "/records/AB1900010-2019-146").json()
    assert held["status"] == "revoked" and held["revoke_reason"] == example("Revoke")["reason"]
    assert held["record"] == example("AbolishPolicy")["record"]  # the last content stays visible
    assert len(receiver.state()["records"]) == 1


def test_revoking_an_unknown_record_is_rejected_with_reasons(receiver: RunningReceiver) -> None:
    receipt = push(receiver, example("Revoke"))
    assert receipt["status"] == "rejected"
    assert receipt["reasons"] == [
        {
            "code": "unknown_record",
            "field": "/index_number",
            "message": "撤销的信息不存在 / no record with this index number",
        }
    ]
    assert receiver.state()["records"] == []


def test_an_index_number_held_by_another_item_is_rejected(receiver: RunningReceiver) -> None:
    push(receiver, example("CreatePolicy"))
    other = example("CreatePolicy")
    other["record"]["source_id"] = "someoneelse"
    receipt = push(receiver, other)
    assert receipt["status"] == "rejected" and receipt["reasons"][0]["code"] == "index_conflict"
    moved = example("AbolishPolicy")
    moved["record"]["index_number"] = "AB1900010-2019-147"
    receipt = push(receiver, moved)
    assert receipt["status"] == "rejected" and receipt["reasons"][0]["code"] == "index_changed"
    held = receiver.state()["records"]
    assert [(r["index_number"], r["version"]) for r in held] == [("AB1900010-2019-146", 1)]


def test_an_older_version_is_acknowledged_but_not_applied(receiver: RunningReceiver) -> None:
    push(receiver, example("AbolishPolicy"))
    receipt = push(receiver, example("CreatePolicy"))
    assert receipt["status"] == "accepted" and receipt["reasons"][0]["code"] == "stale_version"
    assert get(receiver, "/records/AB1900010-2019-146").json()["record"]["validity"] == "已废止"


def test_updating_a_revoked_record_is_rejected(receiver: RunningReceiver) -> None:
    push(receiver, example("CreatePolicy"))
    push(receiver, example("Revoke"))
    update = example("AbolishPolicy")
    update["record"]["version"] = 4
    receipt = push(receiver, update)
    assert receipt["status"] == "rejected" and receipt["reasons"][0]["code"] == "revoked"


def test_a_receipt_stays_processing_for_the_configured_delay() -> None:
    r = start_in_thread(ReceiverConfig(secrets=[signing.parse_secret(SECRET)], delay=0.6))
    try:
        posted = time.monotonic()
        rid = post(r, example("CreatePolicy")).json()["receipt_id"]
        assert get(r, f"/receipts/{rid}").json()["status"] == "processing"
        assert r.state()["records"] == []
        # it becomes accepted, and not before the delay has passed
        wait_for(lambda: get(r, f"/receipts/{rid}").json()["status"] == "accepted", 10, "accepted")
        assert time.monotonic() - posted >= 0.6
    finally:
        r.stop()


def test_a_platform_that_takes_only_some_types_rejects_others() -> None:
    r = start_in_thread(
        ReceiverConfig(
            secrets=[signing.parse_secret(SECRET)], delay=0, accept_types=frozenset({"procurement_result"})
        )
    )
    try:
        assert push(r, example("CreateProcurement"))["status"] == "accepted"
        receipt = push(r, example("CreatePolicy"))
        assert receipt["status"] == "rejected" and receipt["reasons"][0]["code"] == "type_not_accepted"
    finally:
        r.stop()


# ---------------------------------------------------------------- faults, admin, page


def test_fault_switch_rejects_records(receiver: RunningReceiver) -> None:
    receiver.fault(reject=True, reject_reason="测试退回 / test rejection")
    receipt = push(receiver, example("CreatePolicy"))
    assert receipt["status"] == "rejected"
    assert receipt["reasons"] == [{"code": "fault", "field": None, "message": "测试退回 / test rejection"}]
    receiver.admin("DELETE", "faults")
    assert push(receiver, example("CreatePolicy"))["status"] == "accepted"


def test_fault_switch_answers_503_then_429_for_a_while(receiver: RunningReceiver) -> None:
    receiver.fault(unavailable_for=2, retry_after=3)  # wide: a loaded machine is slow
    res = post(receiver, example("CreatePolicy"))
    assert (
        res.status_code == 503 and res.headers["retry-after"] == "3" and res.json()["code"] == "unavailable"
    )
    assert get(receiver, "/records").status_code == 503
    wait_for(lambda: get(receiver, "/records").status_code == 200, 10, "the outage to end")
    receiver.fault(rate_limited_for=2, retry_after=2)
    res = post(receiver, example("CreatePolicy"))
    assert res.status_code == 429 and res.headers["retry-after"] == "2"
    wait_for(lambda: post(receiver, example("CreatePolicy")).status_code == 202, 10, "the rate limit to end")


def test_admin_state_reset(receiver: RunningReceiver) -> None:
    push(receiver, example("CreatePolicy"))
    assert len(receiver.state()["records"]) == 1
    cleared = receiver.admin("DELETE", "state")
    assert cleared["records"] == [] and cleared["receipts"] == []


def test_the_page_is_labelled_and_lists_records_in_chinese(receiver: RunningReceiver) -> None:
    push(receiver, example("CreatePolicy"))
    push(receiver, example("Revoke"))
    page = httpx.get(receiver.base_url + "/").text
    assert "LOCAL REFERENCE RECEIVER" in page and "本地参考接收端" in page
    assert "上海市财政局2019年政务公开实施方案" in page and "AB1900010-2019-146" in page
    assert "已撤销" in page and "已收录目录信息（1 条）" in page


def test_a_file_store_survives_a_restart(tmp_path: Path) -> None:
    config = ReceiverConfig(
        secrets=[signing.parse_secret(SECRET)], delay=0, db_path=str(tmp_path / "city.db")
    )
    r = start_in_thread(config)
    try:
        push(r, example("CreatePolicy"))
    finally:
        r.stop()
    r = start_in_thread(config)
    try:
        assert [x["index_number"] for x in r.state()["records"]] == ["AB1900010-2019-146"]
        assert (
            post(r, example("CreatePolicy"), msg_id=r.state()["receipts"][0]["message_id"]).status_code == 409
        )
    finally:
        r.stop()


def test_runs_on_its_own_and_says_what_it_is(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    secret_file = tmp_path / "city.secret"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "channels.standins.cityplatform_receiver",
            "--port",
            str(port),
            "--secret-file",
            str(secret_file),
            "--delay",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        answering(base + "/", proc, 20)
        # it created a shared secret the publisher can be pointed at
        secret = secret_file.read_text(encoding="utf-8").strip()
        assert len(signing.parse_secret(secret)) == 32
        assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
        body = json.dumps(example("CreatePolicy"), ensure_ascii=False).encode()
        headers = signing.signed_headers([secret], "msg_cli", int(time.time()), body)
        res = httpx.post(
            base + "/records", content=body, headers={**headers, "content-type": "application/json"}
        )
        assert res.status_code == 202
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert "LOCAL REFERENCE RECEIVER" in out
    assert secret not in out
