"""The one exception hierarchy of omnivec.

Every error the engine raises on purpose is an :class:`OmnivecError`. The server maps the classes
below to gRPC status codes in exactly one place (``omnivec.server.status``); the CLI prints the
message without a traceback. Messages say what was wrong and what to do about it.

    OmnivecError
    ├── InvalidInputError            -> INVALID_ARGUMENT
    │   ├── MediaError               (a file or bytes that cannot be decoded)
    │   └── ConfigError              (a bad setting or config file)
    ├── NotFoundError                -> NOT_FOUND
    ├── AlreadyExistsError           -> ALREADY_EXISTS
    ├── FailedPreconditionError      -> FAILED_PRECONDITION
    │   ├── WeightsUnavailableError  (model weights missing or not allowed to download)
    │   ├── EncoderMismatchError     (a collection built with another encoder)
    │   └── CorruptDataError         (damaged files that could not be recovered)
    ├── ResourceExhaustedError       -> RESOURCE_EXHAUSTED (limits, full disk)
    ├── UnauthenticatedError         -> UNAUTHENTICATED
    └── PermissionDeniedError        -> PERMISSION_DENIED (paths outside the allowed root)
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "ConfigError",
    "CorruptDataError",
    "EncoderMismatchError",
    "FailedPreconditionError",
    "InvalidInputError",
    "MediaError",
    "NotFoundError",
    "OmnivecError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "UnauthenticatedError",
    "WeightsUnavailableError",
]


class OmnivecError(Exception):
    """Base class of every deliberate omnivec error; ``str(err)`` is the user-facing message."""


class InvalidInputError(OmnivecError):
    """The caller sent something unusable (bad argument, bad media, bad filter)."""


class MediaError(InvalidInputError):
    """A file or byte string could not be read as the media it claims to be.

    ``source`` names the file (or ``<bytes>``) so batch summaries can say which input failed.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class ConfigError(InvalidInputError):
    """A setting or configuration file is invalid."""


class NotFoundError(OmnivecError):
    """A named collection, item, probe or file does not exist."""


class AlreadyExistsError(OmnivecError):
    """Something with that name already exists."""


class FailedPreconditionError(OmnivecError):
    """The request is valid but the system is not in a state to serve it."""


class WeightsUnavailableError(FailedPreconditionError):
    """Model weights are missing locally and may not (or could not) be downloaded."""


class EncoderMismatchError(FailedPreconditionError):
    """A collection or probe was built with a different encoder than the one configured now."""


class CorruptDataError(FailedPreconditionError):
    """Stored data is damaged and could not be repaired automatically."""


class ResourceExhaustedError(OmnivecError):
    """A limit was hit: request size, item count, concurrency, or disk space."""


class UnauthenticatedError(OmnivecError):
    """No valid credentials were presented."""


class PermissionDeniedError(OmnivecError):
    """The caller may not touch that resource (for example a path outside the allowed root)."""
