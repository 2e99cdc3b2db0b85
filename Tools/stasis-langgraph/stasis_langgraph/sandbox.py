"""Linking graph checkpoints to sandbox checkpoints.

A `SandboxLink` tells a StasisSaver which sandbox belongs to the graph (by session id, or an
explicit sandbox id) and when to checkpoint it:

- "every_put": at every checkpoint of the root graph (namespace "").
- "every_n": at root checkpoints whose metadata "step" is a multiple of `every` (steps 0, N,
  2N, ...). Step numbers are LangGraph's own, so the choice is the same in every process.
- "on_interrupt": when a task of the root graph is interrupted by `langgraph.types.interrupt()`.
  LangGraph marks that only by a pending write to the INTERRUPT channel ("__interrupt__") on the
  current checkpoint — no new checkpoint is written — so the saver checkpoints the sandbox after
  storing that write. (Static interrupt_before/interrupt_after breakpoints write nothing and are
  not seen; use "every_put" for those.)

Run linked graphs with durability="sync" (or "exit"): with "async", LangGraph's default, a
checkpoint is stored while the next step already runs, so its sandbox checkpoint may include that
step's effects. The saver warns once when it sees a put-time policy used with "async".

Where it is recorded:

- put-time checkpoints go into the graph checkpoint's metadata, as
  metadata["stasis_sandbox_checkpoint"] and metadata["stasis_session"];
- an interrupt-time checkpoint is taken after that metadata was stored, so it is recorded as a
  pending write on the interrupted graph checkpoint: channel "stasis_sandbox_checkpoint", task id
  "stasis-sandbox:<uuid6>" (no task has that id, so LangGraph never applies it), value
  {"stasis_sandbox_checkpoint": id, "stasis_session": session}. The newest record wins.

`StasisSaver.sandbox_checkpoint(config)` reads the metadata first, then the records, and walks
parent_config until one names a sandbox checkpoint. Note that resuming an interrupted graph
re-runs the interrupted node from its start (LangGraph's rule), so a sandbox restored to the
moment of the interrupt sees that node's earlier side effects a second time.

Subgraph checkpoints (namespace != "") never trigger a sandbox checkpoint: they are part of a step
of the root graph, whose own checkpoints (and interrupt writes) cover them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.types import INTERRUPT

SANDBOX_CHECKPOINT_KEY = "stasis_sandbox_checkpoint"
SANDBOX_SESSION_KEY = "stasis_session"
SANDBOX_TASK_PREFIX = "stasis-sandbox:"

Policy = Literal["every_put", "every_n", "on_interrupt"]
_POLICIES = ("every_put", "every_n", "on_interrupt")


@dataclass(frozen=True)
class SandboxLink:
    """The sandbox a graph runs against and when to checkpoint it (see the module doc)."""

    session: str
    policy: Policy = "every_put"
    every: int = 1
    sandbox: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.session and not self.sandbox:
            raise ValueError("SandboxLink needs a session (or a sandbox id)")
        if self.policy not in _POLICIES:
            raise ValueError(f"unknown sandbox policy {self.policy!r}: use one of {', '.join(_POLICIES)}")
        if self.policy == "every_n" and (not isinstance(self.every, int) or self.every < 1):
            raise ValueError(f"policy 'every_n' needs every >= 1, not {self.every!r}")

    @property
    def target(self) -> str:
        """What Sandboxes.Checkpoint is asked to checkpoint: the sandbox id, else the session."""
        return self.sandbox or self.session

    def due_on_put(self, config: RunnableConfig, metadata: Mapping[str, Any]) -> bool:
        if _namespace(config):
            return False
        if self.policy == "every_put":
            return True
        if self.policy == "every_n":
            step = metadata.get("step")
            return isinstance(step, int) and step >= 0 and step % self.every == 0
        return False

    def due_on_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]]) -> bool:
        return (
            self.policy == "on_interrupt"
            and not _namespace(config)
            and any(channel == INTERRUPT for channel, _ in writes)
        )

    def labels_for(self, config: RunnableConfig, checkpoint_id: str, reason: str) -> dict[str, str]:
        return {
            **self.labels,
            "langgraph.thread_id": str(config["configurable"]["thread_id"]),
            "langgraph.checkpoint_id": checkpoint_id,
            "langgraph.reason": reason,
        }


def _namespace(config: RunnableConfig) -> str:
    return config["configurable"].get("checkpoint_ns", "") or ""
