"""Reading numbers out of untrusted text (query values, headers, provider responses)."""

from __future__ import annotations


def ascii_digits(text: str) -> bool:
    """Whether `text` is a non-empty run of 0-9. `str.isdigit()` alone also admits '²', which
    `int()` refuses (a 500 where a 422 belongs), and '١', which `int()` reads as 1."""
    return text.isascii() and text.isdigit()
