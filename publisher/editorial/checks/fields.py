"""What is checked: the `Subject` (one item's text fields, dates and links, from a stored
item or from a draft the editor is typing) and each field's Chinese label.

Field paths follow the item JSON (`attachments.0.title`, `procurement.supplier`); `anchor`
is the editor form's input name, so a problem can link to the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any
from urllib.parse import unquote, urlsplit

from publisher.domain.clock import representable
from publisher.domain.errors import FieldError
from publisher.domain.item import ItemType
from publisher.editorial.checks.text import Text, parse_html, plain

LABELS = {
    "title": "信息名称",
    "short_title": "微信短标题",
    "description": "内容描述",
    "keywords": "关键词",
    "body_html": "正文",
    "doc_number": "文号",
    "issuing_body": "发文机关",
    "subject": "主题分类",
    "attachments": "附件",
    "cover_url": "封面图片",
    "issue_date": "印发日期",
    "formed_at": "成文日期",
    "publish_at": "定时发布",
    "changes": "变动项目",
    "type": "信息类别",
    "ref": "外部编号",
    "sample": "示例标记",
    "index_number": "索取号",
    "disclosure": "公开方式",
    "scope": "公开范围",
    "validity": "是否有效",
    "classified": "密级",
    "release_group": "同批发布组",
    "interprets": "所解读的文件",
    "abolishes": "废止的文件",
    "catalogue": "收费目录",
    "effective_date": "施行日期",
    "procurement": "采购信息",
    "consultation": "意见征集",
    "procurement.project_number": "项目编号",
    "procurement.project_name": "项目名称",
    "procurement.purchaser": "采购人",
    "procurement.supplier": "中标供应商",
    "procurement.supplier_contact": "供应商联系方式",
    "procurement.method": "采购方式",
}
_CHANGE_LABELS = {
    "item": "项目",
    "department": "部门",
    "old_standard": "原标准",
    "new_standard": "新标准",
    "action": "变动类型",
}


_BODY_PARTS = {"name": "文件名", "alt": "替代文字", "title": "提示文字"}


def label_of(path: str) -> str:
    """'attachments.1.title' → '附件2名称'; an unknown path is shown as it is."""
    if path in LABELS:
        return LABELS[path]
    if path.startswith(("body_html.links.", "body_html.images.")):
        _, kind, number, part = (path.split(".") + ["", ""])[:4]
        what = "个链接" if kind == "links" else "张图片"
        return f"正文第{number}{what}的{_BODY_PARTS.get(part, part)}"
    head, _, rest = path.partition(".")
    index, _, leaf = rest.partition(".")
    if head in ("attachments", "keywords", "changes") and index.isdigit():
        n = int(index) + 1
        if head == "attachments":
            return f"附件{n}" + {"title": "名称", "url": "地址", "name": "文件名", "": ""}.get(leaf, leaf)
        if head == "keywords":
            return f"关键词{n}"
        return f"变动项目第{n}行" + _CHANGE_LABELS.get(leaf, leaf)
    return LABELS.get(head, path)


def anchor_of(path: str) -> str:
    if path.startswith("body_html."):
        return "body_html"
    if path.startswith("procurement."):
        return path
    return path.split(".")[0]


@dataclass(frozen=True)
class TextField:
    path: str
    value: str
    html: bool = False
    # prose is read for wording and names; every text field is read for secrecy and personal data
    prose: bool = True

    @property
    def label(self) -> str:
        return label_of(self.path)

    @property
    def anchor(self) -> str:
        return anchor_of(self.path)


@dataclass(frozen=True)
class Link:
    path: str  # the field it is in
    url: str
    start: int | None = None
    end: int | None = None
    text: str = ""
    image: bool = False  # an image shown from this address (an <img>, the cover), not a link


@dataclass
class Subject:
    """One item as the rules see it."""

    fields: list[TextField]
    type: ItemType | None = None
    uid: str | None = None
    title: str = ""
    issue_date: date | None = None
    publish_at: datetime | None = None
    published_at: datetime | None = None  # set once the item has been published (a revision)
    links: list[Link] = field(default_factory=list)

    @cached_property
    def texts(self) -> dict[str, Text]:
        return {f.path: parse_html(f.value) if f.html else plain(f.value) for f in self.fields}

    def field(self, path: str) -> TextField | None:
        return next((f for f in self.fields if f.path == path), None)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _date(value: Any) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo and representable(value) else None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo and representable(parsed) else None
    return None


_PLAIN = ("title", "short_title", "description", "issuing_body", "subject")
_META = ("doc_number",)
_PROCUREMENT = ("project_number", "project_name", "purchaser", "supplier", "supplier_contact", "method")


def file_name(url: str) -> str:
    """The last path segment of a URL, percent-decoded: an attachment's file name."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return ""
    return unquote(path.rsplit("/", 1)[-1])


