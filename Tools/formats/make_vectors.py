#!/usr/bin/env python3
"""Writes the test vectors of Formats/*.md from an independent implementation of the formats.

The Swift tests read the vectors out of the spec files and check that the Swift code decodes
them (and, where the bytes do not depend on a compressor, encodes them) exactly: spec, this
script and the code cannot drift apart unnoticed.

    python3 Tools/formats/make_vectors.py   # prints the vector blocks to paste into Formats/
"""
import hashlib
import struct


def hexdump(b):
    h = b.hex()
    return "\n".join(h[i:i + 64] for i in range(0, len(h), 64))


def pack_vector():
    c1 = b"stasis pack v1\n\n"                       # stored raw
    c2_raw = b"a" * 64                                 # stored LZ4
    # LZ4 block: literal 'a', match offset 1 length 58, then 5 literals.
    c2 = bytes([0x1F, 0x61, 0x01, 0x00, 39, 0x50]) + b"aaaaa"
    header = b"STASPACK" + struct.pack("<HHI", 1, 0, 0)
    payload = c1 + c2
    entries = b""
    for raw, stored, enc in ((c1, c1, 0), (c2_raw, c2, 1)):
        entries += hashlib.sha256(raw).digest() + struct.pack("<IIB", len(raw), len(stored), enc) + b"\0\0\0"
    entries_offset = len(header) + len(payload)
    trailer = struct.pack("<QIHH", entries_offset, 2, 1, 0) + hashlib.sha256(entries).digest() + b"STASPEND"
    return header + payload + entries + trailer, [c1, c2_raw]


def manifest_vector():
    size, cs = 10000, 4096
    c1 = bytes([1]) * 4096
    c2 = bytes([2]) * (size - 2 * cs)
    body = b"STASIMGM" + struct.pack("<HHIQII", 1, 0, cs, size, 2, 0)
    body += struct.pack("<I", 1)                       # zero run of 1 chunk
    body += struct.pack("<I", (1 << 31) | 2)           # data run of 2 chunks
    body += hashlib.sha256(c1).digest() + hashlib.sha256(c2).digest()
    return body, hashlib.sha256(body).hexdigest()


def blob_vector():
    parts = [b"x" * 3000, b"hello, blob\n"]
    body = b"STASBLOB" + struct.pack("<HHQII", 1, 0, sum(map(len, parts)), len(parts), 0)
    for p in parts:
        body += struct.pack("<I", len(p)) + hashlib.sha256(p).digest()
    return body, hashlib.sha256(b"".join(parts)).hexdigest()


if __name__ == "__main__":
    pack, chunks = pack_vector()
    print("pack-v1 (%d bytes):\n%s\n" % (len(pack), hexdump(pack)))
    m, mid = manifest_vector()
    print("image-manifest-v1 id %s (%d bytes):\n%s\n" % (mid, len(m), hexdump(m)))
    b, bid = blob_vector()
    print("blob-manifest-v1 blob id %s (%d bytes):\n%s\n" % (bid, len(b), hexdump(b)))


def pack_v2_frames():
    """Two frames: chunks 1 and 2 compressed together as one LZ4 block, chunk 3 raw."""
    c1 = b"stasis pack v2\n\n"
    c2 = b"a" * 64
    c3 = b"raw frame\n"
    # LZ4 block over c1+c2 (80 bytes): 17 literals, a match at offset 1 of 58 bytes, 5 literals.
    block = bytes([0xFF, 17 - 15]) + c1 + b"a" + struct.pack("<H", 1) + bytes([58 - 4 - 15]) + bytes([0x50]) + b"aaaaa"
    return [(c1 + c2, block, 1, [c1, c2]), (c3, c3, 0, [c3])]


def aes_gcm(key, nonce, plain, aad):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    return AESGCM(key).encrypt(nonce, plain, aad)


VECTOR_DATA_KEY = bytes(range(32))
VECTOR_MASTER_KEY = bytes(range(32, 64))
VECTOR_PACK_ID = "00112233445566778899aabbccddeeff"


def pack_v2_zstd_frames():
    """One zstd frame (codec 2) holding 200 bytes of text and 300 × `z` (python-zstandard, which
    wraps libzstd: the decoder, not the compressor, is what the vector checks)."""
    import zstandard
    c1 = (b"stasis keeps agent sandboxes whole; " * 6)[:200]
    c2 = b"z" * 300
    block = zstandard.ZstdCompressor(level=3, write_content_size=True, write_checksum=False).compress(c1 + c2)
    return [(c1 + c2, block, 2, [c1, c2])]


