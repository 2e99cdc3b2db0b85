"""The timeline page in headless Chromium, on a session made by the real CLI in a real microVM.

Invariants checked: with the store's key pinned the page verifies every event, the history head
and every checkpoint; without a key it says "unpinned", with another key it refuses; the kind
filter, the search and expanding output work on the rows; an inclusion proof leads to the signed
root; a `<script>` in a command, in output and in a tool call is shown as text and never runs,
ANSI escapes show as `\\e[31m`; after one byte of one event is changed in the file (the page still
parses) the page names that event, marks it, and marks nothing verified; a dropped event and an
edited signature are named too. `checkpoint cat` reads a file of the guest's real disk and
refuses paths outside it, missing files and directories; bad arguments exit 64, an existing
export file is refused; `history show --since/--until` take durations, times and positions.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from browser import chromium, open_page, wait_verified  # noqa: E402

STASIS = os.environ.get("STASIS_BIN", "stasis")
SHOTS = os.environ.get("STASIS_TIMELINE_SCREENSHOTS")
GUEST = "/var/cache/stasis/guest/kernel"
HOSTILE = "<script>window.pwned=1</script><img src=x onerror=window.pwned=2>"


class Session:
    """A store with one session: a microVM ran commands, was checkpointed, paused and resumed
    from its first checkpoint, which was also forked into a second sandbox; events were appended
    through `history append` too."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="stasis-timeline-")
        self.env = dict(os.environ, STASIS_STORE=os.path.join(self.dir, "store"))
        self.run("init")
        started = self.json("sandbox", "run", "--memory", "128M", "--disk", "64M", "--label", "agent=<b>coder</b>")
        self.id = started["session"]
        try:
            self.run("exec", self.id, "--shell", f"echo '{HOSTILE}'; printf '\\033[31mred\\033[0m\\n'; echo first > /mnt/disk/note; sync")
            self.first = self.json("sandbox", "checkpoint", self.id)["checkpoint"]
            self.run("exec", self.id, "--shell", "echo second > /mnt/disk/note; sync")
            self.second = self.json("sandbox", "pause", self.id)["checkpoint"]
            self.run("sandbox", "resume", self.id, "--checkpoint", self.first)
            self.run("exec", self.id, "--", "cat", "/mnt/disk/note")
            # A fork: a second sandbox, in a session of its own, from the first checkpoint.
            self.run("restore", self.first, "--start")
            self.fork = next(s["id"] for s in self.json("session", "ls") if s["labels"].get("forked_from") == self.id)
        finally:
            for s in [self.id] + ([self.fork] if hasattr(self, "fork") else []):
                subprocess.run([STASIS, "sandbox", "stop", s, "--discard"], env=self.env, capture_output=True)
        lines = [
            {"kind": "tool.call", "name": "browse", "arguments": {"html": HOSTILE}},
            {"kind": "message", "role": "assistant", "content": "bidi \u202e txt.exe and a needle"},
            {"kind": "output", "stream": "stdout", "data": "long " * 1200 + "blobneedle"},
        ]
        self.run("history", "append", self.id, input="\n".join(json.dumps(l) for l in lines))
        self.key = self.json("key", "show")["publicKey"]

    def run(self, *args, input=None):
        r = subprocess.run([STASIS, *args], env=self.env, capture_output=True, text=True, input=input)
        if r.returncode != 0:
            raise AssertionError(f"stasis {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        return r.stdout

    def json(self, *args):
        return json.loads(self.run(*args, "--json"))

    def export(self, name):
        path = os.path.join(self.dir, name)
        self.run("history", "export", self.id, "--format", "html", "-o", path)
        return path

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipUnless(os.path.exists(GUEST) and shutil.which("chromium") and shutil.which("chromedriver"),
                     "needs the guest kernel (Tools/guest/build.sh) and Debian's chromium + chromium-driver")
class TimelinePageTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.session = Session()
        cls.page = cls.session.export("timeline.html")
        cls.browser = chromium()

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        cls.session.close()

    def js(self, script, *args):
        return self.browser.execute_script(script, *args)

    def load(self, path, key=None):
        open_page(self.browser, path, key)
        return wait_verified(self.browser, timeout=120)

    def banner(self):
        return self.js("return document.getElementById('banner').textContent")

    def rows(self):
        return self.js("""return Array.from(document.querySelectorAll('#rows .row'), r =>
            ({seq: Number(r.dataset.seq), state: r.dataset.state, kind: r.querySelector('.kind').textContent, text: r.textContent}))""")

    def shot(self, name):
        if SHOTS:
            os.makedirs(SHOTS, exist_ok=True)
            self.browser.save_screenshot(os.path.join(SHOTS, name))

    def test_verified_filter_search_expand_proof(self):
        self.assertEqual(self.load(self.page, self.session.key), "verified", self.banner())
        self.assertIn(f"Verified with key {self.session.key}", self.banner())
        count = self.js("return window.stasisTimeline.Data.count")
        rows = self.rows()
        self.assertTrue(rows and all(r["state"] == "verified" for r in rows), rows[:3])
        kinds = {r["kind"] for r in rows}
        self.assertTrue({"command.started", "output", "command.exited", "checkpoint", "restore"} <= kinds, kinds)
        self.shot("timeline-verified.png")

        # Hostile text is text: nothing ran, no element came from event data.
        self.assertIsNone(self.js("return window.pwned === undefined ? null : window.pwned"))
        self.assertEqual(self.js("return document.querySelectorAll('#rows script, #rows img, #detail script').length"), 0)
        self.assertTrue(any("<script>window.pwned=1</script>" in r["text"] for r in rows if r["kind"] == "command.started"))
        self.assertTrue(any("\\e[31mred\\e[0m" in r["text"] for r in rows if r["kind"] == "output"))

        # Kind filter.
        self.browser.find_element("css selector", 'input[data-kind="output"]').click()
        filtered = self.rows()
        self.assertTrue(filtered and all(r["kind"] != "output" for r in filtered))
        self.assertLess(self.js("return window.stasisTimeline.View.visibleCount()"), count)
        self.browser.find_element("css selector", 'input[data-kind="output"]').click()

        # Search (also inside a blob-valued output) and expanding output.
        box = self.browser.find_element("id", "search")
        box.send_keys("needle\n")
        found = self.rows()
        self.assertEqual({r["kind"] for r in found}, {"message", "output"}, found)
        self.assertIn("\u27e6U+202E\u27e7", next(r["text"] for r in found if r["kind"] == "message"))
        box.clear(); box.send_keys("\n")
        output_row = next(r for r in self.rows() if r["kind"] == "output" and "red" in r["text"])
        self.browser.find_element("css selector", f'.row[data-seq="{output_row["seq"]}"] .toggle').click()
        full = self.js(f"return document.querySelector('.row[data-seq=\"{output_row['seq']}\"] pre.full').textContent")
        self.assertIn(HOSTILE, full)
        self.assertIn("\\e[31mred", full)
        self.shot("timeline-expanded.png")

        # Inclusion proof of the first event against the first checkpoint's signed root.
        self.browser.find_element("css selector", '.row[data-seq="0"] .text').click()
        self.browser.find_element("id", "prove").click()
        proof = self.js("return document.getElementById('proof').textContent")
        self.assertIn("The path leads from the leaf to the signed root", proof)
        self.assertIn("checkpoint", proof)
        self.shot("timeline-proof.png")
        tree = self.js("return document.getElementById('tree').textContent")
        self.assertIn(f"fork: session {self.session.fork}", tree)
        self.assertIn(f"checkpoint {self.session.first[:16]}", tree)
        self.assertIsNone(self.js("return window.pwned === undefined ? null : window.pwned"))

    def test_unpinned_and_wrong_key(self):
        self.assertEqual(self.load(self.page), "unpinned", self.banner())
        self.assertTrue(all(r["state"] == "unpinned" for r in self.rows()))
        self.assertEqual(self.load(self.page, "11" * 32), "tampered")
        self.assertIn("not by the pinned key", self.js("return document.getElementById('problems').textContent"))
        self.assertFalse(any(r["state"] == "verified" for r in self.rows()))

    def edited(self, name, change):
        with open(self.page, encoding="utf-8") as f:
            text = f.read()
        changed = change(text)
        self.assertNotEqual(changed, text)
        path = os.path.join(self.session.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(changed)
        return path

    @staticmethod
    def events_part(text):
        start = text.index('data-stasis="events">') + len('data-stasis="events">')
        return start, text.index("</script>", start)

    def test_tampered_event_is_named(self):
        def change(text):
            start, end = self.events_part(text)
            lines = text[start:end].split("\n")
            n = next(i for i, l in enumerate(lines) if '"kind":"command.exited"' in l)
            lines[n] = re.sub(r'"code":(\d)', lambda m: '"code":' + str((int(m.group(1)) + 1) % 10), lines[n], count=1)
            self.victim = n
            return text[:start] + "\n".join(lines) + text[end:]
        path = self.edited("tampered.html", change)
        self.assertEqual(self.load(path, self.session.key), "tampered")
        self.assertIn(f"the first bad event is {self.victim}", self.banner())
        self.assertIn(f"event {self.victim} was edited", self.js("return document.getElementById('problems').textContent"))
        self.js("window.stasisTimeline.View.reveal(arguments[0])", self.victim)
        rows = {r["seq"]: r["state"] for r in self.rows()}
        self.assertEqual(rows[self.victim], "bad")
        self.assertFalse(any(s == "verified" for s in rows.values()))
        self.shot("timeline-tampered.png")

    def test_dropped_event_and_edited_signature(self):
        def drop(text):
            start, end = self.events_part(text)
            lines = text[start:end].split("\n")
            del lines[3]
            return text[:start] + "\n".join(lines) + text[end:]
        self.assertEqual(self.load(self.edited("dropped.html", drop), self.session.key), "tampered")
        self.assertIn("the first bad event is 3", self.banner())

        def resign(text):
            m = re.search(r'"signature":"([0-9a-f])', text)
            return text[:m.start(1)] + ("1" if m.group(1) == "0" else "0") + text[m.end(1):]
        self.assertEqual(self.load(self.edited("signature.html", resign), self.session.key), "tampered")
        self.assertIn("signature does not verify", self.banner() + self.js("return document.getElementById('problems').textContent"))

    def status(self, *args):
        r = subprocess.run([STASIS, *args], env=self.session.env, capture_output=True, text=True)
        return r.returncode, r.stdout + r.stderr

    def test_cli_bad_arguments(self):
        code, text = self.status("history", "export", self.session.id, "--format", "html")
        self.assertEqual(code, 64, text)
        code, text = self.status("history", "export", self.session.id, "--format", "html", "-o", self.page)
        self.assertEqual(code, 1, text)
        self.assertIn("already exists", text)
        code, text = self.status("history", "show", self.session.id, "--since", "yesterday")
        self.assertEqual(code, 64, text)
        self.assertIn("RFC 3339", text)
        # Everything happened in the last hour; nothing after an hour from now; positions still work.
        everything = len(self.status("history", "show", self.session.id, "--json")[1].splitlines())
        self.assertGreater(everything, 10)
        self.assertEqual(len(self.status("history", "show", self.session.id, "--since", "1h", "--json")[1].splitlines()), everything)
        self.assertEqual(self.status("history", "show", self.session.id, "--since", "2099-01-01T00:00:00Z", "--json"), (0, ""))
        self.assertEqual(len(self.status("history", "show", self.session.id, "--since", "2", "--until", "4", "--json")[1].splitlines()), 3)

    def test_checkpoint_cat_reads_the_guest_disk(self):
        # The guest mounts its disk at /mnt/disk: /note on the disk.
        self.assertEqual(self.session.run("checkpoint", "cat", f"{self.session.second}:/note"), "second\n")
        self.assertEqual(self.session.run("checkpoint", "cat", f"{self.session.first}:/lost+found/../note"), "first\n")
        r = subprocess.run([STASIS, "checkpoint", "cat", f"{self.session.first}:/../etc/passwd"], env=self.session.env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("outside the image", r.stderr)
        for path, words in [("/missing", "'/missing' does not exist on disk root"), ("/lost+found", "is a directory")]:
            code, text = self.status("checkpoint", "cat", f"{self.session.first}:{path}")
            self.assertEqual(code, 1, text)
            self.assertIn(words, text)
        self.assertEqual(self.status("checkpoint", "cat", "no-colon")[0], 64)


if __name__ == "__main__":
    unittest.main()
