"""The city platform contract: a valid OpenAPI 3.1 document whose examples obey its schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from channels.standins.cityplatform_receiver import SPEC_PATH, Contract

DOC = Path(__file__).resolve().parents[2] / "docs" / "cityplatform.openapi.yaml"


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DOC.read_text(encoding="utf-8"))
    return data


def test_the_receiver_reads_this_document() -> None:
    assert SPEC_PATH == DOC


def test_document_is_valid_openapi_3_1() -> None:
    doc = load()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_a_broken_document_is_caught_by_the_validator() -> None:
    # guards the test above against a validator that accepts anything
    doc = load()
    doc["paths"]["/records"]["post"]["responses"]["202"] = {"content": {}}
    with pytest.raises(OpenAPIValidationError):
        validate(doc)


def test_paths_and_security_are_the_published_contract() -> None:
    doc = load()
    assert set(doc["paths"]) == {"/records", "/records/{index_number}", "/receipts/{receipt_id}"}
    assert set(doc["paths"]["/records"]) == {"post", "get"}
    post = doc["paths"]["/records"]["post"]
    assert {"202", "400", "401", "409", "422", "429", "503"} <= set(post["responses"])
    params = {p["$ref"].rsplit("/", 1)[1] for p in post["parameters"]}
    assert params == {"WebhookId", "WebhookTimestamp", "WebhookSignature"}
    scheme = doc["components"]["securitySchemes"]["webhookSignature"]
    assert "300 seconds" in scheme["description"] and "whsec_" in scheme["description"]
    receipt = doc["components"]["schemas"]["Receipt"]["properties"]["status"]
    assert receipt["enum"] == ["processing", "accepted", "rejected"]


def test_every_catalogue_field_carries_its_chinese_name() -> None:
    props = load()["components"]["schemas"]["CatalogueRecord"]["properties"]
    expected = {
        "index_number": "索引号",
        "title": "名称",
        "description": "内容概述",
        "issue_date": "生成日期",
        "issuing_body": "发布机构",
        "doc_number": "文号",
        "subject": "主题分类",
        "disclosure": "公开方式",
        "scope": "公开范围",
        "validity": "有效性",
        "url": "正文地址",
        "attachments": "附件",
    }
    for name, chinese in expected.items():
        schema = props[name]
        text = schema.get("description") or ""
        if "$ref" in schema and not text:
            text = load()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]["description"]
        assert chinese in text, name


@pytest.mark.parametrize("name", ["CreatePolicy", "AbolishPolicy", "CreateProcurement", "Revoke"])
def test_examples_obey_the_message_schema(name: str) -> None:
    example = load()["components"]["examples"][name]["value"]
    assert Contract(DOC).body_problems("/records", "post", example) == []


def test_type_specific_data_is_required_and_only_for_its_type() -> None:
    contract = Contract(DOC)
    example = load()["components"]["examples"]["CreateProcurement"]["value"]
    record = dict(example["record"])
    del record["procurement"]
    problems = contract.body_problems("/records", "post", {"operation": "create", "record": record})
    assert [(p["code"], p["field"]) for p in problems] == [("required", "/record/procurement")]
    policy = load()["components"]["examples"]["CreatePolicy"]["value"]
    wrong = dict(policy["record"], procurement=example["record"]["procurement"])
    problems = contract.body_problems("/records", "post", {"operation": "create", "record": wrong})
    assert [(p["code"], p["field"]) for p in problems] == [("not_allowed", "/record/procurement")]
