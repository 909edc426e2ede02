"""HTML that a page shows from content (a body, a channel's rendered article) goes through
`clean`, never `|safe`: the output allow-list of publisher.domain.sanitize, applied at the
moment of showing, so a channel transformation or a stored value from an older version can
never put a script into an approver's page."""

from __future__ import annotations

from jinja2 import Environment
from markupsafe import Markup

from publisher.domain.sanitize import clean_output


def clean(value: object) -> Markup:
    if value is None or value == "":
        return Markup("")
    return Markup(clean_output(str(value)))  # noqa: S704  (sanitised by the allow-list just above)


def install(env: Environment) -> None:
    env.filters["clean"] = clean
