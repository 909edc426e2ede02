"""Where settings come from: the TOML file (with each key's line, which tomllib does not
give) and `PUBLISHER_*` environment variables, resolved against the model.

Environment variables are `PUBLISHER_<AREA>_<FIELD>`; nesting uses the same underscore, and
the model decides where one name ends: `PUBLISHER_AGENCY_INDEX_PATTERN` is
`agency.index_pattern`, `PUBLISHER_CHANNELS_WEBHOOK_RETRY_MAX_ATTEMPTS` is
`channels.webhook.retry.max_attempts`. Lists and tables take JSON
(`PUBLISHER_ROUTING_POLICY='["rss", "cms"]'`). A variable whose area is not a settings area
(PUBLISHER_CONFIG, PUBLISHER_USER, a secret named by a `*_env` key, …) is not a setting;
one inside an area that names no key is an error, like an unknown key in the file.
"""

from __future__ import annotations

import json
import re
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from channels import registry
from publisher.settings.model import ChannelSection, Settings, SettingsError

Loc = tuple[str | int, ...]
PREFIX = "PUBLISHER_"

# Older variable names, documented before the areas existed; still read.
LEGACY_VARIABLES: dict[str, Loc] = {
    "PUBLISHER_DISPATCH_STALE_SECONDS": ("celery", "dispatch_stale_seconds"),
    "PUBLISHER_BATCH_SIZE": ("celery", "batch_size"),
    "PUBLISHER_LANE_THREADS": ("celery", "lane_threads"),
    "PUBLISHER_LANE_SLOTS": ("celery", "lane_slots"),
    "PUBLISHER_HEARTBEAT_SECONDS": ("celery", "heartbeat_seconds"),
    "PUBLISHER_SESSION_SECRET": ("web", "session_secret"),
}


