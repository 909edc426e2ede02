"""Compliance settings: statutory numbers and inspection thresholds, with the defaults of
DOMAIN.md §3, overridable in the `[compliance]` section of the settings file:

    [compliance]
    deadline_working_days = 20        # art. 26 of the 2019 Regulation
    warn_working_days = 5             # deadline.at_risk when this many working days are left
    inspection_warn_ratio = 0.75      # inspection.at_risk at 75 % of a threshold

    [[compliance.inspection]]         # replaces the default rules when given
    channel = "cms"                   # a channel instance name
    column = "*"                      # an item type, or "*" for the channel as a whole
    days = 14                         # or months = 6
    label = "网站首页"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

from publisher.settings import Settings, SettingsError


@dataclass(frozen=True)
class InspectionRule:
    channel: str
    column: str  # an item type, or "*": any item on the channel (home page, the account)
    label: str
    days: int = 0
    months: int = 0

    def __post_init__(self) -> None:
        if (self.days > 0) == (self.months > 0):
            raise SettingsError(f"compliance.inspection {self.channel}/{self.column}: give days or months")


# 国办秘函〔2019〕19号: home page and news columns 2 weeks, notice/policy columns 6 months,
# a new-media account 2 weeks. Interpretations sit in the policy column on the bureau's site.
DEFAULT_RULES: tuple[InspectionRule, ...] = (
    InspectionRule("cms", "*", "网站首页 / home page", days=14),
    InspectionRule("cms", "policy", "政策文件栏目 / policy column", months=6),
    InspectionRule("cms", "interpretation", "政策解读栏目 / interpretation column", months=6),
    InspectionRule("cms", "notice", "通知公告栏目 / notice column", months=6),
    InspectionRule("wechat", "*", "政务新媒体（公众号）/ WeChat account", days=14),
)


@dataclass(frozen=True)
class ComplianceSettings:
    deadline_working_days: int = 20
    warn_working_days: int = 5
    inspection_warn_ratio: float = 0.75
    inspection: tuple[InspectionRule, ...] = field(default=DEFAULT_RULES)


def _int(raw: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SettingsError(f"compliance.{key} must be an integer {low}-{high}")
    return value


def compliance_settings(settings: Settings, raw: dict[str, Any] | None = None) -> ComplianceSettings:
    """Read `[compliance]` from the settings file (or `raw`, for tests)."""
    if raw is None:
        raw = {}
        if settings.config_path is not None and settings.config_path.is_file():
            raw = tomllib.loads(settings.config_path.read_text(encoding="utf-8")).get("compliance", {})
    ratio = raw.get("inspection_warn_ratio", 0.75)
    if not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0 < ratio < 1:
        raise SettingsError("compliance.inspection_warn_ratio must be between 0 and 1")
    rules = DEFAULT_RULES
    if "inspection" in raw:
        rules = tuple(
            InspectionRule(
                channel=str(r["channel"]),
                column=str(r.get("column", "*")),
                label=str(r.get("label") or f"{r['channel']}/{r.get('column', '*')}"),
                days=int(r.get("days", 0)),
                months=int(r.get("months", 0)),
            )
            for r in raw["inspection"]
        )
    return ComplianceSettings(
        deadline_working_days=_int(raw, "deadline_working_days", 20, 1, 100),
        warn_working_days=_int(raw, "warn_working_days", 5, 0, 100),
        inspection_warn_ratio=float(ratio),
        inspection=rules,
    )
