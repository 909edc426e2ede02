"""Running the checks: the pure `check_subject` (every rule over one Subject) and
`ContentChecks`, the process's checker with its compiled dictionary and register (rebuilt
when their version in the database moves), its link cache, and the acceptances.

    as the editor types   POST /api/check, /app/check   content rules, cached link results only
    item, review pages    GET /api/items/{uid}/check    the same, plus the channels' pre-flight
    approval              workflow.approve              links probed first (outside the
                                                         transaction), then every rule; a block or
                                                         an unaccepted warn refuses the approval
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from publisher.domain.clock import local_today, utcnow
from publisher.domain.errors import FieldError
from publisher.editorial.checks import a11y, dates, links, personal, register, secrecy, store, wording
from publisher.editorial.checks.fields import Subject, subject_of
from publisher.editorial.checks.links import Fetcher, LinkCache, LinkChecker, Probe
from publisher.editorial.checks.problem import Problem, Severity, Source
from publisher.editorial.checks.register import Register
from publisher.editorial.checks.wording import STARTER, Dictionary, Term, read_tsv
from publisher.editorial.views import content_hash
from publisher.settings import ChecksSettings, Settings
from publisher.store.db import Database
from publisher.store.models import AnyItem, Item

RULE_ORDER = ("secrecy", "personal", "register", "wording", "dates", "links", "a11y", "channel")


def _order(p: Problem) -> tuple[int, int, str, int]:
    family = p.rule.split(".")[0]
    rank = RULE_ORDER.index(family) if family in RULE_ORDER else len(RULE_ORDER)
    return (0 if p.severity is Severity.BLOCK else 1, rank, p.field, p.start or 0)


def check_subject(
    subject: Subject,
    *,
    dictionary: Dictionary,
    people: Register,
    now: datetime,
    settings: ChecksSettings | None = None,
    link_results: Mapping[str, Probe] | None = None,
    public_base_url: str = "",
) -> list[Problem]:
    """Every content rule over one item; pure (no database, no network)."""
    cfg = settings or ChecksSettings()
    today = local_today(now)
    found: list[Problem] = []
    found += secrecy.check(subject, dictionary)
    found += personal.check(subject, today)
    found += register.check(subject, people, today)
    found += wording.check(subject, dictionary)
    found += dates.check(subject, now, cfg.issue_date_margin_days)
    # probed links from the results given (typing: cached ones only); a link that is no
    # http(s) URL at all is dead without a probe
    found += links.check(subject, dict(link_results or {}), public_base_url)
    found += a11y.check(subject, cfg.page_background)
    unique: dict[str, Problem] = {}
    for p in found:
        unique.setdefault(p.key, p)
    return sorted(unique.values(), key=_order)


@dataclass
class Report:
    """One item's problems, content and channel together, with acceptances applied."""

    problems: list[Problem]
    versions: dict[str, int] = field(default_factory=dict)
    links_checked: int = 0
    links_unchecked: int = 0

    @property
    def blocking(self) -> list[Problem]:
        return [p for p in self.problems if p.blocking]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.blocking,
            "blocking": len(self.blocking),
            "counts": {
                "block": sum(p.severity is Severity.BLOCK for p in self.problems),
                "warn": sum(p.severity is Severity.WARN and p.accepted is None for p in self.problems),
                "accepted": sum(p.accepted is not None for p in self.problems),
            },
            "problems": [p.as_dict() for p in self.problems],
            "versions": self.versions,
            "links": {"checked": self.links_checked, "unchecked": self.links_unchecked},
        }


