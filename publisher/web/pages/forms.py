"""The editor's metadata form: the fields it shows, how a posted form becomes the item
dict the service validates, and how the service's field errors land next to their inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from publisher.domain.errors import FieldError
from publisher.domain.item import FEE_CATALOGUES, Disclosure, ItemType, Scope


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | date | datetime | select | textarea | lines
    options: tuple[tuple[str, str], ...] = ()
    help: str = ""
    types: tuple[str, ...] = ()  # only for these item types; () = all
    required: bool = False
    create_only: bool = False


TYPE_OPTIONS = (
    ("policy", "政策文件"),
    ("interpretation", "政策解读"),
    ("fee_change", "收费目录调整"),
    ("procurement_result", "政府采购结果"),
    ("consultation", "征求意见"),
    ("notice", "通知公告"),
)

FIELDS: tuple[Field, ...] = (
    Field("type", "信息类型", "select", TYPE_OPTIONS, required=True, create_only=True),
    Field(
        "ref",
        "引用标识",
        help="可选，字母数字，创建后不可改 / optional, fixed after creation",
        create_only=True,
    ),
    Field("title", "信息名称", required=True),
    Field(
        "short_title", "微信短标题", help="标题超过32字时必填 / needed when the title exceeds 32 characters"
    ),
    Field("issue_date", "印发日期", "date", required=True),
    Field("doc_number", "文号", help="如 沪财预〔2019〕12号；[]、()、【】 会自动规范为 〔〕"),
    Field("issuing_body", "发文机关", help="留空则为本机关 / blank: this agency"),
    Field("subject", "主题分类", required=True, help="如 财政\\预算"),
    Field("disclosure", "公开方式", "select", tuple((d.value, d.value) for d in Disclosure)),
    Field("scope", "公开范围", "select", tuple((s.value, s.value) for s in Scope)),
    Field("keywords", "关键词", help="以逗号或顿号分隔 / separated by commas"),
    Field("description", "内容描述", "textarea"),
    Field(
        "release_group", "发布组", help="政策与其解读填同一发布组，一并批准 / same group: approved together"
    ),
    Field(
        "interprets",
        "解读的政策",
        help="政策的 uid 或引用标识 / the policy's uid or ref",
        types=("interpretation",),
    ),
    Field(
        "publish_at",
        "定时发布",
        "datetime",
        help="北京时间；留空则批准后立即发布 / Beijing time; blank: at approval",
    ),
    Field("cover_url", "封面图片地址", help="微信封面；留空则自动生成 / WeChat cover; blank: generated"),
    Field("catalogue", "收费目录", "select", tuple((c, c) for c in FEE_CATALOGUES), types=("fee_change",)),
    Field("effective_date", "执行日期", "date", types=("fee_change",)),
    Field(
        "changes",
        "变动项目",
        "lines",
        types=("fee_change",),
        help="每行：变动类型|项目|部门|原标准|新标准，变动类型为 新增/取消/调整",
    ),
    Field("procurement.project_number", "项目编号", types=("procurement_result",)),
    Field("procurement.project_name", "项目名称", types=("procurement_result",)),
    Field("procurement.purchaser", "采购人", types=("procurement_result",)),
    Field("procurement.supplier", "中标供应商", types=("procurement_result",)),
    Field(
        "procurement.supplier_contact",
        "供应商联系方式",
        types=("procurement_result",),
        help="可公开的联系电话",
    ),
    Field("procurement.amount_yuan", "中标金额（元）", types=("procurement_result",)),
    Field("procurement.award_date", "中标日期", "date", types=("procurement_result",)),
    Field("procurement.method", "采购方式", types=("procurement_result",)),
    Field("consultation.opens", "征求意见开始", "date", types=("consultation",)),
    Field("consultation.closes", "征求意见截止", "date", types=("consultation",)),
    Field("attachments", "附件", "lines", help="每行：标题|https://地址"),
    Field("body_html", "正文", "textarea"),
)

REQUIRED_TEXT = {"title", "subject", "issue_date"}
_SPLIT_KEYWORDS = re.compile(r"[,，、;；\s]+")
CHANGE_KEYS = ("action", "item", "department", "old_standard", "new_standard")


def _opt(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("|")] for line in text.splitlines() if line.strip()]


def item_data(form: dict[str, str], item_type: str) -> dict[str, Any]:
    """The posted form as the item dict the service validates; fields of other item types are
    left out (or cleared on edit) so a type change never leaks stray data."""
    data: dict[str, Any] = {}
    for key in (
        "title",
        "short_title",
        "issue_date",
        "doc_number",
        "issuing_body",
        "subject",
        "description",
        "release_group",
        "cover_url",
    ):
        value = form.get(key, "")
        data[key] = value.strip() if key in REQUIRED_TEXT else _opt(value)
    for key in ("disclosure", "scope"):  # left out when blank: the model's default applies
        if _opt(form.get(key)):
            data[key] = form[key].strip()
    data["description"] = data["description"] or ""
    data["keywords"] = [k for k in _SPLIT_KEYWORDS.split(form.get("keywords", "")) if k]
    data["body_html"] = form.get("body_html", "")
    publish_at = _opt(form.get("publish_at"))
    if publish_at and re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?", publish_at):
        publish_at += "+08:00"  # the form's datetime-local is Beijing time
    data["publish_at"] = publish_at
    data["attachments"] = [
        {"title": r[0], "url": r[1] if len(r) > 1 else ""} for r in _rows(form.get("attachments", ""))
    ]
    data["interprets"] = _opt(form.get("interprets")) if item_type == ItemType.INTERPRETATION else None
    if item_type == ItemType.FEE_CHANGE:
        data["catalogue"] = _opt(form.get("catalogue"))
        data["effective_date"] = _opt(form.get("effective_date"))
        data["changes"] = [
            {k: v for k, v in zip(CHANGE_KEYS, row, strict=False) if v or k in ("action", "item")}
            for row in _rows(form.get("changes", ""))
        ]
    else:
        data["catalogue"] = data["effective_date"] = data["changes"] = None
    if item_type == ItemType.PROCUREMENT_RESULT:
        data["procurement"] = {
            k.split(".", 1)[1]: (form.get(k) or "").strip() or None
            for k in (f.name for f in FIELDS if f.name.startswith("procurement."))
        }
    else:
        data["procurement"] = None
    if item_type == ItemType.CONSULTATION:
        data["consultation"] = {
            "opens": _opt(form.get("consultation.opens")),
            "closes": _opt(form.get("consultation.closes")),
        }
    else:
        data["consultation"] = None
    return data


def form_values(content: dict[str, Any], item_type: str) -> dict[str, str]:
    """A stored working copy as the strings the form shows."""
    values: dict[str, str] = {"type": item_type}
    for f in FIELDS:
        if "." in f.name:
            group, key = f.name.split(".", 1)
            raw = (content.get(group) or {}).get(key)
        else:
            raw = content.get(f.name)
        if raw is None:
            values[f.name] = ""
        elif f.name == "keywords":
            values[f.name] = "，".join(raw)
        elif f.name == "changes":
            values[f.name] = "\n".join(
                "|".join(str(r.get(k) or "") for k in CHANGE_KEYS).rstrip("|") for r in raw
            )
        elif f.name == "attachments":
            values[f.name] = "\n".join(f"{a.get('title', '')}|{a.get('url', '')}" for a in raw)
        elif f.name == "publish_at":
            values[f.name] = str(raw)[:16]
        else:
            values[f.name] = str(raw)
    return values


def place_errors(errors: list[FieldError]) -> tuple[dict[str, list[str]], list[str]]:
    """Field errors by form input (nested paths fall back to their list/group input);
    the rest are shown above the form."""
    names = {f.name for f in FIELDS}
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for e in errors:
        name = e.field
        if name.startswith("channels."):  # a pre-flight problem names the item field last
            name = name.rsplit(".", 1)[-1]
        while name not in names and "." in name:
            name = name.rsplit(".", 1)[0]
        if name not in names:  # a whole group (procurement, consultation): its first input
            name = next((n for n in sorted(names) if n.startswith(name + ".")), name)
        if name in names:
            by_field.setdefault(name, []).append(e.message)
        else:
            other.append(f"{e.field}: {e.message}")
    return by_field, other
