"""LangGraph checkpointing, long-term memory (and sessions and sandboxes) on a Stasis store, over gRPC."""

from .client import AsyncStasisClient, StasisClient
from .daemon import StasisDaemon, find_stasis_binary, init_store
from .errors import (
    AbortedError,
    AlreadyExistsError,
    DaemonError,
    DataLossError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    StasisError,
    UnauthenticatedError,
    UnavailableError,
)
from .models import (
    AppendResult,
    Event,
    ExecOutput,
    ExecResult,
    Health,
    HealthStatus,
    Sandbox,
    SandboxNetwork,
    SandboxCheckpoint,
    Session,
    VerifyResult,
)
from .sandbox import SANDBOX_CHECKPOINT_KEY, SANDBOX_SESSION_KEY, SandboxLink
from .saver import StasisSaver
from .store import StasisStore
from .transport import DEFAULT_CONNECT_GRACE

__all__ = [
    "DEFAULT_CONNECT_GRACE",
    "SANDBOX_CHECKPOINT_KEY",
    "SANDBOX_SESSION_KEY",
    "AbortedError",
    "AlreadyExistsError",
    "AppendResult",
    "AsyncStasisClient",
    "DaemonError",
    "DataLossError",
    "DeadlineExceededError",
    "Event",
    "ExecOutput",
    "ExecResult",
    "FailedPreconditionError",
    "Health",
    "HealthStatus",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "Sandbox",
    "SandboxNetwork",
    "SandboxCheckpoint",
    "SandboxLink",
    "Session",
    "StasisClient",
    "StasisDaemon",
    "StasisError",
    "StasisSaver",
    "StasisStore",
    "UnauthenticatedError",
    "UnavailableError",
    "VerifyResult",
    "find_stasis_binary",
    "init_store",
]
