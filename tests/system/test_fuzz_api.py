"""API fuzzing with schemathesis against the service's own OpenAPI document.

A real uvicorn serves the app over a migrated SQLite store seeded with items in every workflow
state; schemathesis generates requests from `app.openapi()` (schema-valid and schema-violating
ones), sent with an admin token and, in a second run, an editor token. Path parameters are
sometimes swapped for a real item uid or delivery id so workflow actions reach the service,
not only the 404 path. Checked for every response: never a 5xx, every 4xx in the documented
error shape; after the run every stored item and version re-validates with `ItemIn`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy import select

from publisher.domain.item import ItemIn
from publisher.runtime import Runtime, build_runtime
from publisher.settings import Settings
from publisher.store.models import Delivery, Item, ItemVersion
from publisher.web import create_app
from tests.publisher.web.live import serve
from tests.samples import policy, sample

MAX_EXAMPLES = 8  # per operation and generation mode: about 90 s of CPU for the file


@dataclass
class Fuzzed:
    runtime: Runtime
    base_url: str
    tokens: dict[str, str]
    schema: Any
    uids: list[str]
    delivery_ids: list[int] = field(default_factory=list)


@pytest.fixture
def fuzzed(tmp_path: Path, sqlite_template: Path) -> Iterator[Fuzzed]:
    shutil.copy(sqlite_template, tmp_path / "publisher.db")
    runtime = build_runtime(Settings(data_dir=tmp_path))
    tokens = {}
    actors = {}
    for name in ("editor", "reviewer", "approver", "ops", "admin"):
        actors[name], tokens[name] = runtime.service.add_user(name, name)
    service = runtime.service
    # given items in every workflow state (and deliveries to replay), so actions meet real rows
    uids = [service.create_item(actors["editor"], policy(ref=f"draft-{n}")).uid for n in range(2)]
    for n, data in enumerate([policy(ref="awaiting"), sample("policy-2019-plan"), policy(ref="withdrawn")]):
        uid = service.create_item(actors["editor"], data).uid
        service.submit(actors["editor"], uid)
        service.review(actors["reviewer"], uid)
        if n:
            service.approve(actors["approver"], uid)
        if n == 2:
            service.withdraw(actors["approver"], uid, "测试撤回")
        uids.append(uid)
    with runtime.db.reader() as s:
        delivery_ids = list(s.execute(select(Delivery.id)).scalars())
    app = create_app(runtime)
    schema = schemathesis.openapi.from_dict(app.openapi())
    try:
        with serve(app) as base_url:
            yield Fuzzed(runtime, base_url, tokens, schema, uids, delivery_ids)
    finally:
        runtime.close()


def _known_params(f: Fuzzed, operation: Any) -> st.SearchStrategy[dict[str, Any]]:
    names = {p.name for p in operation.path_parameters}
    known: dict[str, st.SearchStrategy[Any]] = {}
    if "uid" in names:
        known["uid"] = st.sampled_from(f.uids)
    if "delivery_id" in names:
        known["delivery_id"] = st.sampled_from(f.delivery_ids)
    if "channel" in names:
        known["channel"] = st.sampled_from(["rss", "cms", "webhook", "nope"])
    return st.fixed_dictionaries(known)


def _check(response: schemathesis.Response, where: str) -> list[str]:
    status = response.status_code
    if status >= 500:
        return [f"{where}: {status} {response.text[:300]}"]
    if 400 <= status < 500:
        try:
            body = response.json()
        except ValueError:
            return [f"{where}: {status} with a body that is not JSON: {response.text[:200]!r}"]
        entries = body.get("errors") if isinstance(body, dict) else None
        if not (
            isinstance(entries, list)
            and entries
            and all(isinstance(e, dict) and set(e) == {"field", "message"} for e in entries)
            and all(
                isinstance(e["field"], str) and isinstance(e["message"], str) and e["message"]
                for e in entries
            )
        ):
            return [f"{where}: {status} not in the documented error shape: {response.text[:300]}"]
        if status == 409 and not isinstance(body.get("current_state"), str):
            return [f"{where}: 409 without current_state: {response.text[:300]}"]
    return []


def _fuzz_operation(
    f: Fuzzed, who: str, operation: Any, mode: GenerationMode, session: requests.Session
) -> list[str]:
    problems: list[str] = []
    headers = {"Authorization": f"Bearer {f.tokens[who]}"}

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        known=_known_params(f, operation),
        swap=st.booleans(),
    )
    def run(case: Any, known: dict[str, Any], swap: bool) -> None:
        if swap and known and case.path_parameters is not None:
            case.path_parameters.update(known)
        response = case.call(base_url=f.base_url, session=session, headers=headers, timeout=30)
        problems.extend(_check(response, f"{who} {case.method} {case.formatted_path} ({mode.value})"))

    try:
        run()
    except Unsatisfiable:
        # nothing in this operation can be made invalid (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request generated"
    return problems


def _fuzz(f: Fuzzed, who: str) -> list[str]:
    operations = [result.ok() for result in f.schema.get_all_operations()]
    assert len(operations) >= 15, "the OpenAPI document lost its operations"
    problems: list[str] = []
    with requests.Session() as session:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                problems += _fuzz_operation(f, who, operation, mode, session)
    return problems


def _stored_items_revalidate(runtime: Runtime) -> list[str]:
    problems: list[str] = []
    with runtime.db.reader() as s:
        rows = [(i.uid, i.content) for i in s.execute(select(Item)).scalars()]
        rows += [(f"{v.item_id}v{v.number}", v.content) for v in s.execute(select(ItemVersion)).scalars()]
    for name, content in rows:
        data = {k: v for k, v in content.items() if k in ItemIn.model_fields}
        try:
            ItemIn.model_validate(data)
        except Exception as exc:  # any failure is a finding; report it with the item
            problems.append(f"stored item {name} no longer validates: {exc}")
    return problems


@pytest.mark.parametrize("who", ["admin", "editor"])
def test_fuzzed_api_never_fails_and_answers_in_the_error_shape(fuzzed: Fuzzed, who: str) -> None:
    problems = _fuzz(fuzzed, who)
    problems += _stored_items_revalidate(fuzzed.runtime)
    checked, broken = fuzzed.runtime.service.verify_audit()
    problems += [f"audit chain broken at {p.seq}: {p.problem}" for p in broken]
    assert checked > 0
    assert not problems, "\n".join(problems[:30])
