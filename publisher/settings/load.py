"""Reading and checking the settings: `load_settings()` and `check_settings()`.

Every problem is reported with where the value came from — `file:line` for the settings
file, the variable's name for the environment — and the key's full name, all problems at
once:

    配置有误 / configuration error (2):
      config/publisher.toml:41: channels.webhook.retry.max_attempt: 未知的键 / unknown key (max_attempts?)
      config/publisher.toml:27: channels.cms.enabled: 应为 true 或 false / must be true or false, not 'ture'
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from channels import registry
from publisher.settings.model import (
    DEFAULT_CHANNELS,
    DEFAULT_ROUTING,
    ENVIRON,
    LOADED,
    ChannelSection,
    Settings,
    SettingsError,
    _expand_subscribers,
    read_secret,
)
from publisher.settings.sources import (
    EnvOrigin,
    FileOrigin,
    Loc,
    _children,
    _strip,
    channel_fields,
    is_secret,
    read_environment,
    read_toml,
    secret_variables,
)

DEFAULT_PATH = Path("config/publisher.toml")
DEFAULT_ROUTING_PATH = Path("config/routing.toml")


@dataclass
class Origins:
    """Where the values came from, to say so in errors and in `publisher config check`."""

    file: FileOrigin | None = None
    routing: FileOrigin | None = None
    env: EnvOrigin = field(default_factory=EnvOrigin)

    def where(self, loc: Loc) -> str:
        var = self.env.variable_of(loc)
        if var:
            return f"环境变量 / environment variable {var}"
        for origin in (self.file, self.routing):
            if origin is not None and origin.has(loc):
                line = origin.line_of(loc)
                return f"{origin.path}:{line}" if line else str(origin.path)
        if self.file is not None and loc and loc[0] != "routing":
            line = self.file.line_of(loc)  # a missing key: the table it belongs in
            if line:
                return f"{self.file.path}:{line}"
        return ""

    def in_file(self, loc: Loc) -> bool:
        return any(o is not None and o.has(loc) for o in (self.file, self.routing))


@dataclass(frozen=True)
class Problem:
    loc: Loc
    message: str


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- pydantic's errors in our words -----------------------------------------------------------
def _message(error: Mapping[str, Any], known: list[str] | None) -> str:
    kind = str(error["type"])
    loc = tuple(error["loc"])
    got = error.get("input")
    if kind == "extra_forbidden":
        near = difflib.get_close_matches(str(loc[-1]), known or [], n=1)
        hint = f"（是否应为 / did you mean {near[0]}?）" if near else ""
        return f"未知的键 / unknown key{hint}"
    if kind.startswith("bool"):
        return f"应为 true 或 false / must be true or false, not {got!r}"
    if kind.startswith("int"):
        return f"应为整数 / must be an integer, not {got!r}"
    if kind.startswith("float"):
        return f"应为数字 / must be a number, not {got!r}"
    if kind == "missing":
        return "缺少必填项 / required, not given"
    if kind in ("string_type", "list_type", "dict_type", "model_type"):
        want = {"string_type": "文本 / text", "list_type": "列表 / a list", "dict_type": "表 / a table"}
        return f"类型不对，应为 / wrong type, expected {want.get(kind, '表 / a table')}"
    if kind == "enum" or kind == "literal_error":
        return f"取值无效 / invalid value {got!r}: {error['msg']}"
    msg = str(error["msg"]).removeprefix("Value error, ")
    return msg


def known_keys(loc: Loc, settings_model: Any = Settings) -> list[str] | None:
    """The keys the model allows at `loc` (for "did you mean")."""
    node: Any = settings_model
    walked: Loc = ()
    for part in loc:
        if isinstance(part, int):
            args = getattr(_strip(node), "__args__", ())
            node = args[0] if args else node
            continue
        children = _children(node, walked)
        if children is None:
            return None
        if walked == ("channels",):
            node = ("channel", str(part).split(".", 1)[0])
        elif part in children:
            node = children[part]
        else:
            return None
        walked = (*walked, part)
    children = _children(node, walked)
    return sorted(children) if children else None


def problems_of(
    exc: ValidationError, prefix: Loc = (), model: Any = Settings, top: list[str] | None = None
) -> list[Problem]:
    """`top`: the keys allowed at the top of `model` when they are more than its fields
    (a channel section also takes the engine's keys and `<secret>_env` / `_file`)."""
    out = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(p for p in error["loc"] if p != "[key]")
        if "[key]" in error["loc"]:
            out.append(Problem((*prefix, *loc), f"无效的名称 / invalid name: {error['msg']}"))
            continue
        known = top if top is not None and len(loc) == 1 else known_keys(loc[:-1], model)
        out.append(Problem((*prefix, *loc), _message(error, known)))
    return out


def describe(problems: list[Problem], origins: Origins) -> str:
    lines: list[str] = []
    for p in problems:
        loc = _file_loc(p.loc, origins)
        where = origins.where(loc)
        line = f"{where + ': ' if where else ''}{dotted(loc)}: {p.message}"
        if line not in lines:  # a webhook group's shared key is checked in every subscriber
            lines.append(line)
    if len(lines) == 1:
        return lines[0]
    return f"{len(lines)} 处问题 / {len(lines)} problems:\n" + "\n".join("  " + x for x in lines)


def _file_loc(loc: Loc, origins: Origins) -> Loc:
    """Webhook subscriber instances (`channels."webhook.<name>"`) are written in the file as
    `[[channels.webhook.subscribers]]`: point at the subscriber, or the group's shared key."""
    if len(loc) < 2 or loc[0] != "channels" or not str(loc[1]).startswith("webhook."):
        return loc
    name = str(loc[1]).split(".", 1)[1]
    if origins.file is None or not origins.file.has(("channels", "webhook", "subscribers")):
        return loc
    subscribers = origins.file.data["channels"]["webhook"]["subscribers"]
    for i, sub in enumerate(subscribers):
        if isinstance(sub, Mapping) and str(sub.get("name") or i + 1) == name:
            key = loc[2:3]
            sub_loc: Loc = ("channels", "webhook", "subscribers", i, *loc[2:])
            if key and not origins.file.has(sub_loc) and origins.file.has(("channels", "webhook", *key)):
                return ("channels", "webhook", *loc[2:])
            return sub_loc
    return loc


# -- loading ------------------------------------------------------------------------------------
def load_settings(env: Mapping[str, str] | None = None, path: str | Path | None = None) -> Settings:
    """The settings of this process: the file (`path`, else PUBLISHER_CONFIG, else
    config/publisher.toml when present, else none), the routing file, the environment's
    `PUBLISHER_*` variables over them, the built-in defaults under them; checked, adapters'
    sections included. Raises SettingsError naming every problem and where it is."""
    environ = dict(os.environ if env is None else env)
    origins = Origins()
    candidate = path or environ.get("PUBLISHER_CONFIG")
    if candidate:
        config_path = Path(candidate)
        if not config_path.is_file():
            raise SettingsError(f"配置文件不存在 / config file not found: {config_path}")
        origins.file = read_toml(config_path)
    elif DEFAULT_PATH.is_file():
        origins.file = read_toml(DEFAULT_PATH)
    raw = origins.file.data if origins.file else {}

    env_origin, env_problems = read_environment(environ, set(secret_variables(raw)))
    origins.env = env_origin
    if env_problems:
        raise SettingsError("\n".join(env_problems))

    routing_file = env_origin.data.get("routing_file") or raw.get("routing_file")
    if routing_file is None and "routing" not in raw and DEFAULT_ROUTING_PATH.is_file():
        routing_file = DEFAULT_ROUTING_PATH
    routing: dict[str, Any] = {}
    if routing_file:
        routing_path = Path(str(routing_file))
        if not routing_path.is_file():
            raise SettingsError(f"routing_file: 文件不存在 / not found: {routing_path}")
        origins.routing = read_toml(routing_path)
        unknown = set(origins.routing.data) - {"routing"}
        if unknown:
            loc: Loc = (sorted(unknown)[0],)
            raise SettingsError(
                f"{routing_path}:{origins.routing.line_of(loc)}: {loc[0]}: 未知的键 / unknown key (only [routing])"
            )
        routing = {"routing": origins.routing.data.get("routing", {})}

    defaults = {"routing": dict(DEFAULT_ROUTING), "channels": DEFAULT_CHANNELS}
    layers = [env_origin.data, raw, routing, defaults]
    token = LOADED.set(layers)
    environ_token = ENVIRON.set(environ)
    try:
        settings = Settings()
    except ValidationError as exc:
        # the adapters' sections too, so that every problem is told at once
        problems = problems_of(exc) + _raw_channel_problems(layers, origins)
        raise SettingsError(describe(problems, origins)) from None
    else:
        settings._config_path = origins.file.path if origins.file else None
        settings._origins = origins
        check_settings(settings)
    finally:
        LOADED.reset(token)
        ENVIRON.reset(environ_token)
    return settings


def origins_of(settings: Settings) -> Origins:
    found = settings._origins
    return found if isinstance(found, Origins) else Origins()


# -- what pydantic cannot check alone: secrets' origins, adapters' settings, routing ------------
def check_settings(settings: Settings) -> None:
    """Raise SettingsError if any problem is found (build_runtime calls this: start-up fails
    fast, naming the channel and the key)."""
    origins = origins_of(settings)
    problems = settings_problems(settings, origins)
    if problems:
        raise SettingsError(describe(problems, origins))


def settings_problems(settings: Settings, origins: Origins | None = None) -> list[Problem]:
    origins = origins or origins_of(settings)
    problems: list[Problem] = []
    for loc in (("web", "session_secret"), ("alerts", "email", "password"), ("alerts", "webhook_secret")):
        if origins.in_file(loc):
            problems.append(_inline(loc))
    for name in settings.channels:
        problems += channel_problems(settings, name, origins)
    names = set(settings.channels) | set(registry.KINDS)
    for item_type, routed in settings.routing.items():
        for i, channel in enumerate(routed):
            if channel not in names:
                near = difflib.get_close_matches(channel, sorted(names), n=1)
                hint = f"（是否应为 / did you mean {near[0]}?）" if near else ""
                problems.append(
                    Problem(("routing", str(item_type), i), f"未知的渠道 / unknown channel {channel!r}{hint}")
                )
    return problems


def _inline(loc: Loc) -> Problem:
    name = str(loc[-1])
    return Problem(
        loc,
        f"密钥不能写在配置文件中，请用 {name}_env 或 {name}_file / "
        f"a secret is never written in the file: use {name}_env or {name}_file",
    )


def adapter_data(
    model: type[BaseModel], section: Mapping[str, Any], loc: Loc, origins: Origins, *, strict: bool
) -> tuple[dict[str, Any], list[Problem]]:
    """The section as the adapter's model takes it: each secret read from its `<name>_env` or
    `<name>_file` (nested models and lists of them too). `strict`: an unset variable or an
    unreadable file is a problem (enabled channels); otherwise the secret is left out."""
    data = dict(section)
    problems: list[Problem] = []
    for name, info in model.model_fields.items():
        annotation = _strip(info.annotation)
        if is_secret(info.annotation):
            var, path = data.pop(f"{name}_env", None), data.pop(f"{name}_file", None)
            if name in data:
                if origins.in_file((*loc, name)):
                    problems.append(_inline((*loc, name)))
                continue
            try:
                value = read_secret(str(var) if var else None, str(path) if path else None, name)
            except SettingsError as exc:
                if strict:
                    problems.append(Problem((*loc, f"{name}_file"), str(exc).split(": ", 1)[-1]))
                continue
            if value:
                data[name] = value
            elif var and strict:
                problems.append(
                    Problem((*loc, f"{name}_env"), f"环境变量 {var} 未设置 / the variable {var} is not set")
                )
        elif name in data and isinstance(data[name], list) and _element_model(annotation):
            element = _element_model(annotation)
            assert element is not None
            items = []
            for i, entry in enumerate(data[name]):
                if isinstance(entry, Mapping):
                    entry, found = adapter_data(element, entry, (*loc, name, i), origins, strict=strict)
                    problems += found
                items.append(entry)
            data[name] = items
    return data, problems


def _element_model(annotation: Any) -> type[BaseModel] | None:
    args = getattr(annotation, "__args__", ())
    if getattr(annotation, "__origin__", None) is list and args:
        element = _strip(args[0])
        if isinstance(element, type) and issubclass(element, BaseModel):
            return element
    return None


def _merged(layers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for layer in reversed(layers):
        _merge(out, layer)
    return out


def _merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _raw_channel_problems(layers: Sequence[Mapping[str, Any]], origins: Origins) -> list[Problem]:
    channels = _merged([{"channels": layer.get("channels", {})} for layer in layers])["channels"]
    if not isinstance(channels, Mapping):
        return []
    problems = []
    for name, raw in _expand_subscribers(channels).items():
        try:
            section = ChannelSection.model_validate(raw)
        except ValidationError:
            continue  # already told by the settings' own validation
        kind = section.kind or str(name).split(".", 1)[0]
        problems += section_problems(str(name), section, kind, origins)
    return problems


def channel_problems(settings: Settings, name: str, origins: Origins | None = None) -> list[Problem]:
    """One channel instance's section checked against its adapter's settings model."""
    origins = origins or origins_of(settings)
    return section_problems(name, settings.channels[name], settings.kind_of(name), origins)


def section_problems(name: str, section: ChannelSection, kind: str, origins: Origins) -> list[Problem]:
    loc: Loc = ("channels", name)
    if kind not in registry.KINDS:
        known = ", ".join(registry.KINDS)
        return [Problem(loc, f"未知的渠道类型 {kind!r}，可选 {known} / unknown channel kind")]
    try:
        model = registry.channel_class(kind).settings_model
    except ImportError as exc:
        return [Problem(loc, f"渠道适配器无法加载 / the adapter cannot be loaded: {exc}")]
    keys = section.adapter_keys()
    if section.subscribers:
        return []  # a group: its subscribers are the instances, each checked with the shared keys
    strict = section.enabled and section.subscribers is None
    data, problems = adapter_data(model, keys, loc, origins, strict=strict)
    try:
        model.model_validate(data)
    except ValidationError as exc:
        for p in problems_of(exc, loc, model, sorted(channel_fields(kind))):
            relative = p.loc[len(loc) :]
            if not strict and "缺少必填项" in p.message:
                continue  # a disabled channel may be configured only in part
            problems.append(Problem((*loc, *relative), p.message))
    return problems


def resolve_secret(section: Mapping[str, Any], name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The secret `name` of a raw config mapping, from `<name>_env` or `<name>_file`; None if
    unset. (Typed sections resolve their secrets themselves; this serves raw mappings.)"""
    if name in section and section[name] not in (None, ""):
        return str(section[name])
    var = section.get(f"{name}_env")
    if var and env is not None:
        value = env.get(str(var))
        if value:
            return value
        var = None
    return read_secret(str(var) if var else None, section.get(f"{name}_file"), name)
