"""The adapter contract every channel implements, and the errors `send` may raise.

    ChannelError                  (never raised itself)
    ├── TransientError            timeouts, connection errors, 5xx, 408, provider "busy": retry later
    │   └── RateLimitedError      429 / quota: retry no earlier than `retry_after` seconds
    ├── PermanentError            content rejected (4xx, provider says no): fail, ops may replay
    └── ChannelConfigError        bad credentials or settings: pause the channel, alert ops

An adapter is constructed once per process from its typed settings and a `ChannelContext`.
`render` is pure (no I/O, no clock). `send` does the remote I/O of one delivery and returns a
`Receipt`, or raises one of the errors above; it never sleeps, loops over retries or touches
the store: the ledger owns retries. Asynchronous channels return `Receipt(accepted=True)` and
answer `confirm` later. `check` is the pre-flight the approval step runs, so problems a channel
would reject are shown to the approver, not discovered at send time.
"""

from __future__ import annotations

import copy
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from publisher.domain.item import Operation, VersionView

if TYPE_CHECKING:  # channels.egress imports this module
    from channels.egress import EgressSettings

__all__ = [
    "CallbackRequest",
    "CopyRef",
    "Holding",
    "Inspecting",
    "CallbackResponse",
    "Channel",
    "Checkpoints",
    "MemoryCheckpoints",
    "MemoryValues",
    "HasDependencies",
    "Batching",
    "Confirming",
    "Digesting",
    "Listing",
    "TakingCallbacks",
    "ChannelConfigError",
    "ChannelContext",
    "ChannelError",
    "ChannelSettings",
    "Confirmation",
    "Operation",
    "Payload",
    "PermanentError",
    "Problem",
    "RateLimitedError",
    "Receipt",
    "SharedValues",
    "TransientError",
]


class ChannelError(Exception):
    """Base of the classified errors. Carries what the attempt row records."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        provider_code: str | None = None,
        response_excerpt: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.provider_code = provider_code
        self.response_excerpt = response_excerpt


class TransientError(ChannelError):
    pass


class RateLimitedError(TransientError):
    def __init__(self, message: str, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PermanentError(ChannelError):
    pass


class ChannelConfigError(ChannelError):
    pass


@dataclass(frozen=True)
class Payload:
    """What `render` produced for one operation; `body` is channel-specific and JSON-ready."""

    kind: str
    operation: Operation
    uid: str
    version: int
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Receipt:
    """What a successful `send` learned. `accepted=True` means the provider took it but has
    not confirmed it live: the delivery stays `accepted` until `confirm` says so."""

    external_id: str | None = None
    url: str | None = None
    accepted: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)
    http_status: int | None = None
    provider_code: str | None = None
    response_excerpt: str | None = None


@dataclass(frozen=True)
class Confirmation:
    """`delivered=None`: still pending, ask again later. `False`: failed for good with `error`.
    `flag` is a note for ops on an item already live (e.g. WeChat deleted or banned it)."""

    delivered: bool | None
    url: str | None = None
    error: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    flag: str | None = None


@dataclass(frozen=True)
class CallbackRequest:
    """An inbound HTTP call from a provider to `/callbacks/<channel>` (e.g. WeChat events)."""

    method: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class CallbackResponse:
    """What to answer the provider, and the outcomes it reported: each confirmation names the
    delivery by the `external_id` the adapter put in its Receipt."""

    status: int = 200
    body: bytes = b"success"
    content_type: str = "text/plain; charset=utf-8"
    confirmations: tuple[tuple[str, Confirmation], ...] = ()


@dataclass(frozen=True)
class Holding:
    """What a channel holds for one item, read back from the channel's own store (for
    reconciliation). `live`: present and visible to the public."""

    uid: str
    version: int | None
    validity: str | None
    live: bool
    external_id: str | None = None
    url: str | None = None
    # when the copy last changed, by the provider's clock (None: the channel cannot tell);
    # later than our delivery means someone edited it by hand
    modified_at: datetime | None = None
    # why it is not live, in the provider's words (trashed, banned, revoked), for ops
    status: str | None = None
    # False: this copy does not carry the version's body (a notice left in place of an
    # abolished article), so the body's outbound links are not in it
    body: bool = True


@dataclass(frozen=True)
class CopyRef:
    """One delivered copy, as the ledger knows it: what `Inspecting.inspect` looks up."""

    uid: str
    version: int
    external_id: str | None = None
    url: str | None = None
    item_type: str | None = None


@dataclass(frozen=True)
class Problem:
    """A pre-flight finding, shown to the approver beside the field it concerns."""

    field: str
    message: str


class ChannelSettings(BaseModel):
    """Base of every adapter's typed settings (secrets as SecretStr, resolved by the caller)."""

    # pydantic quotes the input in its errors; for settings that may be a secret
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    enabled: bool = False


