"""The one exception hierarchy of omnivec.

Every error the engine raises on purpose is an :class:`OmnivecError`. Each class carries its
gRPC status as ``grpc_status`` (the canonical code name, as in ``google.rpc.Code``), so the
status belongs to the error: the server aborts with it, an HTTP edge can map it, and the CLI's
remote backend turns a status back into the same class with :func:`error_for_status`. No layer
keeps a table of its own. Messages say what was wrong and what to do about it.

    OmnivecError
    ├── InvalidInputError            -> INVALID_ARGUMENT
    │   ├── MediaError               (a file or bytes that cannot be decoded)
    │   └── ConfigError              (a bad setting or config file)
    ├── NotFoundError                -> NOT_FOUND
    ├── AlreadyExistsError           -> ALREADY_EXISTS
    ├── FailedPreconditionError      -> FAILED_PRECONDITION
    │   ├── WeightsUnavailableError  (model weights missing or not allowed to download)
    │   ├── EncoderMismatchError     (a collection built with another encoder)
    │   │   └── PrecisionMismatchError  (the same encoder at another precision: int8 vs fp32)
    │   └── CorruptDataError         (damaged files that could not be recovered)
    ├── ResourceExhaustedError       -> RESOURCE_EXHAUSTED (limits)
    │   └── StorageFullError         (the disk is full: no request of the caller's was too big)
    ├── UnauthenticatedError         -> UNAUTHENTICATED (a token, or object-store credentials)
    ├── PermissionDeniedError        -> PERMISSION_DENIED (paths outside the allowed root, a
    │                                   bucket the credentials may not use)
    └── UnavailableError             -> UNAVAILABLE (the object store cannot be reached now;
                                        a retry may succeed)
"""

from __future__ import annotations

from typing import ClassVar

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
    "PrecisionMismatchError",
    "ResourceExhaustedError",
    "StorageFullError",
    "UnauthenticatedError",
    "UnavailableError",
    "WeightsUnavailableError",
    "error_for_status",
]

# The canonical gRPC status names (google.rpc.Code). Kept as strings so that importing the engine
# does not import grpc; a misspelt name fails when the class is defined.
STATUS_NAMES = frozenset({
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
})


class OmnivecError(Exception):
    """Base class of every deliberate omnivec error; ``str(err)`` is the user-facing message.

    A subclass without its own ``grpc_status`` inherits its parent's.
    """

    grpc_status: ClassVar[str] = "FAILED_PRECONDITION"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.grpc_status not in STATUS_NAMES:
            raise TypeError(f"{cls.__name__}.grpc_status {cls.grpc_status!r} is not a gRPC status")


class InvalidInputError(OmnivecError):
    """The caller sent something unusable (bad argument, bad media, bad filter)."""

    grpc_status = "INVALID_ARGUMENT"


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

    grpc_status = "NOT_FOUND"


class AlreadyExistsError(OmnivecError):
    """Something with that name already exists."""

    grpc_status = "ALREADY_EXISTS"


class FailedPreconditionError(OmnivecError):
    """The request is valid but the system is not in a state to serve it."""

    grpc_status = "FAILED_PRECONDITION"


class WeightsUnavailableError(FailedPreconditionError):
    """Model weights are missing locally and may not (or could not) be downloaded."""


class EncoderMismatchError(FailedPreconditionError):
    """A collection or probe was built with a different encoder than the one configured now."""


class PrecisionMismatchError(EncoderMismatchError):
    """The same encoder and weights, but int8 vectors where the collection holds fp32 ones (or the
    other way round): close, not equal, so mixing them needs the user's explicit opt-in."""


class CorruptDataError(FailedPreconditionError):
    """Stored data is damaged and could not be repaired automatically."""


class ResourceExhaustedError(OmnivecError):
    """A limit was hit: request size, item count, concurrency, or disk space."""

    grpc_status = "RESOURCE_EXHAUSTED"


class StorageFullError(ResourceExhaustedError):
    """The data directory's disk is full; writes fail until space is freed, reads go on.

    Its own class so that an HTTP edge can say 507 (Insufficient Storage) rather than blame the
    size of the request (413)."""


class UnauthenticatedError(OmnivecError):
    """No valid credentials were presented."""

    grpc_status = "UNAUTHENTICATED"


class PermissionDeniedError(OmnivecError):
    """The caller may not touch that resource (for example a path outside the allowed root)."""

    grpc_status = "PERMISSION_DENIED"


class UnavailableError(OmnivecError):
    """A service omnivec depends on (the object store holding the data) cannot be reached or
    answers with a transient failure; nothing was changed, and the same call may succeed later."""

    grpc_status = "UNAVAILABLE"


def error_for_status(status: str) -> type[OmnivecError]:
    """The most general engine error class with that status (``NOT_FOUND`` -> NotFoundError);
    OmnivecError itself for a status no class has. Derived from the classes, not a table."""
    pending: list[type[OmnivecError]] = list(OmnivecError.__subclasses__())
    while pending:  # breadth first: a parent is seen before its subclasses
        cls = pending.pop(0)
        if cls.grpc_status == status:
            return cls
        pending.extend(cls.__subclasses__())
    return OmnivecError
