"""文号 (publisher/domain/docnumber.py) as tables: each normalisation step on its own, the two
valid forms and their edges, and the refusal message. The hypothesis properties in
tests/system/test_properties.py cover the space; these pin each rule so a small change to one
step fails here by name."""

from __future__ import annotations

import pytest

from publisher.domain import docnumber

NORMALISED = [
    # full-width digits become ASCII, in the year and in the serial
    ("沪财预〔２０１９〕１２号", "沪财预〔2019〕12号"),
    # every kind of space goes, wherever it is (ASCII, tab, ideographic)
    (" 沪财预 〔2019〕\t12号\u3000", "沪财预〔2019〕12号"),
    # each bracket pair around a four-digit year becomes 六角括号, spaces inside too
    ("沪财预[2019]12号", "沪财预〔2019〕12号"),
    ("沪财预（2019）12号", "沪财预〔2019〕12号"),
    ("沪财预【 2019 】12号", "沪财预〔2019〕12号"),
    ("沪财预<2019>12号", "沪财预〔2019〕12号"),
    # the year is the group kept: the brackets change, the digits do not
    ("沪财预(2024)7号", "沪财预〔2024〕7号"),
    # leading zeros of the serial go, after the year bracket and after 第
    ("沪财预〔2019〕0012号", "沪财预〔2019〕12号"),
    ("沪财预〔2019〕010号", "沪财预〔2019〕10号"),
    ("上海市人民政府令第032号", "上海市人民政府令第32号"),
    ("上海市人民政府令第0号", "上海市人民政府令第0号"),  # a lone zero stays (and is refused)
    # zeros that are not leading stay; a year is not touched by the serial rule
    ("沪财预〔2019〕100号", "沪财预〔2019〕100号"),
    ("沪财预〔2000〕1号", "沪财预〔2000〕1号"),
    # not a year: three or five digits keep their brackets
    ("沪财预(201)12号", "沪财预(201)12号"),
    # nothing to do
    ("沪财预〔2019〕12号", "沪财预〔2019〕12号"),
]


@pytest.mark.parametrize(("raw", "canonical"), NORMALISED)
def test_each_normalisation_step(raw: str, canonical: str) -> None:
    assert docnumber.normalise(raw) == canonical


VALID = [
    "沪财预〔2019〕12号",
    "沪〔2019〕1号",  # one character of organ
    "一二三四五六七八九十一二〔2019〕1号",  # twelve
    "上海市人民政府令第32号",
    "市府令第1号",  # two characters before 令
]
INVALID = [
    "",
    "沪财预〔2019〕0号",  # serial zero
    "沪财预〔2019〕12",  # no 号
    "沪财预201912号",  # no year bracket
    "沪财预[2019]12号",  # not the standard bracket (normalise first)
    "沪财预〔19〕12号",  # two-digit year
    "一二三四五六七八九十一二三〔2019〕1号",  # thirteen characters of organ
    "〔2019〕1号",  # no organ
    "府令第1号",  # one character before 令
    "上海市人民政府令第0号",
    "上海市人民政府令32号",  # no 第
    "ABC〔2019〕1号",  # the organ is Chinese
    "沪财预〔2019〕12号 ",  # a trailing space is not part of a valid number
]


@pytest.mark.parametrize("value", VALID)
def test_valid_numbers(value: str) -> None:
    assert docnumber.is_valid(value) is True
    assert docnumber.parse(value) == value


@pytest.mark.parametrize("value", INVALID)
def test_invalid_numbers(value: str) -> None:
    assert docnumber.is_valid(value) is False


def test_parse_normalises_then_validates() -> None:
    assert docnumber.parse(" 沪财预（２０１９）０１２号 ") == "沪财预〔2019〕12号"
    assert docnumber.parse("上海市人民政府令第 032 号") == "上海市人民政府令第32号"


def test_a_refusal_names_the_expected_form_in_chinese_and_the_input() -> None:
    with pytest.raises(ValueError) as caught:
        docnumber.parse("沪财预2019年12号")
    message = str(caught.value)
    assert message.startswith("文号格式不正确，应如“沪财预〔2019〕12号”或“上海市人民政府令第32号” / ")
    assert message.endswith("invalid document number '沪财预2019年12号'")
