"""What every check yields: a `Problem`, one entry of the single list the editor, reviewer and
approver see (content problems and the channels' pre-flight problems together).

A Problem is a `FieldError`, so an approval refused for problems is an ordinary 422 whose
entries also carry the rule, severity and source. `source` tells content problems
("content") from a channel's pre-flight ("channel", with `channel` naming it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from publisher.domain.errors import FieldError


class Severity(StrEnum):
    BLOCK = "block"  # refuses the approval; only correcting the item clears it
    WARN = "warn"  # refuses the approval until a reviewer accepts it with a reason


SEVERITY_LABELS = {Severity.BLOCK: "须改正", Severity.WARN: "提醒"}


class Source(StrEnum):
    CONTENT = "content"
    CHANNEL = "channel"


@dataclass(frozen=True)
class Acceptance:
    reason: str
    by: str
    at: str
    revision: str


@dataclass(frozen=True)
class Problem(FieldError):
    rule: str = ""
    severity: Severity = Severity.BLOCK
    source: Source = Source.CONTENT
    label: str = ""  # the field in Chinese
    anchor: str = ""  # the editor form's input for the field
    matched: str = ""
    start: int | None = None  # character offsets in the field as stored (or as sent)
    end: int | None = None
    suggestion: str | None = None
    channel: str | None = None
    key: str = ""  # fingerprint: rule, field, matched text and its context
    item_uid: str | None = None
    item_title: str | None = None
    accepted: Acceptance | None = None

    @property
    def blocking(self) -> bool:
        """Does it refuse the approval? Blocks always; warns until accepted."""
        return self.severity is Severity.BLOCK or self.accepted is None

    def as_dict(self) -> dict[str, Any]:
        return {
            **super().as_dict(),
            "rule": self.rule,
            "severity": self.severity.value,
            "source": self.source.value,
            "label": self.label,
            "anchor": self.anchor,
            "matched": self.matched,
            "start": self.start,
            "end": self.end,
            "suggestion": self.suggestion,
            "channel": self.channel,
            "key": self.key,
            "item_uid": self.item_uid,
            "item_title": self.item_title,
            "accepted": None
            if self.accepted is None
            else {
                "reason": self.accepted.reason,
                "by": self.accepted.by,
                "at": self.accepted.at,
                "revision": self.accepted.revision,
            },
        }


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


CHANNEL_LABELS = {"rss": "订阅源", "cms": "网站", "wechat": "公众号", "cityplatform": "市平台"}


def channel_label(name: str) -> str:
    kind, _, sub = name.partition(".")
    if kind == "webhook":
        return f"订阅推送（{sub}）" if sub else "订阅推送"
    return CHANNEL_LABELS.get(kind, name)


def from_channel(error: FieldError) -> Problem:
    """A channel's pre-flight problem (`channels.<name>[.<field>]`) in the one list: a block,
    labelled with the channel's Chinese name and the field it names."""
    if isinstance(error, Problem):
        return error
    from publisher.editorial.checks.fields import label_of  # the field labels live with the fields

    path = error.field
    rest = path[len("channels.") :] if path.startswith("channels.") else path
    channel = rest
    inner = ""
    for candidate in sorted(CHANNEL_LABELS, key=len, reverse=True):
        if rest == candidate or rest.startswith(candidate + "."):
            channel, inner = candidate, rest[len(candidate) + 1 :]
            break
    else:
        if rest.startswith("webhook."):
            head, _, inner = rest[len("webhook.") :].partition(".")
            channel = "webhook." + head
    label = channel_label(channel) + (f" · {label_of(inner)}" if inner else "")
    return Problem(
        error.field,
        error.message,
        rule=f"channel.{channel.partition('.')[0]}",
        severity=Severity.BLOCK,
        source=Source.CHANNEL,
        label=label,
        anchor=inner.split(".")[0] if inner else "",
        channel=channel,
        key=fingerprint("channel", error.field, error.message),
    )


def for_member(problem: FieldError, uid: str, title: str, prefix: str) -> FieldError:
    """A release-group member's problem in the approval's list: the field keeps its
    `group[uid].` prefix for API clients, the item is named for people."""
    if isinstance(problem, Problem):
        return replace(problem, field=prefix + problem.field, item_uid=uid, item_title=title)
    return FieldError(prefix + problem.field, problem.message)


def problem_text(error: FieldError) -> str:
    """A refused action's problem for people: the item and the field named in Chinese, never
    a raw `group[uid].channels…` path."""
    from publisher.editorial.checks.fields import label_of

    if isinstance(error, Problem):
        where = (f"《{error.item_title}》" if error.item_title else "") + (error.label or error.field)
        return f"{where}：{error.message}"
    return f"{label_of(error.field)}：{error.message}"