class Checkpoints(Protocol):
    """An adapter's progress through one delivery (ids the provider handed out, media already
    uploaded), kept durably with the delivery by the runtime, so a retry after a lost answer
    or a restart continues where the previous attempt stopped. Keyed by the `key` that `send`
    receives. A replayed delivery (ops' replay after a failure) starts with an empty one."""

    def load(self, key: str) -> dict[str, Any]:
        """The progress saved for this delivery; {} when there is none."""
        ...

    def save(self, key: str, data: Mapping[str, Any]) -> None:
        """Replace the delivery's progress (JSON-ready); durable when this returns. Raises
        TransientError when it cannot be stored (the attempt is then retried)."""
        ...


class SharedValues(Protocol):
    """Small durable values a channel shares across deliveries and processes (a provider
    token, which item an article belongs to, a per-day lease). Names are the channel's own;
    values are JSON-ready. Expired values read as absent. Raises TransientError when the
    store is unavailable."""

    def get(self, name: str) -> Any | None: ...

    def put(self, name: str, value: Any, *, ttl: float | None = None) -> None: ...

    def delete(self, name: str) -> None: ...

    def items(self, prefix: str) -> dict[str, Any]:
        """Every live value whose name starts with `prefix`, by name."""
        ...

    def claim(self, name: str, owner: str, ttl: float) -> bool:
        """Take the lease `name` for `owner` unless another owner holds it unexpired."""
        ...

    def release(self, name: str, owner: str) -> None:
        """Give the lease back if `owner` still holds it."""
        ...


@runtime_checkable
class HasDependencies(Protocol):
    """An adapter that needs services of this deployment besides the database to deliver (a
    Redis cache, a writable folder). `/readyz` runs each check of every enabled channel: a
    name -> a callable returning a short detail, or raising ChannelError when the service is
    unusable. Not the provider itself: a provider that is down is the breaker's business."""

    def dependencies(self) -> dict[str, Callable[[], str]]: ...


class MemoryCheckpoints:
    """Checkpoints of one process, for an adapter used without the runtime (its own tests, a
    probe). The runtime always gives adapters the database-backed ones."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def load(self, key: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._data.get(key, {}))

    def save(self, key: str, data: Mapping[str, Any]) -> None:
        with self._lock:
            self._data[key] = copy.deepcopy(dict(data))


class MemoryValues:
    """SharedValues of one process (see MemoryCheckpoints)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._lock = threading.Lock()

    def _live(self, name: str) -> Any | None:
        value, until = self._data.get(name, (None, None))
        if until is not None and until <= time.monotonic():
            self._data.pop(name, None)
            return None
        return value

    def get(self, name: str) -> Any | None:
        with self._lock:
            return copy.deepcopy(self._live(name))

    def put(self, name: str, value: Any, *, ttl: float | None = None) -> None:
        with self._lock:
            self._data[name] = (copy.deepcopy(value), None if ttl is None else time.monotonic() + ttl)

    def delete(self, name: str) -> None:
        with self._lock:
            self._data.pop(name, None)

    def items(self, prefix: str) -> dict[str, Any]:
        with self._lock:
            names = [n for n in self._data if n.startswith(prefix)]
            return {n: copy.deepcopy(v) for n in names if (v := self._live(n)) is not None}

    def claim(self, name: str, owner: str, ttl: float) -> bool:
        with self._lock:
            holder = self._live(name)
            if holder is not None and holder != owner:
                return False
            self._data[name] = (owner, time.monotonic() + ttl)
            return True

    def release(self, name: str, owner: str) -> None:
        with self._lock:
            if self._live(name) == owner:
                self._data.pop(name, None)


@dataclass(frozen=True)
class ChannelContext:
    """What the deployment gives an adapter: where the service lives and where it may keep
    its own files. `secret(name)` resolves `<name>_env` / `<name>_file` keys of its section."""

    public_base_url: str
    data_dir: Path
    agency_name: str
    secret: Callable[[str], str | None] = lambda _name: None
    # resolves `<name>_env` / `<name>_file` in any mapping (e.g. a nested target of the section)
    resolve_secret: Callable[[Mapping[str, Any], str], str | None] = lambda _section, _name: None
    on_change: Callable[[str, Mapping[str, Any]], None] = lambda _event, _data: None
    # the channel instance name (`webhook.crm`); equals the kind for single-instance channels
    name: str = ""
    # durable per-delivery progress and shared values (the runtime's are in the database)
    checkpoints: Checkpoints = field(default_factory=MemoryCheckpoints)
    shared: SharedValues = field(default_factory=MemoryValues)
    # `[egress]`: how URLs from content or from a provider are fetched (channels/egress.py);
    # None: the guard's defaults (no host allow-listed)
    egress: EgressSettings | None = None