def subject_of(
    content: Mapping[str, Any],
    *,
    uid: str | None = None,
    type: str | None = None,
    publish_at: datetime | None = None,
    published_at: datetime | None = None,
) -> Subject:
    """A Subject from item content: the stored working copy, a frozen version's content, or a
    draft being typed (lenient: values of the wrong shape are skipped, never an error)."""
    fields: list[TextField] = []
    for key in _PLAIN:
        if value := _str(content.get(key)):
            fields.append(TextField(key, value))
    for key in _META:
        if value := _str(content.get(key)):
            fields.append(TextField(key, value, prose=False))
    keywords = content.get("keywords")
    if isinstance(keywords, list):
        fields += [TextField(f"keywords.{i}", k) for i, k in enumerate(keywords) if _str(k)]
    elif value := _str(keywords):
        fields.append(TextField("keywords", value))
    links: list[Link] = []
    attachments = content.get("attachments")
    if isinstance(attachments, list):
        for i, a in enumerate(attachments):
            if not isinstance(a, Mapping):
                continue
            if title := _str(a.get("title")):
                fields.append(TextField(f"attachments.{i}.title", title))
            if url := _str(a.get("url")):
                if name := file_name(url):
                    # the file name is read for markings and personal data (positions in the name)
                    fields.append(TextField(f"attachments.{i}.name", name, prose=False))
                links.append(Link(f"attachments.{i}.url", url, 0, len(url), _str(a.get("title")) or ""))
    procurement = content.get("procurement")
    if isinstance(procurement, Mapping):
        for key in _PROCUREMENT:
            if value := _str(procurement.get(key)):
                fields.append(TextField(f"procurement.{key}", value, prose=key in ("project_name",)))
    changes = content.get("changes")
    if isinstance(changes, list):
        for i, row in enumerate(changes):
            if isinstance(row, Mapping):
                for key in ("item", "department", "old_standard", "new_standard"):
                    if value := _str(row.get(key)):
                        fields.append(TextField(f"changes.{i}.{key}", value))
    if body := _str(content.get("body_html")):
        fields.append(TextField("body_html", body, html=True))
    if cover := _str(content.get("cover_url")):
        links.append(Link("cover_url", cover, 0, len(cover), image=True))
    item_type = None
    raw_type = type or content.get("type")
    if isinstance(raw_type, str) and raw_type in ItemType._value2member_map_:
        item_type = ItemType(raw_type)
    subject = Subject(
        fields=fields,
        type=item_type,
        uid=uid,
        title=_str(content.get("title")) or "",
        issue_date=_date(content.get("issue_date")),
        publish_at=publish_at if publish_at is not None else _datetime(content.get("publish_at")),
        published_at=published_at,
        links=links,
    )
    if body:
        subject.links = _body_links(subject) + links
        extra = _body_attributes(subject)
        subject.fields += extra
        subject.texts.update((f.path, plain(f.value)) for f in extra)  # the body is parsed once
    return subject


def _body_attributes(subject: Subject) -> list[TextField]:
    """Text the body carries outside its visible text: the file names its links and images
    point to (a secrecy mark or an ID number in "/files/机密★1年-名单.pdf" is published with
    the link) and its images' alt and title texts (read aloud, shown when the image fails).
    Each is a field of its own, positions in the attribute's value."""
    out: list[TextField] = []
    links = images = 0
    for el in subject.texts["body_html"].elements:
        if el.closing or el.tag not in ("a", "img"):
            continue
        if el.tag == "a":
            links += 1
            where = f"body_html.links.{links}"
        else:
            images += 1
            where = f"body_html.images.{images}"
        target = el.attrs.get("href" if el.tag == "a" else "src", "")
        if (
            target
            and not target.startswith(("data:", "mailto:", "tel:", "#"))
            and (name := file_name(target))
        ):
            out.append(TextField(f"{where}.name", name, prose=False))
        for attribute in ("alt", "title"):
            if value := el.attrs.get(attribute, "").strip():
                out.append(TextField(f"{where}.{attribute}", value))
    return out


def _body_links(subject: Subject) -> list[Link]:
    text = subject.texts["body_html"]
    out: list[Link] = []
    open_a: tuple[str, int, int] | None = None
    for el in text.elements:
        if el.tag == "a" and not el.closing and el.attrs.get("href"):
            open_a = (el.attrs["href"], el.start, el.text_at)
        elif el.tag == "a" and el.closing and open_a is not None:
            href, start, text_at = open_a
            out.append(Link("body_html", href, start, el.end, text.visible[text_at : el.text_at]))
            open_a = None
        elif el.tag == "img" and el.attrs.get("src"):
            out.append(
                Link("body_html", el.attrs["src"], el.start, el.end, el.attrs.get("alt", ""), image=True)
            )
    if open_a is not None:
        href, start, _ = open_a
        out.append(Link("body_html", href, start, len(text.source)))
    return out


