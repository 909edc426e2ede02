"""The live check of a channel (`publisher config check --live`): an optional capability.

An adapter that can try its credentials and reach its provider without changing anything
there implements `probe()`; the core tests for it with `isinstance(adapter, Probing)`.
`probe` returns what it found, in Chinese and English, or raises the classified errors of
channels.base: ChannelConfigError when the provider refuses the credentials,
TransientError when it cannot be reached, PermanentError when it answers unexpectedly.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Probing(Protocol):
    def probe(self) -> str:
        """Try the credentials and reachability; a short bilingual description of success."""
        ...


__all__ = ["Probing"]