class Channel(ABC):
    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[Operation]] = frozenset(Operation)
    settings_model: ClassVar[type[ChannelSettings]] = ChannelSettings
    # Asynchronous channels (accepted → delivered later) set this and implement `Confirming`.
    asynchronous: ClassVar[bool] = False
    # Whether the copies carry the body with its outbound links, and which carrier comes
    # first: inspection records an item's link drifts once, on the live copy of the lowest
    # rank. None: the copies never carry the body's links (a catalogue record of metadata).
    link_rank: ClassVar[int | None] = None
    # False: the copies never show the body's images from their own addresses (re-hosted or
    # left out), so a dead image address is not in them
    link_images: ClassVar[bool] = True

    def __init__(self, settings: ChannelSettings, context: ChannelContext) -> None:
        self.settings = settings
        self.context = context

    @classmethod
    def from_config(cls, section: Mapping[str, Any], context: ChannelContext) -> Channel:
        """Build from a raw config section; secret keys (`*_env`, `*_file`) are resolved here."""
        data = {k: v for k, v in section.items() if not (k.endswith("_env") or k.endswith("_file"))}
        for key in section:
            if key.endswith("_env") or key.endswith("_file"):
                name = key.rsplit("_", 1)[0]
                if name not in data:
                    data[name] = context.secret(name)
        return cls(cls.settings_model.model_validate(data), context)

    def check(self, version: VersionView) -> list[Problem]:
        """Pre-flight: problems this channel would reject. Pure."""
        return []

    @abstractmethod
    def render(self, version: VersionView, op: Operation) -> Payload:
        """Pure: no I/O, no clock."""

    @abstractmethod
    def send(self, payload: Payload, *, key: str) -> Receipt:
        """One remote delivery; raise only the classified errors above. `key` is stable across
        retries of the same delivery: use it for idempotency."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release clients and connections."""


# -- optional capabilities ---------------------------------------------------------------------
# A channel implements `render`, `send` and `check`; whatever else it can do it declares by
# having the methods of one of these protocols, which the core tests with isinstance.


@runtime_checkable
class Batching(Protocol):
    """A provider with a batch API: several deliveries in one round trip."""

    @property
    def batch_size(self) -> int:
        """How many deliveries `send_many` takes at once."""
        ...

    def send_many(self, batch: Sequence[tuple[Payload, str]]) -> list[Receipt | ChannelError]:
        """`batch` holds (payload, key) pairs, at most `batch_size`; the answer holds one
        outcome per pair, in order: a receipt, or the classified error of that delivery alone.
        Raise only for an error of the whole batch, which then counts for every delivery."""
        ...


@runtime_checkable
class Confirming(Protocol):
    """An asynchronous channel (`asynchronous = True`): a send is accepted, and the provider
    says later whether it went live."""

    def confirm(self, receipt: Receipt) -> Confirmation | None:
        """Ask the provider whether the accepted delivery is live; None while it is pending."""
        ...


@runtime_checkable
class Listing(Protocol):
    """A channel whose own store can be listed (reconcile compares it with the ledger)."""

    def inventory(self) -> Iterable[Holding]:
        """Everything this channel holds for our items, read from the channel's own store
        (posts, articles, records, feed entries)."""
        ...


@runtime_checkable
class Inspecting(Protocol):
    """A channel that can read back one delivered copy (post-publication inspection). It
    reads through the same client and mapping as `inventory`: one read path per channel; a
    channel that serves files of its own (the feeds) also reads what it serves."""

    def inspect(self, ref: CopyRef) -> Holding | None:
        """What the channel holds for this copy now; None when the channel has no trace of it
        (deleted for good). Raises the classified errors when the channel cannot be read
        (the copy is then not checked, never counted as fine)."""
        ...


@runtime_checkable
class TakingCallbacks(Protocol):
    """A provider that pushes outcomes (WeChat's PUBLISHJOBFINISH) to `/callbacks/{channel}`."""

    def handle_callback(self, request: CallbackRequest) -> CallbackResponse | None:
        """Verify and parse the push. None: this deployment takes no pushes (the web layer
        answers 404). A forged or malformed call answers 403/400 in the returned response;
        never raise for it."""
        ...


@runtime_checkable
class Digesting(Protocol):
    """A channel that bundles a day's items into one broadcast (WeChat's daily 群发); the
    periodic scheduler (`publisher.delivery.periodic`) offers it the day's items."""

    def digest(self, versions: Sequence[VersionView], *, day: date, now: datetime) -> Receipt | None:
        """`versions`: the items delivered on this channel on `day` (Asia/Shanghai) and not
        withdrawn; `now` decides whether it is time yet. None: nothing sent now (not time yet,
        or nothing qualifies); the caller asks again on its next run. Idempotent per day: a
        repeat call for a day already sent returns that day's receipt without sending again.
        Raises only the classified errors."""
        ...

    def digest_status(self, receipt: Receipt) -> Confirmation | None:
        """The outcome of a broadcast `digest` returned: None while it is still going out."""
        ...
