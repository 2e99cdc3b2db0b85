"""Tests of stasis_verify.py against real bundles made by the stasis CLI, and the Formats/ vectors.

    STASIS_BIN=PATH/TO/stasis python -m unittest test_stasis_verify   (run_tests.sh does this)

Tampered bundles are made two ways: a flipped byte left as it is (the container's digests catch
it), and a flipped byte with the container resealed, as an attacker would, so that the checks
behind the digests (record ids, signatures, chain, tree, signed head) must catch it. Each tampered
bundle is also given to `stasis bundle verify`, which must agree.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FORMATS = HERE.parent.parent / "Formats"
sys.path.insert(0, str(HERE))
import stasis_verify as sv  # noqa: E402

STASIS = os.environ.get("STASIS_BIN", "")


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), input=stdin, capture_output=True, text=True, env=env, timeout=60)


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, str(HERE / "stasis_verify.py"), *args)


def entries_of(data: bytes) -> list[tuple[str, bytes]]:
    """The entries in file order (the verifier's reader is trusted for this only after its tests)."""
    out, pos, end = [], 16, len(data) - 44
    while pos < end:
        (n,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2: pos + 2 + n].decode()
        (length,) = struct.unpack_from("<Q", data, pos + 2 + n)
        start = pos + 10 + n
        out.append((name, data[start: start + length]))
        pos = start + length + 32
    return out


def seal(entries: list[tuple[str, bytes]], version: int = 1) -> bytes:
    """A container with correct digests and trailer around whatever the entries hold."""
    body, digests = bytearray(b"STASBNDL" + struct.pack("<HHI", version, 0, 0)), []
    for name, data in entries:
        digest = hashlib.sha256(data).digest()
        digests.append(digest)
        body += struct.pack("<H", len(name)) + name.encode() + struct.pack("<Q", len(data)) + data + digest
    body += b"STASBEND" + struct.pack("<I", len(entries)) + hashlib.sha256(b"".join(digests)).digest()
    return bytes(body)


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def vector(doc: str, name: str) -> str:
    match = re.search(r"```\w* vector:" + re.escape(name) + r"\n(.*?)```", (FORMATS / doc).read_text(), re.S)
    assert match, f"no vector {name} in {doc}"
    return match.group(1)


class FormatVectors(unittest.TestCase):
    """The verifier's primitives reproduce the vectors published in Formats/."""

    def test_canonical_json(self) -> None:
        raw = '{"b":[1,2.50,true,null],"a":"x\\"y\\u00e9\\n","é":{},"Z":-0}'
        expected = vector("canonical-json.md", "canonical-json").strip().encode()
        self.assertEqual(sv.canonical(json.loads(raw)), expected)
        self.assertEqual(sv.parse_canonical(expected), json.loads(raw))
        with self.assertRaises(sv.NotCanonical):
            sv.parse_canonical(raw.encode())

    def test_history_events_tree_and_proof(self) -> None:
        lines = vector("history.md", "history-events").strip().split("\n")
        previous, leaves = sv.ZERO_HASH, []
        for body, hashes in zip(lines[0::2], lines[1::2]):
            leaf, chain = hashes.split()
            self.assertEqual(sv.parse_canonical(body.encode()), json.loads(body))
            leaves.append(sv.leaf_hash(body.encode()))
            previous = sv.chain_hash(previous, leaves[-1])
            self.assertEqual((leaves[-1].hex(), previous.hex()), (leaf, chain))
        root = "135b886e85d75d47bc13f46d098d1a3e79cf1ba222ac9fce8af4b70df4de895f"
        self.assertEqual(sv.merkle_root(leaves).hex(), root)
        path = [bytes.fromhex(h) for h in vector("history.md", "history-proof").split()]
        self.assertEqual(sv.root_from_path(1, 3, leaves[1], path), bytes.fromhex(root))
        self.assertIsNone(sv.root_from_path(1, 2, leaves[1], path))   # too long for the tree
        self.assertIsNone(sv.root_from_path(3, 3, leaves[1], path))   # not a position in it

    def test_namespaced_kinds(self) -> None:
        def problems(kind: str, data: str = "{}") -> list[str]:
            report = sv.Report(bundle="b")
            sv.check_event(0, f'{{"data":{data},"kind":"{kind}","seq":0,"time":1}}'.encode(), report)
            return report.problems

        self.assertEqual(problems("x-langgraph.step", '{"checkpoint_id":"1"}'), [])
        self.assertEqual(problems("x-a-1.b.c-d"), [])
        for bad in ("x-langgraph", "x-.step", "x-LangGraph.step", "x-a.b.", "x-a.", "langgraph.step", "x-" + "a" * 125 + ".step"):
            self.assertEqual(len(problems(bad)), 1, bad)
        self.assertEqual(len(problems("note")), 1)  # a built-in kind still needs its fields

    def test_checkpoint_record_id(self) -> None:
        record = vector("checkpoint.md", "checkpoint-record").strip().encode()
        sv.parse_canonical(record)
        self.assertEqual(hashlib.sha256(record).hexdigest(),
                         "76ff06ed76e5edf38cab236236b47820510380f8b341035b5e9b162999752233")

    def test_bundle_container(self) -> None:
        data = bytes.fromhex("".join(vector("bundle.md", "bundle-container").split()))
        self.assertEqual(seal([("a", b"hi")]), data)
        report = sv.Report(bundle="vector")
        self.assertEqual(sv.read_container(data, report), {"a": b"hi"})
        self.assertEqual(report.problems, [])

    def test_ecmascript_numbers(self) -> None:
        # RFC 8785, Appendix B: IEEE 754 bit patterns and what JCS writes for them.
        vectors = {0x0000000000000000: "0", 0x8000000000000000: "0", 0x0000000000000001: "5e-324",
                   0x8000000000000001: "-5e-324", 0x7fefffffffffffff: "1.7976931348623157e+308",
                   0x4340000000000000: "9007199254740992", 0x4430000000000000: "295147905179352830000",
                   0x44b52d02c7e14af5: "9.999999999999997e+22", 0x44b52d02c7e14af6: "1e+23",
                   0x444b1ae4d6e2ef50: "1e+21", 0x3eb0c6f7a0b5ed8c: "9.999999999999997e-7",
                   0x3eb0c6f7a0b5ed8d: "0.000001", 0x41b3de4355555554: "333333333.33333325",
                   0xbecbf647612f3696: "-0.0000033333333333333333", 0x43143ff3c1cb0959: "1424953923781206.2"}
        for bits, text in vectors.items():
            self.assertEqual(sv.es_number(struct.unpack("<d", struct.pack("<Q", bits))[0]), text, hex(bits))

    def test_numbers_as_stasis_writes_them(self) -> None:
        # Observed from the CLI (history export): the forms Python's repr does not share.
        cases = {9e15: "9000000000000000.0", 8.99e15: "8990000000000000", 1e16: "1e+16",
                 9007199254740994.0: "9.007199254740994e+15", 9.1e15: "9.1e+15",
                 -9.1e15: "-9.1e+15", 1e-5: "1e-05", 0.0001: "0.0001", -0.0: "0", 2.5: "2.5"}
        for value, text in cases.items():
            self.assertEqual(sv.encode_number(value), text, value)


@unittest.skipUnless(STASIS, "set STASIS_BIN to the stasis binary")
class RealBundles(unittest.TestCase):
    tmp: tempfile.TemporaryDirectory[str]
    dir: Path
    key: str
    session: str
    checkpoints: list[str]
    good: Path

    @classmethod
    def stasis(cls, *args: str, stdin: str = "", store: str = "store") -> str:
        result = run(STASIS, *args, "--store", str(cls.dir / store), stdin=stdin)
        assert result.returncode == 0, f"stasis {args}: {result.stderr}"
        return result.stdout.strip()

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory(prefix="stasis-verifier-")
        cls.dir = Path(cls.tmp.name)
        cls.stasis("init")
        cls.stasis("init", store="other")
        cls.key = cls.stasis("key", "show")
        cls.session = cls.stasis("session", "new", "--label", "agent=verifier")
        # More than 256 events (a full Merkle tile), odd tree sizes, and values whose canonical
        # form is tricky: non-BMP keys, escapes, integers near 2^63, floats in exponent form.
        lines = [json.dumps({"kind": "output", "stream": "stdout", "data": f"line {i}\n"}) for i in range(300)]
        lines.append('{"kind":"note","text":"tricky \\u0001\\u007f\\u2028 😀","😀":1,"ﬁ":2,"é":3,"\\uffff":4,'
                     '"n":[9007199254740992,-9007199254740992,18446744073709551616.0,0.1,1e20,1e21,1e-7,0.000001,'
                     '9007199254740994.0,9e15,-0.0,5e-324,333333333.33333329]}')
        cls.stasis("history", "append", cls.session, stdin="\n".join(lines) + "\n")
        (cls.dir / "mem").write_bytes(os.urandom(12288) + bytes(8192))
        (cls.dir / "vm.json").write_text('{"vcpus":1}')
        first = cls.stasis("checkpoint", "create", cls.session, "--memory", str(cls.dir / "mem"),
                           "--config", str(cls.dir / "vm.json"), "--label", "step=1")
        cls.stasis("history", "append", cls.session, stdin='{"kind":"command.exited","code":0}\n')
        second = cls.stasis("checkpoint", "create", cls.session, "--memory", str(cls.dir / "mem"))
        cls.stasis("history", "append", cls.session, stdin='{"kind":"note","text":"after"}\n')
        cls.checkpoints = [first, second]
        cls.good = cls.dir / "good.bundle"
        cls.stasis("bundle", "export", cls.session, "-o", str(cls.good))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def write(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(data)
        return path

    def tampered(self, name: str, change: Any) -> Path:
        """The good bundle with `change(entries)` applied and the container resealed."""
        entries = entries_of(self.good.read_bytes())
        return self.write(name, seal(change(entries)))

    def replace(self, entries: list[tuple[str, bytes]], name: str, data: bytes) -> list[tuple[str, bytes]]:
        self.assertIn(name, [n for n, _ in entries])
        return [(n, data if n == name else d) for n, d in entries]

    def entry(self, name: str) -> bytes:
        return dict(entries_of(self.good.read_bytes()))[name]

    def assertDamaged(self, bundle: Path, *needles: str, extra: tuple[str, ...] = ()) -> str:
        result = verify(str(bundle), *extra)
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        for needle in needles:
            self.assertIn(needle, result.stdout)
        # The reference implementation must agree that it is damaged.
        if not any(a == "--proof" for a in extra):
            key = ["--key", extra[extra.index("--public-key") + 1]] if "--public-key" in extra else []
            self.assertEqual(run(STASIS, "bundle", "verify", str(bundle), *key).returncode, 2)
        return result.stdout

    # -- good bundles ----------------------------------------------------------------------

    def test_good_bundle_verifies(self) -> None:
        result = verify(str(self.good), "--public-key", self.key)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn(f"ok: session {self.session}, 305 events, 2 checkpoints", result.stdout)
        report = json.loads(verify(str(self.good), "--json").stdout)
        self.assertTrue(report["ok"])
        self.assertEqual((report["events"], report["checkpoints"], report["signers"]), (305, self.checkpoints, [self.key]))

    def test_single_checkpoint_and_empty_bundles_verify(self) -> None:
        one = self.dir / "one.bundle"
        self.stasis("bundle", "export", self.session, "--checkpoint", self.checkpoints[1], "-o", str(one))
        self.assertEqual(verify(str(one), "--public-key", self.key).returncode, 0)
        empty, session = self.dir / "empty.bundle", self.stasis("session", "new")
        self.stasis("bundle", "export", session, "-o", str(empty))
        self.assertEqual(verify(str(empty)).returncode, 0)

    def test_proofs_verify(self) -> None:
        for seq, extra in ((0, []), (150, []), (299, ["--checkpoint", self.checkpoints[0]]), (303, []), (304, [])):
            proof = self.write(f"proof{seq}.json", self.stasis("history", "prove", self.session, str(seq), "--json", *extra).encode())
            result = verify(str(self.good), "--proof", str(proof), "--public-key", self.key, "--json")
            self.assertEqual(result.returncode, 0, result.stdout)
            self.assertTrue(json.loads(result.stdout)["proof"]["ok"])

    def test_signed_notes(self) -> None:
        """C2SP signed notes from `stasis history note`: the current head and a checkpoint's
        head verify against the bundle; a changed byte, another key, or a note of another session
        does not."""
        current = json.loads(self.stasis("history", "note", self.session, "--json"))
        at = json.loads(self.stasis("history", "note", self.session, "--checkpoint", self.checkpoints[0], "--json"))
        for note in (current, at):
            path = self.write(f"note-{note['size']}.txt", note["text"].encode())
            result = verify(str(self.good), "--note", str(path), "--note-key", note["verifierKey"])
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(current["size"], 305)
        forged = self.write("note-forged.txt", current["text"].replace("\n305\n", "\n304\n").encode())
        result = verify(str(self.good), "--note", str(forged), "--note-key", current["verifierKey"])
        self.assertEqual(result.returncode, 2)
        self.assertIn("no signature", result.stdout)
        other_key = json.loads(self.stasis("history", "note", self.stasis("session", "new", store="other"), "--json", store="other"))
        result = verify(str(self.good), "--note", str(self.write("note-ok.txt", current["text"].encode())), "--note-key", other_key["verifierKey"])
        self.assertEqual(result.returncode, 2)
        other = self.write("note-other.txt", other_key["text"].encode())
        result = verify(str(self.good), "--note", str(other), "--note-key", other_key["verifierKey"])
        self.assertEqual(result.returncode, 2)
        self.assertIn("origin", result.stdout)
        self.assertEqual(verify(str(self.good), "--note", str(other)).returncode, 1)

    # -- encrypted bundles -------------------------------------------------------------------

    def test_encrypted_bundle(self) -> None:
        """An encrypted bundle verifies with its passphrase and agrees with the reference; without
        it, or with a wrong one, it is a usage error; an altered segment, even resealed, is damage;
        none of the session's text is readable in the file."""
        secret = self.write("pass.txt", b"correct horse battery staple\n")
        bundle = self.dir / "sealed.bundle"
        self.stasis("bundle", "export", self.session, "-o", str(bundle), "--passphrase-file", str(secret))
        data = bundle.read_bytes()
        self.assertNotIn(b"tricky", data)
        self.assertNotIn(self.session.encode(), data)
        result = verify(str(bundle), "--passphrase-file", str(secret), "--public-key", self.key, "--json")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        report = json.loads(result.stdout)
        self.assertEqual((report["events"], report["checkpoints"]), (305, self.checkpoints))
        missing = verify(str(bundle))
        self.assertEqual(missing.returncode, 1)
        self.assertIn("encrypted bundle", missing.stderr)
        wrong = self.write("wrong.txt", b"tr0ub4dor\n")
        self.assertEqual(verify(str(bundle), "--passphrase-file", str(wrong)).returncode, 1)
        entries = entries_of(data)
        biggest = max(range(len(entries)), key=lambda i: len(entries[i][1]))
        name, content = entries[biggest]
        entries[biggest] = (name, flip(content, len(content) // 2))
        altered = self.write("sealed-altered.bundle", seal(entries, version=2))
        result = verify(str(altered), "--passphrase-file", str(secret))
        self.assertEqual(result.returncode, 2, result.stdout)
        self.assertIn("does not decrypt", result.stdout)
        reference = run(STASIS, "bundle", "verify", str(altered), "--passphrase-file", str(secret))
        self.assertEqual(reference.returncode, 2, reference.stderr)

    # -- RFC 8785 --------------------------------------------------------------------------

    def test_records_and_events_are_rfc8785(self) -> None:
        """An off-the-shelf JCS library (`rfc8785`) re-encodes every checkpoint record and event
        body of a bundle to the very bytes that were hashed and signed."""
        import rfc8785
        entries = dict(entries_of(self.good.read_bytes()))
        documents = [entries[f"checkpoints/{c}.record"] for c in self.checkpoints]
        documents += sv.split_events(entries["history/events"], sv.Report(bundle="good"))
        self.assertEqual(len(documents), 2 + 305)
        for data in documents:
            # JCS's data model: every number a double (Python would read 1e21's digits as an int).
            self.assertEqual(rfc8785.dumps(json.loads(data, parse_int=float)), data)
            value = json.loads(data)
            self.assertEqual(sv.jcs(value), data)
            self.assertTrue(sv.is_version_two(value), data[:80])

    def test_integers_beyond_2_53_are_refused(self) -> None:
        """They cannot be JCS numbers: `history append` refuses the line, naming the field, and
        appends nothing (a string holds such a value)."""
        session = self.stasis("session", "new")
        result = run(STASIS, "history", "append", session, "--store", str(self.dir / "store"),
                     stdin='{"kind":"note","text":"ok"}\n{"kind":"note","text":"big","n":[1,9007199254740993]}\n')
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("line 2", result.stderr)
        self.assertIn("/n/1", result.stderr)
        self.assertIn("write it as a string", result.stderr)
        self.assertEqual(self.stasis("history", "show", session, "--json"), "")   # one JSON line an event

    # -- damage ----------------------------------------------------------------------------

    def test_flipped_record_byte(self) -> None:
        name = f"checkpoints/{self.checkpoints[0]}.record"
        data = self.good.read_bytes()
        raw = self.write("raw-record.bundle", flip(data, data.index(self.entry(name)) + 10))
        self.assertDamaged(raw, name, "digest")
        record = self.entry(name)
        at = record.index(b'"step":"1"') + 8   # still canonical JSON after the flip: "step":"0"
        resealed = self.tampered("record.bundle", lambda e: self.replace(e, name, flip(record, at)))
        self.assertDamaged(resealed, f"{name}: SHA-256 is")

    def test_flipped_signature_byte(self) -> None:
        name = f"checkpoints/{self.checkpoints[1]}.sig"
        bundle = self.tampered("sig.bundle", lambda e: self.replace(e, name, flip(self.entry(name), 5)))
        self.assertDamaged(bundle, f"{name}: signature does not verify")

    def test_flipped_event_byte(self) -> None:
        events = self.entry("history/events")
        at = events.index(b"line 7\\n") + 5   # "line 7" becomes "line 6": still canonical
        bundle = self.tampered("event.bundle", lambda e: self.replace(e, "history/events", flip(events, at)))
        out = self.assertDamaged(bundle, "history/events", "bundle.json history: chain is")
        self.assertIn(f"checkpoints/{self.checkpoints[0]}.record: history.root", out)
        # A flip that breaks the JSON is named by event.
        at = events.index(b'"seq":12,') + 1
        bundle = self.tampered("event-json.bundle", lambda e: self.replace(e, "history/events", flip(events, at)))
        self.assertDamaged(bundle, "history/events event 12: ")

    def test_truncated_history(self) -> None:
        events = self.entry("history/events")
        bodies = sv.split_events(events, sv.Report(bundle="x"))
        shorter = events[: len(events) - 4 - len(bodies[-1])]
        bundle = self.tampered("short.bundle", lambda e: self.replace(e, "history/events", shorter))
        self.assertDamaged(bundle, "bundle.json history: size is 305, history/events holds 304 events")
        # An attacker who also rewrites the head's size and chain cannot re-sign it.
        head = json.loads(self.entry("bundle.json"))
        previous = sv.ZERO_HASH
        for body in bodies[:-1]:
            previous = sv.chain_hash(previous, sv.leaf_hash(body))
        head["history"].update(size=304, chain=previous.hex())
        forged = self.tampered("short-resigned.bundle", lambda e: self.replace(
            self.replace(e, "history/events", shorter), "bundle.json", sv.canonical(head)))
        self.assertDamaged(forged, "bundle.json history.signature: does not verify")
        # A file cut short loses its trailer.
        data = self.good.read_bytes()
        self.assertDamaged(self.write("cut.bundle", data[:-100]), "trailer: missing")

    def test_wrong_pinned_key(self) -> None:
        other = self.stasis("key", "show", store="other")
        out = self.assertDamaged(self.good, "signed by another key", extra=("--public-key", other))
        self.assertIn("bundle.json history.signer", out)
        self.assertIn(f"bundle.json checkpoint {self.checkpoints[0]} signer", out)

    def test_forged_proofs(self) -> None:
        proof = json.loads(self.stasis("history", "prove", self.session, "5", "--json"))
        other = json.loads(self.stasis("history", "prove", self.session, "6", "--json"))
        bogus = "ab" * 32
        forgeries: dict[str, tuple[dict[str, Any], str]] = {
            "path": ({"path": [bogus] + proof["path"][1:]}, "path: does not lead"),
            "leaf": ({"leaf": other["leaf"]}, "leaf: is not the leaf"),
            "seq": ({"seq": 6}, "path: does not lead"),
            "size": ({"treeSize": proof["treeSize"] + 1}, "root: is not the tree head"),
            # A self-consistent proof for a tree that no checkpoint signed.
            "root": ({"root": sv.node_hash(bytes.fromhex(proof["leaf"]), bytes.fromhex(bogus)).hex(),
                      "path": [bogus], "treeSize": 2, "seq": 0, "leaf": proof["leaf"]}, "root: is not the tree head"),
            "signature": ({"signature": "00" * 64}, "signature: is not checkpoint"),
            "key": ({"publicKey": self.stasis("key", "show", store="other")}, "publicKey: "),
        }
        for label, (change, needle) in forgeries.items():
            path = self.write(f"forged-{label}.json", json.dumps({**proof, **change}).encode())
            out = self.assertDamaged(self.good, f"forged-{label}.json {needle}", extra=("--proof", str(path)))
            self.assertNotIn("bundle.json", out, label)   # the bundle itself is fine
        # Without a checkpoint the root must be the bundle's own tree.
        head = {**json.loads(self.stasis("history", "prove", self.session, "304", "--json"))}
        path = self.write("forged-head.json", json.dumps({**head, "root": bogus, "path": head["path"]}).encode())
        self.assertDamaged(self.good, "forged-head.json path", extra=("--proof", str(path)))

    # -- usage -----------------------------------------------------------------------------

    def test_bad_arguments(self) -> None:
        cases = [
            ([str(self.dir / "missing.bundle")], "cannot read"),
            ([str(self.dir / "vm.json")], "is not a Stasis bundle"),
            ([str(self.good), "--public-key", "xyz"], "--public-key must be 64 hex digits"),
            ([str(self.good), "--proof", str(self.dir / "missing.json")], "cannot read"),
            ([str(self.good), "--proof", str(self.dir / "mem")], "is not JSON"),
            ([str(self.good), "--bogus"], "unrecognized arguments"),
            ([], "required"),
        ]
        for args, needle in cases:
            result = verify(*args)
            self.assertEqual(result.returncode, 1, args)
            self.assertIn(needle, result.stderr, args)


if __name__ == "__main__":
    unittest.main()
