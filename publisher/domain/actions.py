"""What an audit event records as its action (`audit_events.action`, stored as the value).

Every writer names its action here and every reader compares against a member, so a typo is
an AttributeError at import instead of an event that no search, maker-checker rule or digest
check ever finds. The values are the stored ones: renaming a member is free, changing a value
orphans the events already written.
"""

from __future__ import annotations

from enum import StrEnum

from publisher.domain.item import Breaker


class AuditAction(StrEnum):
    # the item workflow (publisher/editorial/workflow.py)
    CREATE = "create"
    EDIT = "edit"
    IMPORT_INDEX_NO = "import-index-no"
    SUBMIT = "submit"
    REVIEW = "review"
    REJECT = "reject"
    APPROVE = "approve"
    RELEASE = "release"  # a scheduled approval reached its publish time
    WITHDRAW = "withdraw"
    VALIDITY = "validity"
    IMAGE_UPLOAD = "image.upload"
    # one delivery, by people (ops, the approver)
    DELIVERY_REPLAY = "delivery.replay"
    DELIVERY_RELEASE = "delivery.release"
    DELIVERY_EXCLUDE = "delivery.exclude"
    # post-publication inspection (publisher/delivery/drift.py): a drift found, accepted, re-pushed
    DELIVERY_DRIFT = "delivery.drift"
    DELIVERY_DRIFT_ACCEPT = "delivery.drift_accept"
    DELIVERY_REPUSH = "delivery.repush"
    # a channel, by ops or the system
    CHANNEL_PAUSE = "channel.pause"
    CHANNEL_RESUME = "channel.resume"
    CHANNEL_RETRY_NOW = "channel.retry_now"
    CHANNEL_FLAG = "channel.flag"
    CHANNEL_DIGEST = "channel.digest"
    CHANNEL_DIGEST_FAILED = "channel.digest_failed"
    BREAKER_CLOSED = "breaker.closed"
    BREAKER_OPEN = "breaker.open"
    BREAKER_HALF_OPEN = "breaker.half_open"
    # the content checks' dictionary and register
    CHECK_ACCEPT = "check.accept"
    CHECK_WORD_ADD = "check.word.add"
    CHECK_WORD_REMOVE = "check.word.remove"
    CHECK_PERSON_ADD = "check.person.add"
    CHECK_PERSON_REMOVE = "check.person.remove"
    # users (publisher/editorial/auth.py) and logins
    USER_ADD = "user.add"
    USER_ENABLE = "user.enable"
    USER_DISABLE = "user.disable"
    USER_ROLE = "user.role"
    USER_TOKEN = "user.token"
    USER_PASSWORD = "user.password"
    LOGIN_THROTTLED = "login.throttled"
    # alerts, compliance, the chain itself
    ALERT_SILENCE = "alert.silence"
    ALERT_UNSILENCE = "alert.unsilence"
    ANNUAL_REPORT_EDIT = "annual_report.edit"
    APPLICATION_RECORD = "record application"
    APPLICATION_CONVERT = "convert application"
    ADOPTION_REPORT_DRAFT = "draft adoption report"
    AUDIT_SEAL = "audit.seal"
    AUDIT_REKEY = "audit.rekey"

    @classmethod
    def breaker(cls, state: Breaker) -> AuditAction:
        """The event of a channel's breaker moving to `state`."""
        return _BREAKER[state]


_BREAKER = {
    Breaker.CLOSED: AuditAction.BREAKER_CLOSED,
    Breaker.OPEN: AuditAction.BREAKER_OPEN,
    Breaker.HALF_OPEN: AuditAction.BREAKER_HALF_OPEN,
}
