"""The effective configuration as TOML, secrets masked (`publisher config check`).

What the service will run with: the file, the environment and the defaults merged, each
enabled channel's adapter settings with their defaults; a secret shows as `**********` (or
`(未设置 / not set)`), never its value, beside the `<name>_env` / `<name>_file` it comes from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr, ValidationError

from channels import registry
from publisher.settings.load import adapter_data, origins_of
from publisher.settings.model import Settings
from publisher.settings.sources import is_secret

MASK = "**********"
NOT_SET = "(未设置 / not set)"


def effective(settings: Settings) -> dict[str, Any]:
    data = settings.model_dump(mode="json", by_alias=True, exclude={"channels"})
    data["database"]["url"] = _hide_password(data["database"]["url"])
    data["channels"] = {name: _channel(settings, name) for name in settings.channels}
    return data


def _hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1" + MASK + "@", url)


def _channel(settings: Settings, name: str) -> dict[str, Any]:
    section = settings.channels[name]
    out = {k: v for k, v in section.model_dump(mode="json").items() if k not in (section.model_extra or {})}
    raw = section.adapter_keys()
    try:
        model = registry.channel_class(settings.kind_of(name)).settings_model
        resolved, _ = adapter_data(model, raw, ("channels", name), origins_of(settings), strict=False)
        adapter = model.model_validate(resolved)
    except (registry.UnknownChannelError, ImportError, ValidationError):
        out.update(_masked(raw))  # `config check` reports why; show what was given
        return out
    shown = adapter.model_dump(mode="json")
    for field, info in type(adapter).model_fields.items():
        if is_secret(info.annotation):
            shown[field] = MASK if isinstance(getattr(adapter, field), SecretStr) else NOT_SET
    out.update(shown)
    out.update({k: v for k, v in raw.items() if k.endswith(("_env", "_file"))})
    return out


def _masked(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Raw keys whose names say secret (an adapter that could not be loaded): masked."""
    secretive = ("secret", "password", "token", "key")
    return {
        k: MASK if any(w in k for w in secretive) and not k.endswith(("_env", "_file")) else v
        for k, v in raw.items()
    }


# -- TOML ---------------------------------------------------------------------------------------
def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value), ensure_ascii=False)


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def to_toml(data: Mapping[str, Any], path: tuple[str, ...] = ()) -> str:
    """TOML for plain data (None values are left out: TOML has no null)."""
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, Mapping) or _is_tables(value):
            tables.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    out = "\n".join(lines)
    for key, value in tables:
        sub = (*path, key)
        name = ".".join(_key(p) for p in sub)
        if isinstance(value, Mapping):
            body = to_toml(value, sub)
            out += f"\n\n[{name}]\n{body}" if body.strip() else f"\n\n[{name}]"
        else:
            for element in value:
                out += f"\n\n[[{name}]]\n{to_toml(element, sub)}"
    return out.strip("\n")
