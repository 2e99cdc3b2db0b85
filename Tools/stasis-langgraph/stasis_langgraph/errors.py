"""Errors raised by the Stasis client.

Every failed call raises a `StasisError` (or one of its subclasses, chosen by the gRPC status):
it carries the gRPC `code`, the daemon's own message (`details`), the call (`method`) and the
daemon's `address`, and its text names all four.

    StasisError                      any failed call
    ├── UnavailableError             UNAVAILABLE: no daemon at the address (or it went away)
    ├── DeadlineExceededError        DEADLINE_EXCEEDED: no answer within the timeout
    ├── NotFoundError                NOT_FOUND (also a LookupError)
    ├── InvalidArgumentError         INVALID_ARGUMENT (also a ValueError)
    ├── AlreadyExistsError           ALREADY_EXISTS
    ├── FailedPreconditionError      FAILED_PRECONDITION
    ├── AbortedError                 ABORTED: e.g. two writers raced on one thread
    ├── DataLossError                DATA_LOSS: stored data is damaged; the daemon refused it
    ├── ResourceExhaustedError       RESOURCE_EXHAUSTED: e.g. a request above --max-message
    ├── UnauthenticatedError         UNAUTHENTICATED: TCP without the right token
    └── PermissionDeniedError        PERMISSION_DENIED

`DaemonError` is separate: a private `stasis serve` could not be found, started or stopped.
"""

from __future__ import annotations

from typing import Any

import grpc


class StasisError(Exception):
    """A call to the Stasis daemon failed.

    Attributes:
        code: the gRPC status (`grpc.StatusCode`).
        details: the daemon's message (or the client's, when no daemon answered), which says
            what was wrong.
        method: the call that failed, e.g. "Checkpointer.Put" ("" if unknown).
        address: the daemon's address as given to the client ("" if unknown).
    """

    #: The gRPC status this class stands for (None: any).
    grpc_code: grpc.StatusCode | None = None

    def __init__(self, code: grpc.StatusCode, details: str, method: str = "", address: str = "") -> None:
        self.code = code
        self.details = details
        self.method = method
        self.address = address
        where = f"{method}: " if method else ""
        at = f" [daemon at {address}]" if address and address not in details else ""
        super().__init__(f"{where}{code.name}: {details}{at}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.details, self.method, self.address))


class UnavailableError(StasisError):
    """No daemon answers at the address (nothing listening, socket missing, daemon gone
    mid-call, or draining), after waiting `connect_grace` seconds for it to come back."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceededError(StasisError):
    """The daemon did not answer within the call's timeout."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFoundError(StasisError, LookupError):
    """What the call named (session, sandbox, checkpoint, ...) does not exist."""

    grpc_code = grpc.StatusCode.NOT_FOUND


class InvalidArgumentError(StasisError, ValueError):
    """The daemon refused the request's contents; `details` says which field and why."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class AlreadyExistsError(StasisError):
    """The call would create something that exists already."""

    grpc_code = grpc.StatusCode.ALREADY_EXISTS


class FailedPreconditionError(StasisError):
    """The store is not in a state the call needs (e.g. a copy target that has checkpoints)."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class AbortedError(StasisError):
    """The call lost a race (e.g. two writers put different checkpoints under one id)."""

    grpc_code = grpc.StatusCode.ABORTED


class DataLossError(StasisError):
    """Stored data failed its checks; the daemon refused to return it."""

    grpc_code = grpc.StatusCode.DATA_LOSS


class ResourceExhaustedError(StasisError):
    """A limit was hit (e.g. a request larger than the daemon's --max-message)."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class UnauthenticatedError(StasisError):
    """The daemon wants a (different) token: TCP listeners require one."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDeniedError(StasisError):
    """The daemon refused the call for this caller."""

    grpc_code = grpc.StatusCode.PERMISSION_DENIED


_BY_CODE: dict[grpc.StatusCode, type[StasisError]] = {
    cls.grpc_code: cls
    for cls in (
        UnavailableError,
        DeadlineExceededError,
        NotFoundError,
        InvalidArgumentError,
        AlreadyExistsError,
        FailedPreconditionError,
        AbortedError,
        DataLossError,
        ResourceExhaustedError,
        UnauthenticatedError,
        PermissionDeniedError,
    )
    if cls.grpc_code is not None
}


def error_for(code: grpc.StatusCode, details: str, method: str = "", address: str = "") -> StasisError:
    """The StasisError (subclass) for a gRPC status."""
    return _BY_CODE.get(code, StasisError)(code, details, method, address)


class DaemonError(RuntimeError):
    """A private `stasis serve` process could not be found, started or stopped."""


def from_rpc_error(error: grpc.RpcError, method: str, address: str = "") -> StasisError:
    """The StasisError for a failed call, keeping the daemon's message."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    if code is None:
        code = grpc.StatusCode.UNKNOWN
    return error_for(code, details or "", method, address)