# -- the shape of a draft -------------------------------------------------------------------------
# A draft is checked as it is typed, so it may be incomplete (missing fields, a half-typed
# date); but a value of the wrong JSON type is a client's mistake, refused naming the field.
_TEXTS = frozenset(
    "type title short_title ref issuing_body issue_date doc_number index_number subject disclosure "
    "scope validity classified description body_html release_group interprets publish_at formed_at "
    "cover_url catalogue effective_date".split()
)
_TEXT_LISTS = frozenset({"keywords", "abolishes"})  # keywords may also be one text
_NUMBERS = frozenset({"procurement.amount_yuan"})  # a number or its text


def _limits() -> dict[str, int]:
    """The longest text (or list) each field of an item may hold: the item's own limits."""
    from annotated_types import MaxLen

    from publisher.domain.item import Attachment, Consultation, FeeChangeRow, ItemIn, Procurement

    out: dict[str, int] = {}
    models: list[tuple[str, type[Any]]] = [
        ("", ItemIn),
        ("attachments.*.", Attachment),
        ("changes.*.", FeeChangeRow),
        ("procurement.", Procurement),
        ("consultation.", Consultation),
    ]
    for prefix, model in models:
        for name, info in model.model_fields.items():
            for m in info.metadata:
                if isinstance(m, MaxLen):
                    out[prefix + name] = m.max_length
    return out


_NESTED = {"attachments": "list", "changes": "list", "procurement": "object", "consultation": "object"}
_LIMITS: dict[str, int] = {}


def draft_errors(data: Mapping[str, Any]) -> list[FieldError]:
    """Fields of a draft whose value has the wrong JSON type or is longer than an item allows
    (null is an empty field; unknown keys are ignored: a client may post back what it read)."""
    if not _LIMITS:
        _LIMITS.update(_limits())
    errors: list[FieldError] = []

    def text(path: str, limit_key: str, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            errors.append(FieldError(path, "应为文本 / expected a string"))
        elif (limit := _LIMITS.get(limit_key)) is not None and len(value) > limit:
            errors.append(FieldError(path, f"长度不能超过 {limit} / length must be at most {limit}"))

    def listed(path: str, value: Any) -> list[Any] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            errors.append(FieldError(path, "应为列表 / expected a list"))
            return None
        if (limit := _LIMITS.get(path)) is not None and len(value) > limit:
            errors.append(FieldError(path, f"最多 {limit} 项 / at most {limit} entries"))
            return None
        return value

    def obj(path: str, value: Any, prefix: str) -> None:
        if value is None:
            return
        if not isinstance(value, Mapping):
            errors.append(FieldError(path, "应为对象 / expected an object"))
            return
        for key, child in value.items():
            name = f"{prefix}{key}"
            if f"{path.split('.')[0]}.{key}" in _NUMBERS:
                if child is not None and (
                    isinstance(child, bool) or not isinstance(child, int | float | str)
                ):
                    errors.append(FieldError(f"{path}.{key}", "应为数字 / expected a number"))
            elif name in _LIMITS or key in _KNOWN_NESTED.get(prefix, ()):
                text(f"{path}.{key}", name, child)

    for key, value in data.items():
        if key in _TEXTS:
            text(key, key, value)
        elif key == "sample":
            if value is not None and not isinstance(value, bool):
                errors.append(FieldError(key, "应为 true 或 false / expected a boolean"))
        elif key in _TEXT_LISTS:
            if key == "keywords" and isinstance(value, str):
                continue
            for i, v in enumerate(listed(key, value) or []):
                text(f"{key}.{i}", "", v)
        elif key in _NESTED:
            prefix = f"{key}.*." if _NESTED[key] == "list" else f"{key}."
            if _NESTED[key] == "object":
                obj(key, value, prefix)
            else:
                for i, row in enumerate(listed(key, value) or []):
                    obj(f"{key}.{i}", row, prefix)
    return errors[:20]


_KNOWN_NESTED = {
    "attachments.*.": ("title", "url"),
    "changes.*.": ("action", "item", "department", "old_standard", "new_standard"),
    "procurement.": (
        "project_number",
        "project_name",
        "purchaser",
        "supplier",
        "supplier_contact",
        "award_date",
        "method",
    ),
    "consultation.": ("opens", "closes"),
}