class DataSource(PydanticBaseSettingsSource):
    """A source whose values were read beforehand (pydantic-settings deep-merges sources,
    the first given winning)."""

    def __init__(self, settings_cls: type[BaseSettings], data: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self.data = dict(data)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


# -- the TOML file ------------------------------------------------------------------------------
_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY = rf"(?:{_BARE}|{_QUOTED})(?:\s*\.\s*(?:{_BARE}|{_QUOTED}))*"
_ASSIGN = re.compile(rf"^\s*({_KEY})\s*=\s*(.*)$")
_PART = re.compile(rf"\s*({_BARE}|{_QUOTED})\s*\.?")


def _key_parts(text: str) -> tuple[str, ...]:
    parts = []
    for m in _PART.finditer(text.strip()):
        token = m.group(1)
        if token[0] in "\"'":
            token = json.loads(token) if token[0] == '"' else token[1:-1]
        parts.append(token)
    return tuple(parts)


def _open_brackets(value: str) -> int:
    """How many [ or { the value leaves open (strings and comments skipped)."""
    depth, quote, i = 0, "", 0
    while i < len(value):
        c = value[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            break
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        i += 1
    return depth


def key_lines(text: str) -> dict[Loc, int]:
    """Each key's and table's line in a TOML text: {("channels", "cms", "enabled"): 31, …};
    arrays of tables count from 0 (`("channels", "cityplatform", "targets", 0, "url")`)."""
    lines: dict[Loc, int] = {}
    arrays: dict[tuple[str, ...], int] = {}
    table: tuple[str | int, ...] = ()
    multiline = ""  # the closing quotes of an open multi-line string
    open_depth = 0

    def full(path: tuple[str, ...], own_array: bool) -> Loc:
        out: list[str | int] = []
        for i in range(len(path)):
            out.append(path[i])
            prefix = path[: i + 1]
            if prefix in arrays and not (own_array and i == len(path) - 1):
                out.append(arrays[prefix])
        return tuple(out)

    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if multiline:
            if multiline in line:
                multiline = ""
            continue
        if open_depth > 0:
            open_depth += _open_brackets(line)
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith("[["):
            path = _key_parts(line[2 : line.index("]]")])
            arrays[path] = arrays.get(path, -1) + 1
            for key in [k for k in arrays if len(k) > len(path) and k[: len(path)] == path]:
                del arrays[key]  # a new element starts its own nested arrays afresh
            table = full(path, own_array=True) + (arrays[path],)
            lines.setdefault(table[:-1], n)
            lines[table] = n
            continue
        if line.startswith("["):
            table = full(_key_parts(line[1 : line.index("]")]), own_array=False)
            lines.setdefault(table, n)
            continue
        m = _ASSIGN.match(line)
        if m is None:
            continue
        here: Loc = table + _key_parts(m.group(1))
        lines.setdefault(here, n)
        value = m.group(2)
        for quotes in ('"""', "'''"):
            if value.startswith(quotes) and value.count(quotes) == 1:
                multiline = quotes
        open_depth = _open_brackets(value) if not multiline else 0
    return lines


@dataclass
class FileOrigin:
    path: Path
    data: dict[str, Any]
    lines: dict[Loc, int]

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc`, or of the nearest enclosing key or table the file has."""
        for end in range(len(loc), 0, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None

    def has(self, loc: Loc) -> bool:
        node: Any = self.data
        for part in loc:
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return False
        return True


def read_toml(path: Path) -> FileOrigin:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{path}: 无法读取 / cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: 文件须为 UTF-8 编码 / the file must be UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: TOML 格式错误 / not valid TOML: {exc}") from exc
    return FileOrigin(path=path, data=data, lines=key_lines(text))


# -- the environment ----------------------------------------------------------------------------
def _strip(annotation: Any) -> Any:
    """The type under Optional[...] / Annotated[...]."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_complex(annotation: Any) -> bool:
    return _is_model(annotation) or typing.get_origin(annotation) in (list, dict, tuple, set)


def is_secret(annotation: Any) -> bool:
    return _strip(annotation) is SecretStr


def channel_fields(kind: str) -> dict[str, Any]:
    """Every key a `[channels.<kind>]` section may hold, with its type: the engine's keys,
    the adapter's settings model and the `<secret>_env` / `<secret>_file` of its secrets."""
    out: dict[str, Any] = {n: f.annotation for n, f in ChannelSection.model_fields.items()}
    try:
        model = registry.channel_class(kind).settings_model
    except (registry.UnknownChannelError, ImportError):
        return out
    for name, f in model.model_fields.items():
        out[name] = f.annotation
        if is_secret(f.annotation):
            out[f"{name}_env"] = str
            out[f"{name}_file"] = str
    return out


def _children(node: Any, loc: Loc) -> dict[str, Any] | None:
    """The keys below a node of the model (None: a leaf)."""
    if loc == ("channels",):
        return {kind: ("channel", kind) for kind in registry.KINDS}
    if isinstance(node, tuple) and node[0] == "channel":
        return channel_fields(node[1])
    node = _strip(node)
    if _is_model(node):
        return {n: f.annotation for n, f in node.model_fields.items()}
    return None


def _resolve(rest: str, node: Any, loc: Loc) -> tuple[Loc, Any] | None:
    """Split `rest` (lower case, after the prefix) into keys the model knows, longest first."""
    children = _children(node, loc)
    if children is None:
        return None
    for name in sorted(children, key=len, reverse=True):
        child = children[name]
        if rest == name:
            return (*loc, name), child
        if rest.startswith(name + "_"):
            if (*loc, name) != ("channels",) and typing.get_origin(_strip(child)) is dict:
                return (*loc, name, rest[len(name) + 1 :]), typing.get_args(_strip(child))[1]
            found = _resolve(rest[len(name) + 1 :], child, (*loc, name))
            if found is not None:
                return found
    return None


@dataclass
class EnvOrigin:
    data: dict[str, Any] = field(default_factory=dict)
    variables: dict[Loc, str] = field(default_factory=dict)

    def variable_of(self, loc: Loc) -> str | None:
        for end in range(len(loc), 0, -1):
            if loc[:end] in self.variables:
                return self.variables[loc[:end]]
        return None


def _put(data: dict[str, Any], loc: Loc, value: Any) -> None:
    node = data
    for part in loc[:-1]:
        node = node.setdefault(str(part), {})
    node[str(loc[-1])] = value


def read_environment(environ: Mapping[str, str], secret_variables: set[str]) -> tuple[EnvOrigin, list[str]]:
    """The settings the environment sets, and the problems (unknown keys, bad JSON)."""
    origin = EnvOrigin()
    problems: list[str] = []
    areas = set(Settings.model_fields)
    for var in sorted(environ):
        if not var.startswith(PREFIX) or var in secret_variables:
            continue
        value = environ[var]
        if var in LEGACY_VARIABLES:
            loc: Loc = LEGACY_VARIABLES[var]
            annotation: Any = str
        else:
            rest = var[len(PREFIX) :].lower()
            found = _resolve(rest, Settings, ())
            if found is None:
                if any(rest == a or rest.startswith(a + "_") for a in areas):
                    problems.append(
                        f"环境变量 / environment variable {var}: 没有这个设置项 / names no setting "
                        f"(PUBLISHER_<AREA>_<FIELD>, e.g. PUBLISHER_CHANNELS_CMS_ENABLED)"
                    )
                continue
            loc, annotation = found
        if _is_complex(_strip(annotation)) if not isinstance(annotation, tuple) else True:
            try:
                parsed: Any = json.loads(value)
            except ValueError:
                problems.append(f"环境变量 / environment variable {var}: 应为 JSON / expects JSON")
                continue
        else:
            parsed = value
        _put(origin.data, loc, parsed)
        origin.variables[loc] = var
    return origin, problems


def secret_variables(data: Any) -> Iterator[str]:
    """Environment variables that `*_env` keys name: secrets, never settings themselves."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            if str(key).endswith("_env") and isinstance(value, str):
                yield value
            else:
                yield from secret_variables(value)
    elif isinstance(data, list):
        for value in data:
            yield from secret_variables(value)
