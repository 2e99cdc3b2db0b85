#!/usr/bin/env python3
"""An independent verifier of Stasis bundles, written from Formats/*.md alone.

    stasis_verify.py BUNDLE [--public-key HEX] [--proof PROOF.json] [--note NOTE --note-key VKEY] [--json]

It checks what an outsider needs to believe a bundle: the container (Formats/bundle.md), every
checkpoint record (canonical — RFC 8785 for version 2 —, hashes to its id, Ed25519 signature, tree head against the history;
Formats/checkpoint.md), the history (canonical event bodies at consecutive positions, hash chain,
RFC 6962 Merkle tree, signed head; Formats/history.md), the image manifests' ids, and optionally an
inclusion proof printed by `stasis history prove --json`, and a C2SP signed note of a tree head
(`stasis history note`) against the verifier key it names. With --public-key every signature must be
by that key (the one `stasis key show` prints). It does not decompress the pack: chunks and blob
contents are not checked (use `stasis bundle verify` for that).

Exit codes: 0 everything checks out, 2 the bundle or proof is damaged (each problem names the entry
and field), 1 usage or I/O error (missing file, not a bundle, malformed argument).

Needs Python 3.9+ and the `cryptography` package (Ed25519, and AES-GCM for encrypted bundles, whose
passphrase --passphrase-file FILE or STASIS_BUNDLE_PASSPHRASE gives); nothing else.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import math
import os
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EXIT_OK, EXIT_USAGE, EXIT_DAMAGE = 0, 1, 2

HEADER_MAGIC, TRAILER_MAGIC = b"STASBNDL", b"STASBEND"
HEADER_SIZE, TRAILER_SIZE = 16, 44
ENTRY_NAME = re.compile(r"[a-z0-9._-]+")
HEX64 = re.compile(r"[0-9a-f]{64}")
ZERO_HASH = bytes(32)

# Kinds of history events and the fields each must carry (Formats/history.md).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "command.started": ("command",), "output": ("stream", "data"), "command.exited": ("code",),
    "file.written": ("path",), "tool.call": ("name",), "tool.result": ("name",),
    "message": ("role", "content"), "checkpoint": ("checkpoint",), "restore": ("checkpoint",),
    "note": ("text",),
}

#: Kinds other tools define (Formats/history.md, "Namespaced kinds"): any fields.
NAMESPACED_KIND = re.compile(r"x-[a-z0-9-]+\.[a-z0-9.-]*[a-z0-9-]")


class UsageError(Exception):
    """Bad arguments or unreadable input: exit 1, nothing was verified."""


class NotCanonical(Exception):
    """Bytes that are not the one canonical encoding of a JSON value."""


@dataclass
class Report:
    """What was verified and every problem found (each one names where it is)."""
    bundle: str
    problems: list[str] = field(default_factory=list)
    session: Optional[str] = None
    events: int = 0
    checkpoints: list[str] = field(default_factory=list)
    images: int = 0
    signers: set[str] = field(default_factory=set)
    proof: Optional[dict[str, Any]] = None
    encrypted: bool = False

    def damage(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# ---------------------------------------------------------------------------------------------
# Canonical JSON (Formats/canonical-json.md). Records and events are hashed as stored bytes, so
# we never hash a re-encoding: we parse, re-encode and require the same bytes back.

def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise NotCanonical("an object has a duplicate key")
    return obj


def _reject_constant(name: str) -> Any:
    raise NotCanonical(f"{name} is not JSON")


def encode_number(value: float) -> str:
    """A non-integer-typed number as Stasis writes it.

    Integral values below 9e15 are written as integers; others as the shortest digits that read
    back to the same double (Python's repr finds those digits). Stasis switches to exponent form
    above 2^53 and below 1e-4, with a signed exponent of at least two digits ("1e+16", "1e-05"),
    and keeps ".0" on integral values it writes in plain form ("9000000000000000.0").
    """
    if not math.isfinite(value):
        return "null"
    if value == int(value) and abs(value) < 9.0e15:
        return str(int(value))
    text = repr(value)
    if 2.0 ** 53 < abs(value) < 1e16:
        # repr writes these in plain form; Stasis writes them with an exponent of +15.
        sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
        digits = digits.split(".")[0].rstrip("0")
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e+15"
    return text


def _encode_string(text: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
    out = []
    for ch in text:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _encode(value: Any, integer: Callable[[int], str], number: Callable[[float], str], key: Callable[[str], bytes]) -> bytes:
    """The one walk both encodings share; they differ in integers, other numbers and key order."""
    def enc(v: Any) -> str:
        if v is None:
            return "null"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if isinstance(v, int):
            return integer(v)
        if isinstance(v, float):
            return number(v)
        if isinstance(v, str):
            return _encode_string(v)
        if isinstance(v, list):
            return "[" + ",".join(enc(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ",".join(_encode_string(k) + ":" + enc(v[k]) for k in sorted(v, key=key)) + "}"
        raise NotCanonical(f"unexpected value {v!r}")
    try:
        return enc(value).encode("utf-8")
    except UnicodeEncodeError as e:
        raise NotCanonical("a string holds a lone surrogate") from e


def _int64(v: int) -> str:
    # Stasis keeps integers as Int64; wider digits would be read back as a double.
    if not -2 ** 63 <= v < 2 ** 63:
        raise NotCanonical(f"integer {v} is outside 64 bits")
    return str(v)


def canonical(value: Any) -> bytes:
    """The canonical bytes of a parsed value; raises NotCanonical for values Stasis cannot hold."""
    # Keys sorted by UTF-8 bytes, i.e. by code point (not by UTF-16 units as RFC 8785 does).
    return _encode(value, _int64, encode_number, lambda k: k.encode("utf-8", "surrogatepass"))


# RFC 8785 (JCS), the form of version-2 checkpoint records and format-2 events
# (Formats/canonical-json.md): keys by UTF-16 code units, numbers as ECMAScript prints doubles.
# Any off-the-shelf JCS library gives the same bytes; this one keeps the verifier dependency-free.

def es_number(value: float) -> str:
    """ECMAScript's Number.prototype.toString of a finite double (ECMA-262 7.1.12.1)."""
    if value == 0:
        return "0"
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits, n = whole + fraction, len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, sign = len(digits), "-" if value < 0 else ""
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def _jcs_integer(v: int) -> str:
    # Beyond 2^53 a JSON integer is JCS only as the full spelling of a double.
    if abs(v) > 2 ** 53 and es_number(float(v)) != str(v):
        raise NotCanonical(f"integer {v} is beyond 2^53, which an RFC 8785 number cannot hold")
    return str(v)


def _jcs_number(v: float) -> str:
    if not math.isfinite(v):
        raise NotCanonical("a number is not finite")
    return es_number(v)


def jcs(value: Any) -> bytes:
    """The RFC 8785 bytes of a parsed value; raises NotCanonical for values JCS cannot hold."""
    return _encode(value, _jcs_integer, _jcs_number, lambda k: k.encode("utf-16-be", "surrogatepass"))


def is_version_two(value: Any) -> bool:
    """A format-2 event (`"v": 2`) or a version-2 checkpoint record (`"version": 2`)."""
    return isinstance(value, dict) and (value.get("v") == 2 or value.get("version") == 2)


def parse_canonical(data: bytes) -> Any:
    """Parses a stored document; raises NotCanonical if the bytes are not its one encoding:
    RFC 8785 for version-2 records and events, the version-1 canonical form for the rest."""
    try:
        text = data.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except UnicodeDecodeError as e:
        raise NotCanonical(f"not UTF-8 at byte {e.start}") from e
    except ValueError as e:
        raise NotCanonical(f"not JSON ({e})") from e
    again = jcs(value) if is_version_two(value) else canonical(value)
    if again != data:
        at = next((i for i, (a, b) in enumerate(zip(again, data)) if a != b), min(len(again), len(data)))
        raise NotCanonical(f"not canonical JSON (differs from its canonical form at byte {at})")
    return value


# ---------------------------------------------------------------------------------------------
# History hashes (Formats/history.md): leaves and interior nodes as in RFC 6962, and the chain.

def leaf_hash(body: bytes) -> bytes:
    return sha256(b"\x00" + body)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    return sha256(b"stasis-chain-v1\x00" + previous + leaf)


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 tree hash: split at the largest power of two below n. The empty tree is SHA-256("")."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(merkle_root(leaves[:split]), merkle_root(leaves[split:]))


def root_from_path(index: int, size: int, leaf: bytes, path: list[bytes]) -> Optional[bytes]:
    """The root an audit path leads to (RFC 9162 section 2.1.3.2), or None if it cannot fit the tree."""
    if not 0 <= index < size:
        return None
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None  # path longer than the tree is tall
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            # A right-edge node without a sibling moves up levels for free.
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return node if sn == 0 else None


# ---------------------------------------------------------------------------------------------
# Signatures

def ed25519_ok(public_hex: str, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def checkpoint_message(checkpoint_id: str) -> bytes:
    return f"stasis-checkpoint-v1\n{checkpoint_id}".encode()


def head_message(session: str, size: int, chain: bytes) -> bytes:
    return f"stasis-history-head-v1\n{session}\n{size}\n{chain.hex()}".encode()


# ---------------------------------------------------------------------------------------------
# The container (Formats/bundle.md)

def read_container(data: bytes, report: Report) -> Optional[dict[str, bytes]]:
    """The entries by name, or None when the container itself is damaged (then nothing inside is
    worth checking: an entry can no longer be told apart from an attacker's bytes)."""
    if len(data) < HEADER_SIZE or data[:8] != HEADER_MAGIC:
        raise UsageError(f"{report.bundle} is not a Stasis bundle (it does not start with STASBNDL)")
    version, flags, reserved = struct.unpack_from("<HHI", data, 8)
    if version not in (1, 2):
        raise UsageError(f"{report.bundle} is a bundle of version {version}; this verifier reads versions 1 and 2 (encrypted)")
    report.encrypted = version == 2
    if flags or reserved:
        report.damage("header", f"flags {flags} and reserved {reserved} must be 0")
    if len(data) < HEADER_SIZE + TRAILER_SIZE or data[-TRAILER_SIZE:-TRAILER_SIZE + 8] != TRAILER_MAGIC:
        report.damage("trailer", "missing (the file is truncated or has bytes after its end)")
        return None
    end = len(data) - TRAILER_SIZE
    entries: dict[str, bytes] = {}
    digests: list[bytes] = []
    pos = HEADER_SIZE
    while pos < end:
        if pos + 2 > end:
            report.damage(f"entry {len(digests)}", "runs into the trailer")
            return None
        (name_length,) = struct.unpack_from("<H", data, pos)
        name_bytes = data[pos + 2: pos + 2 + name_length]
        pos += 2 + name_length
        if pos + 8 > end:
            report.damage(f"entry {len(digests)}", "runs into the trailer")
            return None
        (data_length,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        if pos + data_length + 32 > end:
            report.damage(f"entry {len(digests)} ({name_bytes[:64]!r})", "runs into the trailer")
            return None
        content, digest = data[pos: pos + data_length], data[pos + data_length: pos + data_length + 32]
        pos += data_length + 32
        name = name_bytes.decode("utf-8", "replace")
        if not valid_entry_name(name_bytes):
            report.damage(f"entry {len(digests)}", f"name {name!r} is not allowed")
            return None
        if name in entries:
            report.damage(name, "appears twice")
            return None
        if sha256(content) != digest:
            report.damage(name, "its SHA-256 does not match the digest stored after it")
        entries[name] = content
        digests.append(digest)
    (count,) = struct.unpack_from("<I", data, end + 8)
    if count != len(digests):
        report.damage("trailer", f"entry count is {count}, the file holds {len(digests)}")
    if data[end + 12:] != sha256(b"".join(digests)):
        report.damage("trailer", "digest of the entries' digests does not match")
    return entries


# ---------------------------------------------------------------------------------------------
# Encrypted bundles (Formats/bundle.md, "Encrypted bundles"): scrypt, AES-256-GCM in segments.

SEAL_ENTRY, SEGMENT, TAG, PREFIX = "bundle.seal", 65536, 16, 8


def open_seal(raw: bytes, passphrase: bytes, report: Report) -> Optional[bytes]:
    """The bundle's key from its `bundle.seal` entry; UsageError for a wrong passphrase."""
    try:
        seal = json.loads(raw)
        n, r, p = seal["n"], seal["r"], seal["p"]
        salt, check = bytes.fromhex(seal["salt"]), bytes.fromhex(seal["check"])
        known = (seal["format"], seal["version"], seal["cipher"], seal["kdf"], seal["segment"]) == \
            ("stasis-bundle-seal", 1, "aes-256-gcm", "scrypt", SEGMENT)
    except (ValueError, KeyError, TypeError):
        report.damage(SEAL_ENTRY, "is not a seal (JSON with format, cipher, kdf, n, r, p, salt, check)")
        return None
    if not known:
        raise UsageError(f"{report.bundle}: {SEAL_ENTRY} names a cipher or format this verifier does not read")
    if not (isinstance(n, int) and 1 << 10 <= n <= 1 << 20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16
            and len(salt) >= 16 and len(check) == 16):
        report.damage(SEAL_ENTRY, "scrypt cost or salt out of range")
        return None
    key = hashlib.scrypt(passphrase, salt=salt, n=n, r=r, p=p, maxmem=256 * r * (n + p + 2), dklen=32)
    if hmac.new(key, b"stasis bundle passphrase check", hashlib.sha256).digest()[:16] != check:
        raise UsageError(f"the passphrase is not the one {report.bundle} was encrypted with")
    return key


def stored_name(key: bytes, name: str) -> str:
    return "sealed/" + hmac.new(key, b"stasis-bundle-entry-name\0" + name.encode(), hashlib.sha256).digest()[:16].hex()


def unseal(key: bytes, name: str, data: bytes, report: Report) -> Optional[bytes]:
    """An entry's plain bytes: segments of SEGMENT bytes, the last shorter and marked final."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    if len(data) < PREFIX + TAG:
        report.damage(name, "is too short to be a sealed entry")
        return None
    aead, prefix, pos, index, out = AESGCM(key), data[:PREFIX], PREFIX, 0, []
    while True:
        final = len(data) - pos < SEGMENT + TAG
        end = len(data) if final else pos + SEGMENT + TAG
        aad = b"stasis-bundle-entry\0" + name.encode() + b"\0" + bytes([final])
        try:
            out.append(aead.decrypt(prefix + index.to_bytes(4, "big"), data[pos:end], aad))
        except InvalidTag:
            report.damage(name, f"segment {index} does not decrypt (altered, truncated or moved)")
            return None
        if final:
            return b"".join(out)
        pos, index = end, index + 1


def unseal_entries(entries: dict[str, bytes], passphrase: bytes, report: Report) -> Optional[dict[str, bytes]]:
    """The entries under their own names, decrypted; stored names that match no entry the
    bundle should hold stay as they are (check_entry_set names them)."""
    if SEAL_ENTRY not in entries:
        report.damage(SEAL_ENTRY, "missing from an encrypted bundle")
        return None
    key = open_seal(entries[SEAL_ENTRY], passphrase, report)
    if key is None:
        return None
    by_stored = {stored_name(key, n): n for n in ("bundle.json", "history/events", "packs/0.pack")}
    manifest_bytes = entries.get(stored_name(key, "bundle.json"))
    manifest = unseal(key, "bundle.json", manifest_bytes, report) if manifest_bytes is not None else None
    try:
        by_stored |= {stored_name(key, n): n for n in expected_entries(json.loads(manifest or b"{}"))}
    except ValueError:
        pass   # parse_canonical names it
    plain: dict[str, bytes] = {}
    for stored, data in entries.items():
        if stored == SEAL_ENTRY:
            continue
        name = by_stored.get(stored)
        if name is None:
            plain[stored] = data
        elif (opened := unseal(key, name, data, report)) is not None:
            plain[name] = opened
    return plain


def valid_entry_name(raw: bytes) -> bool:
    if not 0 < len(raw) <= 255:
        return False
    try:
        segments = raw.decode("ascii").split("/")
    except UnicodeDecodeError:
        return False
    return all(ENTRY_NAME.fullmatch(s) and s not in (".", "..") for s in segments)


# ---------------------------------------------------------------------------------------------
# Bundle contents

@dataclass
class History:
    bodies: list[bytes]
    leaves: list[bytes]
    chains: list[bytes]       # chains[n] = chain hash after event n
    events: list[Optional[dict[str, Any]]]

    def chain_at(self, size: int) -> bytes:
        return self.chains[size - 1] if size else ZERO_HASH


def split_events(blob: bytes, report: Report) -> list[bytes]:
    bodies: list[bytes] = []
    pos = 0
    while pos < len(blob):
        if pos + 4 > len(blob):
            report.damage("history/events", f"event {len(bodies)}: length cut off at byte {pos}")
            break
        (length,) = struct.unpack_from("<I", blob, pos)
        if pos + 4 + length > len(blob):
            report.damage("history/events", f"event {len(bodies)}: body runs past the end ({length} bytes at {pos})")
            break
        bodies.append(blob[pos + 4: pos + 4 + length])
        pos += 4 + length
    return bodies


def check_history(blob: bytes, report: Report) -> History:
    bodies = split_events(blob, report)
    leaves, chains, events = [], [], []
    previous = ZERO_HASH
    for seq, body in enumerate(bodies):
        # The hashes cover the stored bytes whatever they hold, so compute them first.
        leaf = leaf_hash(body)
        previous = chain_hash(previous, leaf)
        leaves.append(leaf)
        chains.append(previous)
        events.append(check_event(seq, body, report))
    return History(bodies, leaves, chains, events)


def check_event(seq: int, body: bytes, report: Report) -> Optional[dict[str, Any]]:
    where = f"history/events event {seq}"
    try:
        event = parse_canonical(body)
    except NotCanonical as e:
        report.damage(where, str(e))
        return None
    two = isinstance(event, dict) and "v" in event
    if not isinstance(event, dict) or set(event) != ({"data", "kind", "seq", "time", "v"} if two else {"data", "kind", "seq", "time"}):
        report.damage(where, "must be an object of exactly data, kind, seq, time (and v: 2 in format 2)")
        return None
    if two and (event["v"] != 2 or isinstance(event["v"], bool)):
        report.damage(where, f"v is {event['v']!r}: only format 2 carries v")
        return None
    if event["seq"] != seq or isinstance(event["seq"], bool):
        report.damage(where, f"seq is {event['seq']!r}, expected {seq} (dropped, inserted or reordered event)")
    time = event["time"]
    if two and not (isinstance(time, str) and re.fullmatch(r"0|[1-9][0-9]{0,18}", time) and int(time) < 2 ** 63):
        report.damage(where, "time is not nanoseconds as a decimal string (format 2)")
    elif not two and (not isinstance(time, int) or isinstance(time, bool)):
        report.damage(where, "time is not an integer")
    data, kind = event["data"], event["kind"]
    if not isinstance(data, dict):
        report.damage(where, "data is not an object")
    elif isinstance(kind, str) and len(kind.encode()) <= 128 and NAMESPACED_KIND.fullmatch(kind):
        pass
    elif kind not in REQUIRED_FIELDS:
        report.damage(where, f"unknown kind {kind!r}")
    else:
        missing = [f for f in REQUIRED_FIELDS[kind] if f not in data]
        if missing:
            report.damage(where, f"{kind} event lacks {', '.join(missing)}")
    return event


def hex_field(obj: Any, key: str, where: str, report: Report) -> Optional[str]:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str) or not HEX64.fullmatch(value):
        report.damage(where, f"{key} is not 64 lower-case hex digits")
        return None
    return value


def check_head(manifest: dict[str, Any], history: History, pinned: Optional[str], report: Report) -> None:
    head = manifest.get("history")
    where = "bundle.json history"
    if not isinstance(head, dict):
        report.damage(where, "missing")
        return
    size, chain = head.get("size"), hex_field(head, "chain", where, report)
    signer = hex_field(head, "signer", where, report)
    signature = head.get("signature")
    if size != len(history.bodies):
        report.damage(where, f"size is {size!r}, history/events holds {len(history.bodies)} events (truncated or extended history)")
    if chain and chain != history.chain_at(len(history.bodies)).hex():
        report.damage(where, f"chain is {chain}, but history/events chains to {history.chain_at(len(history.bodies)).hex()}")
    if not signer or not isinstance(size, int) or not chain:
        return
    report.signers.add(signer)
    if pinned and signer != pinned:
        report.damage(where + ".signer", f"signed by another key ({signer}, expected {pinned})")
    if not isinstance(signature, str) or not re.fullmatch(r"[0-9a-f]{128}", signature):
        report.damage(where + ".signature", "is not 128 hex digits")
    elif not ed25519_ok(signer, bytes.fromhex(signature), head_message(report.session or "", size, bytes.fromhex(chain))):
        report.damage(where + ".signature", f"does not verify for key {signer}")


def check_checkpoint(ref: Any, entries: dict[str, bytes], manifest: dict[str, Any], history: History,
                     pinned: Optional[str], report: Report) -> None:
    cid = hex_field(ref, "id", "bundle.json checkpoints[]", report)
    signer = hex_field(ref, "signer", f"bundle.json checkpoint {cid}", report)
    if not cid:
        return
    report.checkpoints.append(cid)
    record_name, sig_name = f"checkpoints/{cid}.record", f"checkpoints/{cid}.sig"
    record_bytes, signature = entries.get(record_name), entries.get(sig_name)
    if record_bytes is None or signature is None:
        report.damage(record_name if record_bytes is None else sig_name, "missing from the bundle")
        return
    digest = sha256(record_bytes).hex()
    if digest != cid:
        report.damage(record_name, f"SHA-256 is {digest}, not its id")
    if signer:
        report.signers.add(signer)
        if pinned and signer != pinned:
            report.damage(f"bundle.json checkpoint {cid} signer", f"signed by another key ({signer}, expected {pinned})")
        if len(signature) != 64:
            report.damage(sig_name, f"is {len(signature)} bytes, not 64")
        elif not ed25519_ok(signer, signature, checkpoint_message(cid)):
            report.damage(sig_name, f"signature does not verify for key {signer}")
    try:
        record = parse_canonical(record_bytes)
    except NotCanonical as e:
        report.damage(record_name, str(e))
        return
    check_record_fields(cid, record, manifest, history, report)


def check_record_fields(cid: str, record: Any, manifest: dict[str, Any], history: History, report: Report) -> None:
    where = f"checkpoints/{cid}.record"
    if not isinstance(record, dict) or record.get("version") not in (1, 2) or isinstance(record.get("version"), bool):
        report.damage(where, "is not a checkpoint record of version 1 or 2")
        return
    created = record.get("created")
    if record["version"] == 2 and not (isinstance(created, str) and re.fullmatch(r"0|[1-9][0-9]{0,18}", created)):
        report.damage(where, "created is not nanoseconds as a decimal string (version 2)")
    if record.get("session") != report.session:
        report.damage(where, f"session is {record.get('session')!r}, the bundle's is {report.session}")
    # Every image and blob it names must travel with it (bundle.json lists them).
    for kind, listed in (("images", manifest.get("images")), ("blobs", manifest.get("blobs"))):
        names = record.get(kind)
        if not isinstance(names, dict) or not isinstance(listed, list):
            report.damage(where, f"{kind} is not an object")
            continue
        for name, ref in names.items():
            if ref not in listed:
                report.damage(where, f"{kind}.{name} {ref!r} is not in bundle.json {kind}")
    head = record.get("history")
    if not isinstance(head, dict) or not isinstance(head.get("size"), int):
        report.damage(where, "history is not {size, root, chain}")
        return
    size = head["size"]
    if not 0 <= size <= len(history.bodies):
        report.damage(where, f"history.size {size} is beyond the bundle's {len(history.bodies)} events")
        return
    root, chain = merkle_root(history.leaves[:size]).hex(), history.chain_at(size).hex()
    if head.get("root") != root:
        report.damage(where, f"history.root {head.get('root')} differs from the tree of the first {size} events ({root})")
    if head.get("chain") != chain:
        report.damage(where, f"history.chain {head.get('chain')} differs from the chain of the first {size} events ({chain})")
    # Stasis appends a `checkpoint` event at position size in the same transaction.
    event = history.events[size] if size < len(history.events) else None
    if size >= len(history.bodies):
        report.damage("history/events", f"no event {size}: checkpoint {cid} is not recorded in the history")
    elif event is not None and (event.get("kind") != "checkpoint" or not isinstance(event.get("data"), dict)
                                or event["data"].get("checkpoint") != cid):
        report.damage(f"history/events event {size}", f"is not the checkpoint event of {cid}")


def expected_entries(manifest: Any) -> set[str]:
    """The entries bundle.json implies."""
    expected = {"bundle.json", "history/events", "packs/0.pack"}
    if not isinstance(manifest, dict):
        return expected
    for ref in manifest.get("checkpoints") or []:
        cid = ref.get("id") if isinstance(ref, dict) else None
        expected |= {f"checkpoints/{cid}.record", f"checkpoints/{cid}.sig"}
    images, blobs = manifest.get("images"), manifest.get("blobs")
    expected |= {f"manifests/{image}.manifest" for image in (images if isinstance(images, list) else [])}
    expected |= {f"blobs/{blob}.blob-manifest" for blob in (blobs if isinstance(blobs, list) else [])}
    return expected


def check_entry_set(entries: dict[str, bytes], manifest: dict[str, Any], report: Report) -> None:
    """Exactly the entries bundle.json implies: nothing missing, nothing smuggled in."""
    expected = expected_entries(manifest)
    images = manifest.get("images")
    for image in images if isinstance(images, list) else []:
        content = entries.get(f"manifests/{image}.manifest")
        # An image id is the SHA-256 of its manifest (Formats/image-manifest.md).
        if content is not None and sha256(content).hex() != image:
            report.damage(f"manifests/{image}.manifest", "does not hash to its id")
    report.images = len(images) if isinstance(images, list) else 0
    for name in sorted(set(entries) - expected):
        report.damage(name, "is not an entry this bundle should hold")
    for name in sorted(expected - set(entries)):
        if not name.startswith("checkpoints/"):  # those are named by check_checkpoint
            report.damage(name, "missing from the bundle")


def verify_bundle(path: str, pinned: Optional[str], passphrase: Optional[bytes] = None) -> tuple[Report, Optional[History], dict[str, bytes]]:
    report = Report(bundle=path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from e
    entries = read_container(data, report)
    if entries is not None and report.encrypted:
        if passphrase is None:
            raise UsageError(f"{path} is an encrypted bundle: give its passphrase (--passphrase-file FILE, or STASIS_BUNDLE_PASSPHRASE)")
        entries = unseal_entries(entries, passphrase, report)
    if entries is None:
        return report, None, {}
    if "bundle.json" not in entries:
        report.damage("bundle.json", "missing from the bundle")
        return report, None, entries
    try:
        manifest = parse_canonical(entries["bundle.json"])
    except NotCanonical as e:
        report.damage("bundle.json", str(e))
        return report, None, entries
    if not isinstance(manifest, dict) or manifest.get("format") != "stasis-bundle" or manifest.get("version") != 1:
        report.damage("bundle.json", "format is not stasis-bundle version 1")
        return report, None, entries
    session = manifest.get("session")
    report.session = session.get("id") if isinstance(session, dict) else None
    if not isinstance(report.session, str) or not re.fullmatch(r"[0-9a-f]{32}", report.session):
        report.damage("bundle.json session.id", "is not 32 hex digits")
    check_entry_set(entries, manifest, report)
    history = check_history(entries.get("history/events", b""), report)
    report.events = len(history.bodies)
    check_head(manifest, history, pinned, report)
    refs = manifest.get("checkpoints")
    for ref in refs if isinstance(refs, list) else []:
        check_checkpoint(ref, entries, manifest, history, pinned, report)
    return report, history, entries


# ---------------------------------------------------------------------------------------------
# Inclusion proofs (`stasis history prove --json`)

def load_proof(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            proof = json.loads(f.read().decode("utf-8"))
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from e
    except ValueError as e:
        raise UsageError(f"{path} is not JSON: {e}") from e
    if not isinstance(proof, dict):
        raise UsageError(f"{path} is not a proof object (from `stasis history prove --json`)")
    return proof


def check_proof(proof: dict[str, Any], history: Optional[History], entries: dict[str, bytes],
                pinned: Optional[str], report: Report, name: str) -> None:
    """The proof's `verified` is the prover's claim and is ignored: everything is recomputed."""
    def bad(fieldname: str, message: str) -> None:
        report.damage(f"{name} {fieldname}", message)

    seq, size, path = proof.get("seq"), proof.get("treeSize"), proof.get("path")
    leaf, root = proof.get("leaf"), proof.get("root")
    report.proof = {"seq": seq, "treeSize": size, "checkpoint": proof.get("checkpoint"), "ok": False}
    before = len(report.problems)
    if not isinstance(seq, int) or not isinstance(size, int) or not isinstance(path, list) \
            or not isinstance(leaf, str) or not isinstance(root, str) \
            or not all(isinstance(h, str) and HEX64.fullmatch(h) for h in [leaf, root, *path]):
        bad("", "needs seq, treeSize, leaf, root and path (64 hex digits each)")
        return
    if proof.get("session") != report.session:
        bad("session", f"is {proof.get('session')!r}, the bundle is of {report.session}")
    found = root_from_path(seq, size, bytes.fromhex(leaf), [bytes.fromhex(h) for h in path])
    if found is None or found.hex() != root:
        bad("path", f"does not lead from leaf {seq} to the root in a tree of {size}")
    if history is not None:
        if 0 <= seq < len(history.leaves) and history.leaves[seq].hex() != leaf:
            bad("leaf", f"is not the leaf of the bundle's event {seq} ({history.leaves[seq].hex()})")
        # The root is believed only through something signed: a checkpoint's record, or the
        # bundle's history (whose head is signed and which we just verified).
        checkpoint = proof.get("checkpoint")
        if checkpoint is not None:
            check_proof_checkpoint(proof, entries, pinned, bad)
        elif size > len(history.leaves):
            bad("treeSize", f"{size} is beyond the bundle's {len(history.leaves)} events")
        elif merkle_root(history.leaves[:size]).hex() != root:
            bad("root", f"is not the root of the bundle's first {size} events")
    report.proof["ok"] = len(report.problems) == before


def check_proof_checkpoint(proof: dict[str, Any], entries: dict[str, bytes], pinned: Optional[str], bad: Any) -> None:
    cid = proof["checkpoint"]
    record_bytes = entries.get(f"checkpoints/{cid}.record") if isinstance(cid, str) else None
    signature = entries.get(f"checkpoints/{cid}.sig") if isinstance(cid, str) else None
    if record_bytes is None or signature is None:
        bad("checkpoint", f"{cid!r} is not in the bundle")
        return
    try:
        head = json.loads(record_bytes).get("history", {})
    except (ValueError, AttributeError):
        return  # the bundle check already named this record
    if head.get("root") != proof["root"] or head.get("size") != proof["treeSize"]:
        bad("root", f"is not the tree head signed by checkpoint {cid} (size {head.get('size')}, root {head.get('root')})")
    if proof.get("signature") != signature.hex():
        bad("signature", f"is not checkpoint {cid}'s signature")
    key = proof.get("publicKey")
    if not isinstance(key, str) or not HEX64.fullmatch(key) or not ed25519_ok(key, signature, checkpoint_message(cid)):
        bad("publicKey", f"{key!r} did not sign checkpoint {cid}")
    elif pinned and key != pinned:
        bad("publicKey", f"signed by another key ({key}, expected {pinned})")


# ---------------------------------------------------------------------------------------------
# Command line

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit 2, which here means damage
        self.print_usage(sys.stderr)
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def check_note(text: bytes, verifier_key: str, history: Optional[History], session: Optional[str],
               report: Report, name: str) -> None:
    """A C2SP signed note of the history's tree head (`stasis history note`): the signature line
    whose key name and id match `verifier_key` must verify over the note's body, the origin must
    name the bundle's session, and size and root must be the bundle's own tree head at that size."""
    def bad(message: str) -> None:
        report.damage(name, message)

    parts = verifier_key.split("+", 2)  # base64 may itself hold "+"
    try:
        raw = base64.b64decode(parts[2], validate=True) if len(parts) == 3 else b""
    except ValueError:
        raw = b""
    if len(raw) != 33 or raw[0] != 1:
        raise UsageError(f"--note-key must be NAME+KEYID+BASE64 of an Ed25519 key (from `stasis history note --json`), not {verifier_key!r}")
    key_name, public = parts[0], raw[1:]
    key_id = sha256(key_name.encode() + b"\n\x01" + public)[:4]
    body, sep, signatures = text.partition(b"\n\n")
    lines = body.split(b"\n")
    if not sep or len(lines) != 3:
        bad("not a signed note: expected three lines (origin, size, root), a blank line, signatures")
        return
    body += b"\n"
    signed = False
    for line in signatures.decode("utf-8", "replace").splitlines():
        fields = line.split(" ")
        if len(fields) != 3 or fields[0] != "\u2014" or fields[1] != key_name:
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except ValueError:
            continue
        if len(blob) == 68 and blob[:4] == key_id and ed25519_ok(public.hex(), blob[4:], body):
            signed = True
    if not signed:
        bad(f"no signature by {key_name} verifies over the note's body")
    origin, size_text, root_text = (part.decode("utf-8", "replace") for part in lines)
    if session is not None and origin != f"stasis-session/{session}":
        bad(f"origin {origin!r} is not this bundle's session (stasis-session/{session})")
    if history is None:
        return
    try:
        size, root = int(size_text), base64.b64decode(root_text, validate=True)
    except ValueError:
        bad(f"size {size_text!r} or root {root_text!r} cannot be read")
        return
    if not 0 <= size <= len(history.leaves):
        bad(f"size {size} is beyond the bundle's {len(history.leaves)} events")
    elif root != merkle_root(history.leaves[:size]):
        bad(f"root {root.hex()} is not the tree head of the bundle's first {size} events")


def read_passphrase(path: Optional[str]) -> Optional[bytes]:
    if path is not None:
        try:
            line = Path(path).read_bytes().split(b"\n", 1)[0]
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror}") from e
        if not line:
            raise UsageError(f"the first line of {path} is empty")
        return line
    value = os.environ.get("STASIS_BUNDLE_PASSPHRASE")
    if value == "":
        raise UsageError("STASIS_BUNDLE_PASSPHRASE is set but empty")
    return value.encode() if value is not None else None


def main(argv: Optional[list[str]] = None) -> int:
    parser = _Parser(prog="stasis_verify.py", description="Verify a Stasis bundle without Stasis.")
    parser.add_argument("bundle", help="the bundle file (from `stasis bundle export`)")
    parser.add_argument("--public-key", metavar="HEX", help="the key every signature must be by (`stasis key show`)")
    parser.add_argument("--proof", metavar="PROOF.json", help="an inclusion proof from `stasis history prove --json`")
    parser.add_argument("--note", metavar="NOTE", help="a signed tree head from `stasis history note`")
    parser.add_argument("--note-key", metavar="VKEY", help="the verifier key the note must be signed by (NAME+KEYID+BASE64)")
    parser.add_argument("--passphrase-file", metavar="FILE",
                        help="an encrypted bundle's passphrase: the first line of FILE (or set STASIS_BUNDLE_PASSPHRASE)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        pinned = args.public_key.lower() if args.public_key else None
        if pinned is not None and not HEX64.fullmatch(pinned):
            raise UsageError(f"--public-key must be 64 hex digits (as `stasis key show` prints), not {args.public_key!r}")
        proof = load_proof(args.proof) if args.proof else None
        report, history, entries = verify_bundle(args.bundle, pinned, read_passphrase(args.passphrase_file))
        if proof is not None:
            check_proof(proof, history, entries, pinned, report, args.proof)
        if args.note is not None or args.note_key is not None:
            if args.note is None or args.note_key is None:
                raise UsageError("--note and --note-key go together")
            try:
                note = Path(args.note).read_bytes()
            except OSError as e:
                raise UsageError(f"cannot read {args.note}: {e.strerror}") from e
            check_note(note, args.note_key, history, report.session, report, args.note)
    except UsageError as e:
        if args.json:
            print(json.dumps({"error": str(e)}))
        print(f"stasis_verify: {e}", file=sys.stderr)
        return EXIT_USAGE
    print_report(report, args.json)
    return EXIT_DAMAGE if report.problems else EXIT_OK


def print_report(report: Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps({
            "ok": not report.problems, "bundle": report.bundle, "session": report.session,
            "events": report.events, "checkpoints": report.checkpoints, "images": report.images,
            "signers": sorted(report.signers), "proof": report.proof, "problems": report.problems,
        }, indent=2))
        return
    if report.problems:
        print(f"DAMAGED: {report.bundle}")
        for problem in report.problems:
            print(f"  {problem}")
        return
    print(f"ok: session {report.session}, {report.events} events, {len(report.checkpoints)} checkpoints, "
          f"{report.images} image manifests (chunks not checked)")
    print(f"signed by: {', '.join(sorted(report.signers))}")
    if report.proof:
        print(f"proof: event {report.proof['seq']} is in the tree of {report.proof['treeSize']} events"
              + (f" signed by checkpoint {report.proof['checkpoint']}" if report.proof["checkpoint"] else
                 " (the bundle's signed history)"))


if __name__ == "__main__":
    sys.exit(main())