def pack_v2_vector(encrypted, frames=None):
    """Formats/pack.md version 2; encrypted with data key 1 = bytes 0..31 and fixed nonces
    (01 × 12 and 02 × 12 for the frames, 03 × 12 for the table)."""
    frames = frames or pack_v2_frames()
    flags, key_id = (1, 1) if encrypted else (0, 0)
    header = b"STASPACK" + struct.pack("<HHI", 2, flags, key_id)
    body, records, entries = b"", b"", b""
    for n, (raw, stored, codec, chunks) in enumerate(frames):
        nonce = bytes([n + 1]) * 12 if encrypted else bytes(12)
        if encrypted:
            aad = b"stasis frame" + struct.pack("<BI", codec, len(raw))
            stored = aes_gcm(VECTOR_DATA_KEY, nonce, stored, aad)
        body += stored
        records += struct.pack("<IIB", len(stored), len(raw), codec) + b"\0\0\0" + nonce
        for c in chunks:
            entries += hashlib.sha256(c).digest() + struct.pack("<II", len(c), n)
    table = struct.pack("<II", len(frames), sum(len(f[3]) for f in frames)) + records + entries
    if encrypted:
        nonce = bytes([3]) * 12
        table = nonce + aes_gcm(VECTOR_DATA_KEY, nonce, table, header + VECTOR_PACK_ID.encode() + b"table")
    offset = len(header) + len(body)
    trailer = struct.pack("<QIHH", offset, len(table), 2, flags) + hashlib.sha256(table).digest() + b"STASPEND"
    return header + body + table + trailer


def sealed_manifest_vector():
    """Formats/encryption.md: the image-manifest-v1 vector sealed with data key 1, nonce 04 × 12."""
    plain, image_id = manifest_vector()
    head = b"STASSEAL" + struct.pack("<HHI", 1, 1, 1)
    nonce = bytes([4]) * 12
    return head + nonce + aes_gcm(VECTOR_DATA_KEY, nonce, plain, head + image_id.encode()), image_id


def wrapped_data_key_vector():
    """Data key 1 (bytes 0..31) wrapped by the master key bytes 32..63 with nonce 05 × 12."""
    nonce = bytes([5]) * 12
    return nonce + aes_gcm(VECTOR_MASTER_KEY, nonce, VECTOR_DATA_KEY, b"stasis data key" + struct.pack("<I", 1))


if __name__ == "__main__":
    print("pack-v2 (%d bytes):\n%s\n" % (len(pack_v2_vector(False)), hexdump(pack_v2_vector(False))))
    print("pack-v2-encrypted (%d bytes):\n%s\n" % (len(pack_v2_vector(True)), hexdump(pack_v2_vector(True))))
    zstd = pack_v2_vector(False, pack_v2_zstd_frames())
    print("pack-v2-zstd (%d bytes):\n%s\n" % (len(zstd), hexdump(zstd)))
    sealed, image_id = sealed_manifest_vector()
    print("sealed-manifest of %s (%d bytes):\n%s\n" % (image_id, len(sealed), hexdump(sealed)))
    print("wrapped-data-key (%d bytes):\n%s\n" % (len(wrapped_data_key_vector()), hexdump(wrapped_data_key_vector())))


# --- Session layer (Formats/canonical-json.md, history.md, checkpoint.md, bundle.md) ---------

import json


