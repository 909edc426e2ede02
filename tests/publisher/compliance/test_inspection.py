"""Inspection watch with a clock set in the test: items delivered through the embedded
executor to the rss channel, warnings at 75 % of each threshold, breaches after it."""

from __future__ import annotations

from datetime import datetime, timedelta

from publisher.compliance import check_inspection, compliance_settings, inspection_status
from publisher.compliance.config import ComplianceSettings, InspectionRule
from publisher.compliance.inspection import add_months
from publisher.domain.clock import as_utc
from publisher.runtime import Runtime
from publisher.settings import Settings
from tests.conftest import Team
from tests.publisher.compliance.engine_support import delivered, live  # noqa: F401
from tests.publisher.compliance.support import caught, release
from tests.samples import policy, sample
from tests.support import wait_for

RULES = ComplianceSettings(
    inspection=(
        InspectionRule("rss", "*", "首页", days=14),
        InspectionRule("rss", "policy", "政策文件", months=6),
        InspectionRule("rss", "notice", "通知公告", months=6),
    )
)


def status(rt: Runtime, now: datetime, config: ComplianceSettings = RULES) -> dict[str, dict]:
    with rt.db.reader() as s:
        return {
            w.column: w.as_dict()
            for w in inspection_status(s, rt.settings, now, config)
            if w.channel == "rss"
        }


def test_warnings_fire_at_the_right_age(live: Runtime, team: Team) -> None:  # noqa: F811
    uid = release(live.service, team, policy())
    wait_for(lambda: delivered(live, uid), what="rss delivery")
    [d] = live.service.deliveries(uid)
    t0 = as_utc(datetime.fromisoformat(d["delivered_at"]))

    # the home page: 14 days, warning from 10.5 days
    w = status(live, t0 + timedelta(days=10))
    assert (w["*"]["status"], w["policy"]["status"], w["notice"]["status"]) == ("ok", "ok", "empty")
    assert w["*"]["age_days"] == 10.0 and w["*"]["threshold"] == "14 天"
    assert w["procurement_result"]["status"] == "untracked"
    assert status(live, t0 + timedelta(days=10, hours=12))["*"]["status"] == "at_risk"
    assert status(live, t0 + timedelta(days=14))["*"]["status"] == "breach"
    # the policy column: 6 months, warning at 75 % of them
    breach = add_months(t0, 6)
    warn = t0 + (breach - t0) * 0.75
    assert status(live, warn - timedelta(minutes=1))["policy"]["status"] == "ok"
    assert status(live, warn)["policy"]["status"] == "at_risk"
    assert status(live, breach)["policy"]["status"] == "breach"

    # alerts: raised once per level, after commit
    with caught("inspection.at_risk", "inspection.overdue") as got:
        for days in (11, 12, 15, 16):
            with live.db.transaction() as s:
                check_inspection(s, live.settings, t0 + timedelta(days=days), RULES)
        assert [(n, e["column"], e["status"]) for n, e in got] == [
            ("inspection.at_risk", "*", "at_risk"),
            ("inspection.overdue", "*", "breach"),
        ]

    # a new item resets the home page clock
    notice = release(live.service, team, sample("notice-abolish", abolishes=[]))
    wait_for(lambda: delivered(live, notice), what="rss delivery")
    [n] = live.service.deliveries(notice)
    t1 = as_utc(datetime.fromisoformat(n["delivered_at"]))
    w = status(live, t1 + timedelta(days=10))
    assert w["*"]["newest_at"] == t1.isoformat() and w["policy"]["newest_at"] == t0.isoformat()
    assert (w["*"]["status"], w["notice"]["status"], w["policy"]["status"]) == ("ok", "ok", "ok")


def test_default_rules_follow_the_inspection_notice(settings: Settings) -> None:
    config = compliance_settings(settings)
    rules = {(r.channel, r.column): (r.days, r.months) for r in config.inspection}
    assert rules[("cms", "*")] == (14, 0) and rules[("wechat", "*")] == (14, 0)
    assert rules[("cms", "policy")] == (0, 6) and rules[("cms", "notice")] == (0, 6)
    assert config.inspection_warn_ratio == 0.75


def test_rules_and_ratio_from_the_settings_file(tmp_path, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    from publisher.settings import load_settings

    path = tmp_path / "publisher.toml"
    path.write_text(
        "[compliance]\ninspection_warn_ratio = 0.5\nwarn_working_days = 3\n"
        '[[compliance.inspection]]\nchannel = "rss"\ncolumn = "*"\ndays = 7\nlabel = "网站"\n',
        encoding="utf-8",
    )
    config = compliance_settings(load_settings(env={}, path=path))
    assert config.inspection == (InspectionRule("rss", "*", "网站", days=7),)
    assert (config.inspection_warn_ratio, config.warn_working_days) == (0.5, 3)


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(datetime(2026, 8, 31), 6) == datetime(2027, 2, 28)
    assert add_months(datetime(2026, 11, 30), 3) == datetime(2027, 2, 28)
    assert add_months(datetime(2026, 1, 15), 12) == datetime(2027, 1, 15)
