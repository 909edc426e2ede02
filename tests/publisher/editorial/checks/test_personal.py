"""Personal data: valid ID numbers, mobiles, bank cards block; near misses and declared fields do not."""

from __future__ import annotations

import pytest

from publisher.editorial.checks.personal import card_valid, id_card_valid, luhn_valid
from publisher.editorial.checks.text import fold
from tests.publisher.editorial.checks.support import only, run

ID = "11010519491231002X"  # the standard's worked example: a valid check character
CARD = "6222020200000000006"  # UnionPay prefix, valid Luhn digit


def test_the_checksums() -> None:
    assert id_card_valid(ID) and id_card_valid(ID.lower())
    assert not id_card_valid(ID[:-1] + "1")  # wrong check character
    assert not id_card_valid("110105194913310021")  # month 13
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert card_valid(CARD) and not card_valid(CARD[:-1] + "8")
    assert not card_valid("1234567812345670")  # Luhn-valid but no card scheme starts with 12


@pytest.mark.parametrize(
    "body,rule,masked",
    [
        (f"<p>身份证号：{ID}。</p>", "personal.id_card", "110***********002x"),
        ("<p>身份证号：110105 19491231 002X。</p>", "personal.id_card", "110***********002x"),
        ("<p>联系人手机13800138000。</p>", "personal.mobile", "138****8000"),
        ("<p>手机：138-0013-8000</p>", "personal.mobile", "138****8000"),
        ("<p>手机：+86 138 0013 8000</p>", "personal.mobile", "138****8000"),
        ("<p>手机：１３８００１３８０００</p>", "personal.mobile", "138****8000"),
        (f"<p>收款账号 {CARD}</p>", "personal.bank_card", "622************0006"),
        ("<p>卡号 6222 0202 0000 0000 006</p>", "personal.bank_card", "622************0006"),
    ],
)
def test_personal_data_blocks_and_is_shown_masked(body: str, rule: str, masked: str) -> None:
    [p] = [p for p in run(body=body) if p.rule.startswith("personal.")]
    assert p.rule == rule and p.matched == masked
    assert masked[-4:] in fold(body[p.start : p.end]).replace(" ", "").replace("-", "")


@pytest.mark.parametrize(
    "body",
    [
        f"<p>编号 {ID[:-1]}1。</p>",  # an 18-character number with a wrong check character
        "<p>咨询电话：021-23112311，传真 021-63213421。</p>",  # office landlines are public
        "<p>金额 13800138000.00 元</p>",  # an amount with decimals
        "<p>项目编号 SH2019138001380001</p>",
        "<p>合同号 1380013800012</p>",  # 13 digits: not a mobile
        "<p>中标金额：人民币1,280,000.00元</p>",
        "<p>统一社会信用代码 91310000MA1FL0000X</p>",
        "<p>流水号 6222020200000000007</p>",  # Luhn fails
    ],
)
def test_near_misses_do_not_fire(body: str) -> None:
    assert [p.rule for p in run(body=body) if p.rule.startswith("personal.")] == []


def test_a_declared_field_allows_its_kind_there_and_only_there() -> None:
    procurement = {
        "project_number": "SH-1",
        "purchaser": "示例采购单位",
        "supplier": "示例供应商有限公司",
        "supplier_contact": "联系人 王先生 13800138000",
        "amount_yuan": "1.00",
        "award_date": "2026-11-01",
        "method": "公开招标",
    }
    content = {"type": "procurement_result", "procurement": procurement}
    assert [p for p in run(content) if p.rule.startswith("personal.")] == []
    elsewhere = run(content, body="<p>联系人 13800138000</p>")
    [p] = only(elsewhere, "personal.mobile")
    assert p.field == "body_html" and "供应商联系方式" in p.message
    # the declaration is per kind: an ID number in the contact field still blocks
    with_id = {**content, "procurement": {**procurement, "supplier_contact": ID}}
    assert [p.field for p in only(run(with_id), "personal.id_card")] == ["procurement.supplier_contact"]
    # and per type: the same field name on another type allows nothing
    assert only(run({"procurement": procurement, "type": "notice"}), "personal.mobile")


def test_numbers_in_the_body_s_file_names_are_read() -> None:
    body = f'<p><a href="https://a.example/files/{ID}-%E7%94%B3%E8%AF%B7%E8%A1%A8.pdf">申请表</a></p>'
    [p] = [p for p in run(body=body) if p.rule.startswith("personal.")]
    assert (p.rule, p.field, p.start, p.end) == ("personal.id_card", "body_html.links.1.name", 0, 18)
    assert [p.rule for p in run(body='<p><a href="https://a.example/2026-12-01.pdf">通知</a></p>')] == []
