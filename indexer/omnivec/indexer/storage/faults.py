"""Object-store failures as omnivec errors with the status a client can act on.

LanceDB and obstore report a store's refusal as an exception whose text holds the HTTP status
and the store's error code (LanceDB as a ``ValueError`` wrapping the Rust error's debug form).
:func:`storage_fault` reads those and returns the error class that carries the right status,
with a message that names the bucket and the remedy and nothing else of the original text: no
request URL with its query, no header, and so never a credential.

    cannot connect, timed out, 5xx, SlowDown       -> UnavailableError (UNAVAILABLE: retry)
    InvalidAccessKeyId, SignatureDoesNotMatch, 401 -> UnauthenticatedError
    AccessDenied, other 403 (a HEAD has no body)   -> PermissionDeniedError
    NoSuchBucket                                   -> FailedPreconditionError
"""

from __future__ import annotations

import re

from omnivec.indexer.errors import (
    FailedPreconditionError,
    OmnivecError,
    PermissionDeniedError,
    UnauthenticatedError,
    UnavailableError,
)

__all__ = ["bucket_of", "storage_fault"]

_BUCKET_TAG = re.compile(r"<BucketName>([^<]{1,255})</BucketName>")
_REQUEST_URI = re.compile(r"(?:uri: Some\(|performing \w+ )(https?)://([^/\s,)]+)/([^/?\s,)]*)")
_STORE_URI = re.compile(r"\b(?:s3a?|gs|az|abfss?)://([^/\s'\"]+)")
_STATUS = re.compile(r"(?:status: |status code: |Server returned non-2xx status code: )(\d{3})")
_CODE = re.compile(r"<Code>([A-Za-z]{1,64})</Code>")
_UNREACHABLE = (
    "kind: Connect", "error sending request", "Connection refused", "connection refused",
    "kind: Timeout", "operation timed out", "dns error", "connection reset", "Connection reset",
    "tcp connect error", "error trying to connect",
)
_BAD_CREDENTIALS = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
    "TokenRefreshRequired", "AuthorizationHeaderMalformed", "InvalidSecurity",
})


def bucket_of(uri: str) -> str | None:
    """The bucket (or container) of an object-store URI: ``s3://b/x`` -> ``b``."""
    match = _STORE_URI.search(uri)
    return match.group(1) if match else None


def _bucket_in(text: str) -> str | None:
    tag = _BUCKET_TAG.search(text)
    if tag:
        return tag.group(1)
    request = _REQUEST_URI.search(text)
    if request:
        host, first = request.group(2), request.group(3)
        if ".amazonaws.com" in host and not host.startswith("s3."):
            return host.split(".", 1)[0]  # virtual-hosted style: bucket.s3.region.amazonaws.com
        return first or None  # path style: endpoint/bucket/key
    return bucket_of(text)


def _endpoint_in(text: str) -> str | None:
    request = _REQUEST_URI.search(text)
    return f"{request.group(1)}://{request.group(2)}" if request else None


def storage_fault(exc: BaseException, location: str | None = None) -> OmnivecError | None:
    """The omnivec error for an object-store failure, or None when ``exc`` is not one.

    ``location`` (the data directory's URI) names the bucket when the error text does not."""
    if isinstance(exc, OmnivecError):
        return None
    text = f"{type(exc).__name__}: {exc}"
    name = type(exc).__name__
    bucket = _bucket_in(text) or (bucket_of(location) if location else None)
    where = f"bucket {bucket!r}" if bucket else "the object store"
    statuses = [int(s) for s in _STATUS.findall(text)]
    codes = set(_CODE.findall(text))
    if "NoSuchBucket" in codes or "NoSuchBucket" in text:
        return FailedPreconditionError(
            f"{where} does not exist on the object store; create it (e.g. `aws s3 mb "
            f"s3://{bucket or 'BUCKET'}`) or point --data at an existing bucket"
        )
    if codes & _BAD_CREDENTIALS or 401 in statuses or name == "UnauthenticatedError":
        code = sorted(codes & _BAD_CREDENTIALS)
        why = f" ({code[0]})" if code else ""
        return UnauthenticatedError(
            f"the object store rejected the credentials for {where}{why}; check "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or [storage] access_key_id / "
            "secret_access_key in the config file)"
        )
    if 403 in statuses or "AccessDenied" in codes or name == "PermissionDeniedError":
        # A HEAD answer has no body, so a bare 403 may also be a wrong key: say both.
        return PermissionDeniedError(
            f"the object store refused access to {where} (HTTP 403"
            f"{', AccessDenied' if 'AccessDenied' in codes else ''}): the credentials are wrong "
            "or may not use it; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the "
            "bucket's permissions"
        )
    transient = [s for s in statuses if s >= 500 or s in (408, 429)]
    if transient or "SlowDown" in codes or any(marker in text for marker in _UNREACHABLE):
        endpoint = _endpoint_in(text)
        at = f" at {endpoint}" if endpoint else ""
        why = f"HTTP {transient[0]}" if transient else "cannot connect"
        return UnavailableError(
            f"the object store{at} holding {where} is unavailable ({why}); nothing was changed: "
            "retry later, and check the endpoint (AWS_ENDPOINT_URL or [storage] endpoint)"
        )
    return None
