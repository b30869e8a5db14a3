"""A status belongs to its error: engine errors, the server's mapping and the SDK's classes agree."""

from __future__ import annotations

import grpc
import pytest

from omnivec.client import errors as client_errors
from omnivec.indexer import errors
from omnivec.server.limits import CallCancelledError, CallDeadlineError
from omnivec.server.status import status_for


def _engine_error_classes() -> list[type[errors.OmnivecError]]:
    import omnivec.indexer.ann  # noqa: F401 - defines a CorruptDataError subclass of its own

    found, pending = [], list(errors.OmnivecError.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _instance(cls: type[BaseException]) -> BaseException:
    try:
        return cls("what was wrong")
    except TypeError:  # MediaError(source, reason) and AnnIndexUnreadable(path, reason)
        return cls("x.jpg", "what was wrong")  # type: ignore[call-arg]


@pytest.mark.parametrize("cls", _engine_error_classes(), ids=lambda c: c.__name__)
def test_every_engine_error_aborts_with_its_own_status_and_message(
    cls: type[errors.OmnivecError],
) -> None:
    code, message = status_for(_instance(cls))
    assert code is grpc.StatusCode[cls.grpc_status]
    assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)
    assert "what was wrong" in message
    # The SDK raises a class of its own for that status, never the catch-all base...
    assert client_errors.error_class_for(code) is not client_errors.OmnivecClientError
    # ...and the CLI's remote backend turns the status back into the same family of error.
    assert issubclass(cls, errors.error_for_status(cls.grpc_status))


def test_call_errors_and_bugs() -> None:
    assert status_for(CallCancelledError())[0] is grpc.StatusCode.CANCELLED
    assert status_for(CallDeadlineError())[0] is grpc.StatusCode.DEADLINE_EXCEEDED
    assert status_for(NotImplementedError("no"))[0] is grpc.StatusCode.UNIMPLEMENTED
    assert status_for(ZeroDivisionError("boom")) == (grpc.StatusCode.INTERNAL, "")
    # An object-store failure the engine did not translate still gets its own status.
    refused = ValueError(
        "IO { source: Generic { store: \"S3\", source: RetryError(RetryErrorImpl { method: GET, "
        "uri: Some(http://127.0.0.1:1/photos?list-type=2), inner: Http(HttpError { kind: Connect"
    )
    code, message = status_for(refused)
    assert code is grpc.StatusCode.UNAVAILABLE and "bucket 'photos'" in message


def test_a_misspelt_status_fails_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match="NOT_FOUNDD"):

        class Broken(errors.OmnivecError):  # noqa: F841 - defining it is the test
            grpc_status = "NOT_FOUNDD"


def test_error_for_status_picks_the_most_general_class() -> None:
    assert errors.error_for_status("INVALID_ARGUMENT") is errors.InvalidInputError
    assert errors.error_for_status("FAILED_PRECONDITION") is errors.FailedPreconditionError
    assert errors.error_for_status("UNAVAILABLE") is errors.UnavailableError  # a store that is down
    assert errors.error_for_status("DATA_LOSS") is errors.OmnivecError  # no class has it


def test_sdk_classes_read_their_codes_from_the_classes() -> None:
    for cls in client_errors.OmnivecClientError.__subclasses__():
        assert client_errors.error_class_for(cls.default_code) is cls
    assert client_errors.error_class_for(grpc.StatusCode.OUT_OF_RANGE) is client_errors.InvalidArgument
    assert client_errors.error_class_for(grpc.StatusCode.INTERNAL) is client_errors.OmnivecClientError
