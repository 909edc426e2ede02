"""The one table of who may do what: role -> permissions.

The services check a permission (`Actor.require(Permission.X)`) before they read or write
anything; handlers never decide on roles themselves (pages only ask `permits` to hide a
button the service would refuse anyway). A user holds exactly one role, so no one holds two
of these sets unless the table gives them to one role, and `admin` is the only role holding
content and operations together: it lacks `user.manage` (an admin who could create accounts
could create the second pair of eyes too), and maker-checker
(`publisher.editorial.workflow`) still keeps it from approving what it wrote, edited or
reviewed. docs/security.md ("Who may publish") explains each role and the refused
combinations.
"""

from __future__ import annotations

from enum import StrEnum

from publisher.domain.item import Role


class Permission(StrEnum):
    ITEM_EDIT = "item.edit"  # create, edit, submit; record applications, adoption reports
    ITEM_REVIEW = "item.review"  # 保密审查 passed, reject while in review, accept a check's reminder
    ITEM_APPROVE = "item.approve"  # approve, reject at approval, abolish, withdraw
    APPLICANT_READ = "applicant.read"  # an answered application with its applicant's details
    DELIVERY_READ = "delivery.read"  # deliveries and their attempts, channel states
    DELIVERY_OPERATE = "delivery.operate"  # replay, replay-failed, retry-now, the periodic checks now
    CHANNEL_CONTROL = "channel.control"  # pause and resume a channel
    CONFIGURE = "configure"  # the holiday calendar, the content checks' dictionaries
    INDEX_IMPORT = "index.import"  # give a legacy item the 索取号 it already had (validated, audited)
    ALERT_MANAGE = "alert.manage"  # silence and lift alerts, send the pending ones now
    USER_MANAGE = "user.manage"  # users, roles, tokens, passwords
    AUDIT_READ = "audit.read"  # verify the audit chain, read attempts and logs


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.EDITOR: frozenset({P.ITEM_EDIT, P.APPLICANT_READ}),
    Role.REVIEWER: frozenset({P.ITEM_REVIEW, P.APPLICANT_READ}),
    Role.APPROVER: frozenset({P.ITEM_APPROVE, P.APPLICANT_READ}),
    Role.OPS: frozenset(
        {P.DELIVERY_READ, P.DELIVERY_OPERATE, P.CHANNEL_CONTROL, P.CONFIGURE, P.ALERT_MANAGE, P.AUDIT_READ}
    ),
    Role.SYSADMIN: frozenset({P.DELIVERY_READ, P.CHANNEL_CONTROL, P.CONFIGURE, P.ALERT_MANAGE}),
    Role.SECADMIN: frozenset({P.USER_MANAGE}),
    Role.AUDITOR: frozenset({P.AUDIT_READ, P.DELIVERY_READ}),
    Role.ADMIN: frozenset(set(Permission) - {P.USER_MANAGE}),
}

ROLE_LABELS: dict[Role, str] = {
    Role.EDITOR: "编辑",
    Role.REVIEWER: "审查员",
    Role.APPROVER: "审批人",
    Role.OPS: "运维",
    Role.ADMIN: "管理员",
    Role.SYSADMIN: "系统管理员",
    Role.SECADMIN: "安全管理员",
    Role.AUDITOR: "安全审计员",
}


def permits(role: Role, *permissions: Permission) -> bool:
    """Whether the role holds any of these permissions."""
    held = ROLE_PERMISSIONS[role]
    return any(p in held for p in permissions)


def roles_with(permission: Permission) -> list[Role]:
    return [r for r in Role if permission in ROLE_PERMISSIONS[r]]
