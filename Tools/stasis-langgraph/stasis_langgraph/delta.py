"""Sending a channel's new value as an edit of the value this client last sent or read.

LangGraph serialises a channel's whole value at every put, so a message list that grows by one
message per step is sent whole every step. The daemon accepts a value as
`head + base[copy_offset : copy_offset + copy_length] + tail`, where base is the same channel's
value at an earlier version (`ValueDelta` in Formats/proto/stasis.proto). For an appended list
the serialised bytes are the old bytes with a changed length header at the front and new items
at the end, so the delta is a few header bytes plus the new items.

Every delta is checked here byte for byte (memcmp, no copies) before it is sent: what the daemon
rebuilds is exactly what serde produced. When the daemon no longer has the base (deleted, another
daemon) it answers FAILED_PRECONDITION and the saver sends the whole value.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

#: Values smaller than this are sent whole: a delta would not save enough to matter.
MIN_DELTA_BYTES = 4096
#: How far after the first difference the old bytes must start matching again (a header).
MAX_HEADER_EDIT = 32


@dataclass(frozen=True)
class Delta:
    head: bytes
    copy_offset: int
    copy_length: int
    tail: bytes


def _common_prefix(old: bytes, new: bytes) -> int:
    view = memoryview(old)
    lo, hi = 0, min(len(old), len(new))
    if new.startswith(view[:hi]):
        return hi
    hi -= 1  # invariant: old[:lo] is a prefix of new, old[:hi + 1] is not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if new.startswith(view[:mid]):
            lo = mid
        else:
            hi = mid - 1
    return lo


def make_delta(old: bytes, new: bytes) -> Delta | None:
    """`new` as an edit of `old`, when it is one: a small edit near the front (within
    MAX_HEADER_EDIT bytes, possibly changing the length) and anything appended at the end."""
    if len(old) < MIN_DELTA_BYTES or len(new) < MIN_DELTA_BYTES:
        return None
    i = _common_prefix(old, new)
    if i == len(old):
        return Delta(b"", 0, len(old), new[len(old):])
    if len(old) - i < 2 * MAX_HEADER_EDIT:
        return None
    view = memoryview(old)
    # Where old's bytes resume in new: same place (a header edited in place), or moved by a few
    # bytes (a header that grew or shrank).
    for shift in _shifts(old, new, i):
        if len(old) + shift > len(new):
            continue
        for j in range(i + 1, i + MAX_HEADER_EDIT + 1):
            if j + shift >= 0 and new.startswith(view[j:], j + shift):
                delta = Delta(new[:j + shift], j, len(old) - j, new[len(old) + shift:])
                if len(delta.head) + len(delta.tail) > len(new) // 2:
                    return None
                return delta
    return None


def _shifts(old: bytes, new: bytes, i: int) -> list[int]:
    """Candidate offsets of old's bytes in new after the first difference at i: 0 first, then
    those where a sample of old just after the edit window reappears in new, then small ones."""
    shifts = [0]
    anchor_at = i + MAX_HEADER_EDIT
    anchor = old[anchor_at:anchor_at + 32]
    start = max(0, anchor_at - MAX_HEADER_EDIT)
    while len(shifts) < 8:
        found = new.find(anchor, start, anchor_at + 32 + MAX_HEADER_EDIT)
        if found < 0:
            break
        if found - anchor_at not in shifts:
            shifts.append(found - anchor_at)
        start = found + 1
    shifts += [d for d in (1, 2, 4, -1, -2, -4) if d not in shifts]
    return shifts


class RecentValues:
    """The last large value sent or read per (thread, namespace, channel), with its version and
    serde type: the bases of the next deltas. Bounded (least recently used go first); safe to
    use from several threads."""

    def __init__(self, max_entries: int = 1024, max_bytes: int = 256 << 20) -> None:
        self._values: OrderedDict[tuple[str, str, str], tuple[str, str, bytes]] = OrderedDict()
        self._bytes = 0
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def remember(self, key: tuple[str, str, str], version: str, type_: str, data: bytes) -> None:
        if len(data) < MIN_DELTA_BYTES:
            return
        with self._lock:
            old = self._values.pop(key, None)
            if old is not None:
                self._bytes -= len(old[2])
            self._values[key] = (version, type_, data)
            self._bytes += len(data)
            while self._values and (len(self._values) > self._max_entries or self._bytes > self._max_bytes):
                _, dropped = self._values.popitem(last=False)
                self._bytes -= len(dropped[2])

    def base(self, key: tuple[str, str, str], type_: str) -> tuple[str, bytes] | None:
        with self._lock:
            entry = self._values.get(key)
            if entry is None or entry[1] != type_:
                return None
            self._values.move_to_end(key)
            return entry[0], entry[2]

    def forget_threads(self, thread_ids: set[str] | None = None) -> None:
        with self._lock:
            for key in [k for k in self._values if thread_ids is None or k[0] in thread_ids]:
                self._bytes -= len(self._values.pop(key)[2])
