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
