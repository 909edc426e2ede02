"""Turn pydantic's errors into our bilingual field errors. `MESSAGES` maps pydantic error
types to bilingual messages; the web layer uses it for request validation too."""

from __future__ import annotations

from pydantic import ValidationError as PydanticValidationError

from publisher.domain.errors import FieldError

MESSAGES = {
    "missing": "必填字段 / field required",
    "extra_forbidden": "不允许的字段 / unknown field",
    "string_too_short": "不能为空 / must not be empty",
    "string_too_long": "过长 / too long",
    "too_long": "条目过多 / too many entries",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD / expected a date YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD / expected a date YYYY-MM-DD",
    "date_type": "日期格式应为 YYYY-MM-DD / expected a date YYYY-MM-DD",
    "datetime_parsing": "时间格式应为 ISO 8601 / expected an ISO 8601 date-time",
    "datetime_type": "时间格式应为 ISO 8601 / expected an ISO 8601 date-time",
    "enum": "取值不在允许范围 / not one of the allowed values",
    "string_type": "应为文本 / expected a string",
    "list_type": "应为列表 / expected a list",
    "dict_type": "应为对象 / expected an object",
    "model_type": "应为对象 / expected an object",
    "bool_type": "应为布尔值 / expected true or false",
    "decimal_parsing": "应为金额数字，如 1280000.00 / expected an amount",
    "decimal_max_places": "金额最多两位小数 / at most 2 decimal places",
    "greater_than_equal": "不能为负数 / must not be negative",
    "string_pattern_mismatch": "格式不正确 / invalid format",
}


_BLANK_MEANS_EMPTY = frozenset(
    {
        "date_from_datetime_parsing",
        "date_parsing",
        "date_type",
        "datetime_parsing",
        "datetime_type",
        "decimal_parsing",
    }
)


def field_errors(exc: PydanticValidationError) -> list[FieldError]:
    out: list[FieldError] = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        kind = err["type"]
        if kind == "value_error":
            # our validators raise ValueError("中文 / English"); model validators may pack
            # several "field: message" problems joined by " | "
            text = str(err.get("ctx", {}).get("error", err["msg"]))
            for part in text.split(" | "):
                fld, sep, msg = part.partition(": ")
                if sep and not loc and fld.isidentifier():
                    out.append(FieldError(fld, msg))
                else:
                    out.append(FieldError(".".join(loc) or "body", part))
            continue
        message = MESSAGES.get(kind, f"取值无效 / invalid value ({err['msg']})")
        if kind in _BLANK_MEANS_EMPTY and err.get("input") in ("", None):
            # an empty date or number is a missing value, not a badly written one
            message = MESSAGES["string_too_short"]
        if kind == "enum":
            expected = err.get("ctx", {}).get("expected")
            if expected:
                message += f": {expected}"
        out.append(FieldError(".".join(loc) or "body", message))
    return out