class ContentChecks:
    def __init__(
        self,
        settings: Settings,
        *,
        fetcher: Fetcher | None = None,
        starter: Path = STARTER,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.config = settings.checks
        self.clock = clock
        self.links = LinkChecker(
            fetcher if self.config.links else None,
            LinkCache(ttl=self.config.link_cache_seconds),
            budget_seconds=self.config.link_budget_seconds,
        )
        self.starter: dict[str, Term] = {t.key: t for t in read_tsv(starter)}
        self._lock = threading.Lock()
        self._dictionary: Dictionary | None = None
        self._register: Register | None = None

    # -- the lists ----------------------------------------------------------------------------
    def lists(self, session: Session) -> tuple[Dictionary, Register, dict[str, int]]:
        """The compiled dictionary and register, rebuilt when ops changed them."""
        current = store.versions(session)
        with self._lock:
            if self._dictionary is None or self._dictionary.version != current[store.WORDING]:
                terms = [*self.starter.values(), *store.active_terms(session)]
                self._dictionary = Dictionary(terms, current[store.WORDING])
            if self._register is None or self._register.version != current[store.PEOPLE]:
                self._register = Register(store.people(session), current[store.PEOPLE])
            return self._dictionary, self._register, current

    # -- checking -----------------------------------------------------------------------------
    def subject_of_item(self, item: AnyItem) -> Subject:
        return subject_of(
            item.content,
            uid=item.uid,
            type=item.type,
            publish_at=item.publish_at,
            published_at=item.published_at,
        )

    def check(
        self, session: Session, subject: Subject, *, network: bool = False, now: datetime | None = None
    ) -> Report:
        """Content problems of a subject (no acceptances: see `for_item`)."""
        dictionary, people, current = self.lists(session)
        urls = links.probe_targets(subject, self.settings.public_base_url)
        results = self.links.probe_all(urls) if network else self.links.cached(urls)
        problems = check_subject(
            subject,
            dictionary=dictionary,
            people=people,
            now=now or self.clock(),
            settings=self.config,
            link_results=results,
            public_base_url=self.settings.public_base_url,
        )
        checked = sum(1 for u in set(urls) if u in results)
        return Report(problems, current, checked, len(set(urls)) - checked)

    def for_item(
        self,
        session: Session,
        item: AnyItem,
        *,
        network: bool = False,
        channel_problems: list[FieldError] | None = None,
    ) -> Report:
        """The item's one list: content problems with acceptances applied, and the channels'."""
        report = self.check(session, self.subject_of_item(item), network=network)
        accepted = store.acceptances(session, item.uid)
        problems = [
            replace(p, accepted=accepted[p.key]) if p.severity is Severity.WARN and p.key in accepted else p
            for p in report.problems
        ]
        from publisher.editorial.checks.problem import from_channel

        problems += [from_channel(e) for e in channel_problems or []]
        report.problems = sorted(problems, key=_order)
        return report

    def for_approval(self, session: Session, item: AnyItem) -> list[FieldError]:
        """What refuses this item's approval: blocks and unaccepted warns. Links were probed by
        `prepare` before the transaction; any not in the cache by now are probed here."""
        return list(self.for_item(session, item, network=True).blocking)

    def prepare(self, db: Database, uid: str) -> None:
        """Probe the links of an item (and its release group) before its approval's
        transaction, so no network wait ever holds the approval's locks."""
        if self.links.fetcher is None:
            return
        with db.reader() as s:
            item = s.execute(select(Item).where(Item.uid == uid)).scalar_one_or_none()
            if item is None:
                return
            members = [item]
            if item.release_group:
                members = list(
                    s.execute(
                        select(Item).where(or_(Item.uid == uid, Item.release_group == item.release_group))
                    )
                    .scalars()
                    .all()
                )
            urls = [
                url
                for m in members
                for url in links.probe_targets(self.subject_of_item(m), self.settings.public_base_url)
            ]
        self.links.probe_all(urls)

    def close(self) -> None:
        close = getattr(self.links.fetcher, "close", None)
        if callable(close):
            close()

    # -- acceptance ---------------------------------------------------------------------------
    def revision(self, item: AnyItem) -> str:
        return content_hash(item.content)

    def today(self) -> date:
        return local_today(self.clock())


def source_of(problem: FieldError) -> Source:
    return problem.source if isinstance(problem, Problem) else Source.CHANNEL