def canonical(value):
    """Canonical JSON: sorted keys (UTF-8 byte order = code point order), no whitespace, minimal escapes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(body):
    return hashlib.sha256(b"\x00" + body).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m, leaves):
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def chain(previous, leaf):
    return hashlib.sha256(b"stasis-chain-v1\x00" + previous + leaf).digest()


def history_vector():
    t = 1795900000000000000
    events = [
        {"data": {"command": "echo hi"}, "kind": "command.started", "seq": 0, "time": t},
        {"data": {"data": "hi\n", "stream": "stdout"}, "kind": "output", "seq": 1, "time": t + 1000000},
        {"data": {"code": 0, "duration_ms": 3}, "kind": "command.exited", "seq": 2, "time": t + 3000000},
    ]
    bodies = [canonical(e) for e in events]
    leaves = [leaf_hash(b) for b in bodies]
    chains, prev = [], bytes(32)
    for l in leaves:
        prev = chain(prev, l)
        chains.append(prev)
    return bodies, leaves, chains, mth(leaves), path(1, leaves)


def checkpoint_vector():
    record = {
        "version": 1, "session": "0123456789abcdef0123456789abcdef", "parent": None, "created": 1795900000000000000,
        "history": {"size": 3, "root": "00" * 32, "chain": "11" * 32},
        "images": {"memory": "22" * 32, "disk:root": "33" * 32},
        "blobs": {"config": "44" * 32}, "labels": {"step": "1"}, "meta": {},
    }
    body = canonical(record)
    return body, hashlib.sha256(body).hexdigest()


def history_v2_vector():
    """Format-2 events (RFC 8785 through the `rfc8785` package; times as decimal strings, "v": 2),
    with keys whose UTF-16 order differs from their UTF-8 order and numbers ECMAScript spells."""
    import rfc8785
    t = 1795900000000000000
    events = [
        {"data": {"command": "echo hi"}, "kind": "command.started", "seq": 0, "time": str(t), "v": 2},
        {"data": {"\ufb01": "BMP above U+E000", "😀": "astral", "ratio": 0.000001, "big": 1e21}, "kind": "x-demo.keys", "seq": 1,
         "time": str(t + 1000000), "v": 2},
        {"data": {"code": 0, "duration_ms": 3.5}, "kind": "command.exited", "seq": 2, "time": str(t + 3000000), "v": 2},
    ]
    bodies = [rfc8785.dumps(e) for e in events]
    leaves = [leaf_hash(b) for b in bodies]
    chains, prev = [], bytes(32)
    for l in leaves:
        prev = chain(prev, l)
        chains.append(prev)
    return bodies, leaves, chains


def checkpoint_v2_vector():
    import rfc8785
    record = {
        "version": 2, "session": "0123456789abcdef0123456789abcdef", "parent": None, "created": "1795900000000000000",
        "history": {"size": 3, "root": "00" * 32, "chain": "11" * 32},
        "images": {"memory": "22" * 32, "disk:root": "33" * 32},
        "blobs": {"config": "44" * 32}, "labels": {"step": "1"}, "meta": {"downtime_ms": 41.5, "accelerator": "tcg"},
    }
    body = rfc8785.dumps(record)
    return body, hashlib.sha256(body).hexdigest()


def checkpoint_signature_vector(cid):
    """The store key's signature of a checkpoint: Ed25519 (RFC 8032, deterministic) over
    "stasis-checkpoint-v1\n" + id, with the key whose seed is bytes 0..31. Needs `cryptography`."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return public, key.sign(b"stasis-checkpoint-v1\n" + cid.encode())


def bundle_container_vector():
    data = b"hi"
    entry = struct.pack("<H", 1) + b"a" + struct.pack("<Q", len(data)) + data + hashlib.sha256(data).digest()
    header = b"STASBNDL" + struct.pack("<HHI", 1, 0, 0)
    trailer = b"STASBEND" + struct.pack("<I", 1) + hashlib.sha256(hashlib.sha256(data).digest()).digest()
    return header + entry + trailer


if __name__ == "__main__":
    print("canonical-json: %s\n" % canonical(json.loads('{"b":[1,2.5,true,null],"a":"x\\"y\\u00e9\\n","é":{},"Z":-0}')).decode())
    bodies, leaves, chains, root, proof = history_vector()
    for i, b in enumerate(bodies):
        print("event %d body: %s\n  leaf  %s\n  chain %s" % (i, b.decode().replace("\n", "\\n"), leaves[i].hex(), chains[i].hex()))
    print("root of 3: %s\nproof of event 1: %s\n" % (root.hex(), " ".join(p.hex() for p in proof)))
    bodies, leaves, chains = history_v2_vector()
    for i, b in enumerate(bodies):
        print("format-2 event %d body: %s\n  leaf  %s\n  chain %s" % (i, b.decode(), leaves[i].hex(), chains[i].hex()))
    body, cid = checkpoint_v2_vector()
    print("checkpoint record v2: %s\n  id %s\n" % (body.decode(), cid))
    body, cid = checkpoint_vector()
    print("checkpoint record: %s\n  id %s\n" % (body.decode(), cid))
    public, signature = checkpoint_signature_vector(cid)
    print("checkpoint signature (seed 00..1f): public key %s\n  signature %s\n" % (public.hex(), signature.hex()))
    print("bundle container (%d bytes):\n%s" % (len(bundle_container_vector()), hexdump(bundle_container_vector())))
