"""文号 (document numbers) after GB/T 9704: normalise bracket variants, then validate."""

from __future__ import annotations

import re

# Brackets editors type instead of the standard 六角括号 〔〕 around the year.
_YEAR_IN_BRACKETS = re.compile(r"[\[［(（【〔{｛<＜]\s*(\d{4})\s*[\]］)）】〕}｝>＞]")
_STANDARD = re.compile(r"^[\u4e00-\u9fff]{1,12}〔\d{4}〕[1-9]\d*号$")
_DECREE = re.compile(r"^[\u4e00-\u9fff]{2,20}令第[1-9]\d*号$")
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def normalise(raw: str) -> str:
    """Return the canonical form: full-width digits made ASCII, spaces dropped, year in 〔〕,
    leading zeros of the serial removed (沪财预〔2019〕012号 → 沪财预〔2019〕12号)."""
    text = raw.translate(_FULLWIDTH_DIGITS)
    text = re.sub(r"\s+", "", text)
    text = _YEAR_IN_BRACKETS.sub(lambda m: f"〔{m.group(1)}〕", text)
    text = re.sub(r"〕0+(\d)", r"〕\1", text)
    text = re.sub(r"第0+(\d)", r"第\1", text)
    return text


def is_valid(value: str) -> bool:
    return bool(_STANDARD.match(value) or _DECREE.match(value))


def parse(raw: str) -> str:
    """Normalise and validate; raises ValueError with a bilingual message."""
    value = normalise(raw)
    if not is_valid(value):
        raise ValueError(
            f"文号格式不正确，应如“沪财预〔2019〕12号”或“上海市人民政府令第32号” / "
            f"invalid document number {raw!r}"
        )
    return value
