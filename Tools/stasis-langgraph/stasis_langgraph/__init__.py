"""LangGraph checkpointing (and sessions and sandboxes) on a Stasis store, over gRPC."""

from .client import StasisClient
from .daemon import StasisDaemon, find_stasis_binary, init_store
from .errors import DaemonError, StasisError
from .sandbox import SANDBOX_CHECKPOINT_KEY, SANDBOX_SESSION_KEY, SandboxLink
from .saver import StasisSaver

__all__ = [
    "SANDBOX_CHECKPOINT_KEY",
    "SANDBOX_SESSION_KEY",
    "DaemonError",
    "SandboxLink",
    "StasisClient",
    "StasisDaemon",
    "StasisError",
    "StasisSaver",
    "find_stasis_binary",
    "init_store",
]
