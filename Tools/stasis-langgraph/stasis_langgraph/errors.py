"""Errors raised by the Stasis client: every failed gRPC call becomes a StasisError."""

from __future__ import annotations

import grpc


class StasisError(Exception):
    """A call to the Stasis daemon failed.

    `code` is the gRPC status (`grpc.StatusCode`), `details` the daemon's own message,
    which says what was wrong. `method` names the call that failed.
    """

    def __init__(self, code: grpc.StatusCode, details: str, method: str = "") -> None:
        self.code = code
        self.details = details
        self.method = method
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{code.name}: {details}")


class DaemonError(RuntimeError):
    """A private `stasis serve` process could not be found, started or stopped."""


def from_rpc_error(error: grpc.RpcError, method: str) -> StasisError:
    """The StasisError for a failed call, keeping the daemon's message."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    if code is None:
        code = grpc.StatusCode.UNKNOWN
    return StasisError(code, details or "", method)
