"""The core's error hierarchy.

    PublisherError
    ├── ValidationError      bad input: 422 with one entry per field
    ├── TransitionError      the item/delivery is not in a state that allows the action: 409
    ├── NotFoundError        404
    ├── AuthError            no or unknown token: 401
    ├── PermissionDeniedError  valid user, wrong role or maker-checker: 403
    └── ThrottledError       too many failed logins: 429 with Retry-After

Messages are Chinese first, English after a " / ", because editors read them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class PublisherError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(PublisherError):
    status = 422

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    @classmethod
    def one(cls, field: str, message: str) -> ValidationError:
        return cls([FieldError(field, message)])


class TransitionError(PublisherError):
    status = 409

    def __init__(self, message: str, current_state: str) -> None:
        super().__init__(message)
        self.current_state = current_state


class NotFoundError(PublisherError):
    status = 404


class AuthError(PublisherError):
    status = 401


class PermissionDeniedError(PublisherError):
    status = 403


class ThrottledError(PublisherError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
