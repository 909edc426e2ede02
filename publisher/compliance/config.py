"""Compliance settings: statutory numbers and inspection thresholds, with the defaults of
DOMAIN.md §3, overridable in the `[compliance]` section of the settings (typed in
publisher.settings.ComplianceSection):

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

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from publisher.settings import ComplianceSection, Settings, SettingsError


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


def compliance_settings(settings: Settings, raw: dict[str, Any] | None = None) -> ComplianceSettings:
    """The `[compliance]` section of the settings (or `raw`, checked the same way, for tests)."""
    try:
        section = settings.compliance if raw is None else ComplianceSection.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(f"compliance: {exc.errors()[0]['msg']}") from None
    rules = DEFAULT_RULES
    if section.inspection is not None:
        rules = tuple(
            InspectionRule(
                channel=r.channel,
                column=r.column,
                label=r.label or f"{r.channel}/{r.column}",
                days=r.days,
                months=r.months,
            )
            for r in section.inspection
        )
    return ComplianceSettings(
        deadline_working_days=section.deadline_working_days,
        warn_working_days=section.warn_working_days,
        inspection_warn_ratio=section.inspection_warn_ratio,
        inspection=rules,
    )
