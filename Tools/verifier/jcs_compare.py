#!/usr/bin/env python3
"""Compares Stasis's canonical JSON with RFC 8785 (JCS), on documents the real CLI writes.

    jcs_compare.py PATH/TO/stasis [--json]

Makes a store in a temporary directory, appends events holding tricky values (non-BMP keys,
integers beyond 2^53, floats in every notation, control characters), takes a checkpoint, exports a
bundle, and re-encodes every canonical document in it (bundle.json, checkpoint records, event
bodies) with the `rfc8785` package. It prints which documents are byte-identical and, for the rest,
each differing value with both encodings. RFC 8785 holds numbers as IEEE doubles, so where the
`rfc8785` package refuses an integer beyond 2^53 the JCS form shown is that of the double.
Exit 0 whatever the differences (this is a report); 1 when the CLI fails.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import rfc8785

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stasis_verify as sv  # noqa: E402

TRICKY_EVENTS = [
    # Keys outside the BMP and above U+E000 sort differently by UTF-8 bytes and by UTF-16 units.
    {"kind": "note", "text": "keys", "😀": 1, "ﬁ": 2, "é": 3, "\uffff": 4, "𝄞x": 5},
    {"kind": "note", "text": "integers", "n": [0, -1, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 1, 2 ** 63 - 1, -2 ** 63]},
    {"kind": "note", "text": "strings \u0000\u0001\u001f\u007f\u0080\u2028\u2029\ufeff / \" \\ \b\f\n\r\t 😀"},
]
# Written as text: JSON number literals whose notation matters (Python would normalize them).
TRICKY_NUMBERS = ('{"kind":"note","text":"floats","f":[0.1,2.5,-0.0,1.0,100.0,1e20,1e21,1e-6,1e-7,0.00001,'
                  '2.5e-5,9e15,9.1e15,9007199254740994.0,1e16,18446744073709551616,1.5e300,5e-324,'
                  '1.7976931348623157e308,123456789012345680000,333333333.33333329]}')


def stasis(binary: str, store: Path, *args: str, stdin: str = "") -> str:
    result = subprocess.run([binary, *args, "--store", str(store)], input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"jcs_compare: stasis {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def make_bundle(binary: str, workdir: Path) -> dict[str, bytes]:
    store = workdir / "store"
    stasis(binary, store, "init")
    session = stasis(binary, store, "session", "new", "--label", "note=ünïcode 😀")
    lines = [json.dumps(e, ensure_ascii=False) for e in TRICKY_EVENTS] + [TRICKY_NUMBERS]
    stasis(binary, store, "history", "append", session, stdin="\n".join(lines) + "\n")
    (workdir / "mem").write_bytes(os.urandom(8192))
    stasis(binary, store, "checkpoint", "create", session, "--memory", str(workdir / "mem"), "--label", "step=😀")
    bundle = workdir / "s.bundle"
    stasis(binary, store, "bundle", "export", session, "-o", str(bundle))
    entries = sv.read_container(bundle.read_bytes(), sv.Report(bundle=str(bundle)))
    assert entries is not None
    return entries


def as_doubles(value: Any) -> Any:
    """The value as RFC 8785 sees it: every number an IEEE double."""
    if isinstance(value, dict):
        return {k: as_doubles(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_doubles(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2 ** 53:
        return float(value)
    return value


def jcs(value: Any) -> tuple[bytes, str]:
    """The JCS bytes of a value, and a note when `rfc8785` refused an integer and doubles were used."""
    try:
        return rfc8785.dumps(value), ""
    except rfc8785.IntegerDomainError:
        return rfc8785.dumps(as_doubles(value)), "rfc8785 refuses integers beyond 2^53; JCS of the double"


def differences(value: Any, where: str, out: "OrderedDict[tuple[str, str], dict[str, Any]]") -> None:
    """Every scalar or key order whose Stasis encoding differs from JCS, grouped by place and kind."""
    def record(kind: str, stasis_form: str, jcs_form: str, note: str = "") -> None:
        key = (re.sub(r"\[\d+\]", "[]", where) if kind == "key order" else where, stasis_form if kind != "integer" else kind)
        entry = out.setdefault(key, {"where": where, "kind": kind, "stasis": stasis_form, "jcs": jcs_form,
                                     "note": note, "count": 0})
        entry["count"] += 1

    if isinstance(value, dict):
        utf8 = sorted(value, key=lambda k: k.encode("utf-8"))
        utf16 = sorted(value, key=lambda k: k.encode("utf-16-be"))
        if utf8 != utf16:
            record("key order", json.dumps(utf8, ensure_ascii=False), json.dumps(utf16, ensure_ascii=False))
        for k, v in value.items():
            differences(v, f"{where}.{k}", out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            differences(v, f"{where}[{i}]", out)
    else:
        ours, (theirs, note) = sv.canonical(value), jcs(value)
        if ours != theirs:
            kind = "integer" if isinstance(value, int) and not isinstance(value, bool) else type(value).__name__
            record(kind, ours.decode(), theirs.decode(), note)


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="stasis-jcs-") as tmp:
        entries = make_bundle(sys.argv[1], Path(tmp))
    documents: list[tuple[str, bytes]] = [("bundle.json", entries["bundle.json"])]
    documents += [(n, d) for n, d in sorted(entries.items()) if n.endswith(".record")]
    documents += [(f"event {i}", b) for i, b in enumerate(sv.split_events(entries["history/events"], sv.Report(bundle="")))]
    identical, found = [], OrderedDict()  # type: ignore[var-annotated]
    for name, data in documents:
        value = sv.parse_canonical(data)
        if jcs(value)[0] == data:
            identical.append(name)
        differences(value, "record" if name.endswith(".record") else name.split(" ")[0], found)
    if "--json" in sys.argv:
        print(json.dumps({"documents": len(documents), "identical": identical, "differences": list(found.values())},
                         indent=2, ensure_ascii=False))
        return 0
    print(f"RFC 8785 comparison: {len(identical)} of {len(documents)} canonical documents from the CLI are byte-identical to JCS"
          + (f" ({', '.join(identical)})" if identical else ""))
    for d in found.values():
        times = f" ({d['count']}×)" if d["count"] > 1 else ""
        print(f"  {d['where']}{times} [{d['kind']}]: stasis {d['stasis']}  jcs {d['jcs']}" + (f"  ({d['note']})" if d["note"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
