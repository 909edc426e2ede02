"""The content checks' service: every surface (API, pages, CLI) asks it for an item's or a
draft's one problem list, the working copy's preview, accepts a warning, and reads or changes
the ops-maintained dictionary and register. It owns the transactions; the roles are checked
inside (`store` refuses a wrong role before writing, `accept` before reading anything).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.domain.errors import FieldError, NotFoundError, ValidationError
from publisher.domain.item import ItemIn, VersionView
from publisher.domain.permissions import Permission
from publisher.editorial.auth import Actor
from publisher.editorial.checks import store
from publisher.editorial.checks.engine import ContentChecks, Report
from publisher.editorial.checks.fields import draft_errors, subject_of
from publisher.editorial.checks.problem import Problem, from_channel
from publisher.editorial.checks.wording import Term
from publisher.editorial.preview import ChannelPreview, Renderers, preview, preview_view
from publisher.editorial.workflow import get_item
from publisher.settings import Settings
from publisher.store.db import Database
from publisher.store.models import Item


class CheckService:
    def __init__(self, db: Database, settings: Settings, renderers: Renderers, checks: ContentChecks) -> None:
        self.db = db
        self.settings = settings
        self.renderers = renderers
        self.checks = checks

    # -- the one problem list ---------------------------------------------------------------------
    def _channel_problems(self, session: Session, item: Item) -> list[FieldError]:
        channels = self.settings.routed_channels(item.type)
        if not channels:
            return []
        return self.renderers.preflight(preview_view(session, self.settings, item), channels)

    def item_report(self, uid: str, *, network: bool = False) -> tuple[dict[str, Any], Report]:
        """An item's one list: content problems (acceptances applied) and the channels' pre-flight."""
        if network:
            self.checks.prepare(self.db, uid)
        with self.db.reader() as s:
            item = get_item(s, uid)
            report = self.report_of(s, item)
            info = {
                "uid": item.uid,
                "title": item.title,
                "state": item.state,
                "revision": self.checks.revision(item),
            }
        return info, report

    def report_of(self, session: Session, item: Item) -> Report:
        """`item_report` of an item the caller read in its own session (cached link results
        only: no network)."""
        return self.checks.for_item(session, item, channel_problems=self._channel_problems(session, item))

    def item_type(self, uid: str) -> str | None:
        with self.db.reader() as s:
            return s.execute(select(Item.type).where(Item.uid == uid)).scalar_one_or_none()

    def draft_report(self, data: dict[str, Any], uid: str | None = None) -> Report:
        """A draft as it is typed: content problems (cached link results only) and, when the
        draft is a valid item, its channels' pre-flight; a saved item's acceptances apply. A
        value of the wrong type (or longer than an item allows) is refused naming its field."""
        if errors := draft_errors(data):
            raise ValidationError(errors)
        with self.db.reader() as s:
            item = None
            if uid:
                item = s.execute(select(Item).where(Item.uid == uid)).scalar_one_or_none()
            item_type = item.type if item is not None else data.get("type")
            subject = subject_of(
                data,
                uid=item.uid if item is not None else None,
                type=item_type if isinstance(item_type, str) else None,
                published_at=item.published_at if item is not None else None,
            )
            report = self.checks.check(s, subject)
            accepted = store.acceptances(s, item.uid) if item is not None else {}
            report.problems = [
                replace(p, accepted=accepted[p.key]) if p.key in accepted else p for p in report.problems
            ]
            channel = self._draft_channels(s, data, item)
        report.problems += channel
        return report

    def _draft_channels(self, s: Session, data: dict[str, Any], item: Item | None) -> list[Problem]:
        merged = dict(data)
        if item is not None:
            merged["type"], merged["ref"] = item.type, item.ref
        try:
            parsed = ItemIn.model_validate(merged)
        except (PydanticValidationError, ValueError, TypeError):
            return []  # not yet a whole item: the channels judge it once it is
        draft = Item(
            id=item.id if item is not None else None,
            uid=item.uid if item is not None else "draft",
            type=parsed.type.value,
            title=parsed.title,
            content={**parsed.content(), "issuing_body": parsed.issuing_body or self.settings.agency.name},
            index_number=item.index_number if item is not None else None,
            validity=item.validity if item is not None else parsed.validity.value,
            live_version=item.live_version if item is not None else None,
            publish_at=parsed.publish_at,
            published_at=item.published_at if item is not None else None,
            validity_changed_on=item.validity_changed_on if item is not None else None,
            abolished_by=item.abolished_by if item is not None else None,
        )
        # `draft` is transient (never added to the session): nothing of it reaches the store
        return [from_channel(e) for e in self._channel_problems(s, draft)]

    def preview(self, uid: str) -> tuple[str, VersionView, list[ChannelPreview]]:
        """The item's state, the view approving it now would freeze, and each routed channel's
        render of it with its pre-flight problems. Writes nothing."""
        with self.db.reader() as s:
            item = s.execute(select(Item).where(Item.uid == uid)).scalar_one_or_none()
            if item is None:
                raise NotFoundError(f"item {uid} not found")
            view, channels = preview(s, self.settings, self.renderers, item)
            return item.state, view, channels

    def accept(self, actor: Actor, uid: str, key: str, reason: str) -> Report:
        """A reviewer accepts one current warning of the item (audited)."""
        actor.require(Permission.ITEM_REVIEW)  # before anything else: a refusal reads nothing
        self.checks.prepare(self.db, uid)  # a redirect warning needs its link's result in the cache

        def run(s: Session) -> None:
            item = get_item(s, uid, lock=True)
            current = self.checks.for_item(s, item)
            problem = next((p for p in current.problems if p.key == key), None)
            store.accept(s, actor, uid, item.state, self.checks.revision(item), problem, key, reason)

        self.db.run(run)
        return self.item_report(uid)[1]

    # -- the dictionary and the register (ops) ------------------------------------------------------
    @property
    def starter(self) -> dict[str, Term]:
        return self.checks.starter

    def words(self, *, include_removed: bool = False) -> tuple[int, list[dict[str, Any]]]:
        """The dictionary's version and its ops entries."""
        with self.db.reader() as s:
            return store.versions(s)[store.WORDING], store.term_rows(s, include_removed=include_removed)

    def add_term(
        self,
        actor: Actor,
        term: str,
        kind: str,
        *,
        suggestion: str | None = None,
        severity: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        return self.db.run(
            lambda s: store.add_term(
                s, actor, term, kind, suggestion=suggestion, severity=severity, note=note
            )
        )

    def import_terms(self, actor: Actor, terms: Iterable[Term]) -> int:
        """Several entries in one transaction: all of them or none."""
        actor.require(Permission.CONFIGURE)
        rows = list(terms)

        def run(s: Session) -> int:
            for t in rows:
                store.add_term(
                    s,
                    actor,
                    t.term,
                    t.kind.value,
                    suggestion=t.suggestion,
                    severity=t.severity.value if t.severity else None,
                    note=t.note,
                )
            return len(rows)

        return self.db.run(run)

    def remove_term(self, actor: Actor, term: str) -> dict[str, Any]:
        return self.db.run(lambda s: store.remove_term(s, actor, term, starter=self.checks.starter))

    def people(self, *, include_removed: bool = False) -> tuple[int, list[dict[str, Any]]]:
        """The register's version and its entries."""
        with self.db.reader() as s:
            return store.versions(s)[store.PEOPLE], store.people_rows(s, include_removed=include_removed)

    def add_person(
        self, actor: Actor, name: str, title: str, valid_from: date, valid_to: date | None, note: str | None
    ) -> dict[str, Any]:
        return self.db.run(lambda s: store.add_person(s, actor, name, title, valid_from, valid_to, note))

    def remove_person(self, actor: Actor, entry_id: int) -> dict[str, Any]:
        return self.db.run(lambda s: store.remove_person(s, actor, entry_id))
