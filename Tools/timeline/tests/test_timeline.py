"""The timeline page in headless Chromium, on a session made by the real CLI in a real microVM.

Invariants checked: with the store's key pinned the page verifies every event, the history head
and every checkpoint; without a key it says "unpinned", with another key it refuses; the kind
filter, the search and expanding output work on the rows; an inclusion proof leads to the signed
root; a `<script>` in a command, in output and in a tool call is shown as text and never runs,
ANSI escapes show as `\\e[31m`; after one byte of one event is changed in the file (the page still
parses) the page names that event, marks it, and marks nothing verified; a dropped event and an
edited signature are named too. The offline page shows the precomputed diff of consecutive
checkpoints (a modified file's lines, hostile HTML in them as text). Served by `stasis serve
--http` with a token: every request without it is refused (401, nothing of the store in the
answer); with it the index lists the session, the page verifies as offline, the diff view
compares checkpoints through the server and opens a file as it was, and full-text search
answers; HTML and script in a guest file are shown as text and never run. `checkpoint cat` reads a file of the guest's real disk and
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
            self.run("exec", self.id, "--shell", f"echo '{HOSTILE}'; printf '\\033[31mred\\033[0m\\n'; echo first > /mnt/disk/note; "
                                                 f"echo '{HOSTILE}' > /mnt/disk/page.html; sync")
            self.first = self.json("sandbox", "checkpoint", self.id)["checkpoint"]
            self.run("exec", self.id, "--shell", f"echo second > /mnt/disk/note; echo 'line two {HOSTILE}' >> /mnt/disk/page.html; sync")
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
            # Steps of a linked LangGraph thread, as StasisSaver(session=...) writes them.
            {"kind": "x-langgraph.message", "thread_id": "thread-7", "checkpoint_ns": "", "checkpoint_id": "1ef0", "task_id": "t1",
             "channel": "messages", "type": "ai", "id": "m1", "content": "searching " + HOSTILE,
             "tool_calls": [{"id": "c1", "name": "search", "args": {"q": "graphquery"}}]},
            {"kind": "x-langgraph.tool-result", "thread_id": "thread-7", "checkpoint_ns": "", "checkpoint_id": "1ef0", "task_id": "t2",
             "channel": "messages", "id": "m2", "tool_call_id": "c1", "name": "search", "status": "error", "content": "no route"},
            {"kind": "x-langgraph.checkpoint", "thread_id": "thread-7", "checkpoint_ns": "", "checkpoint_id": "1ef1",
             "parent_checkpoint_id": "1ef0", "step": 2, "source": "loop"},
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


_shared = {}


def shared_session():
    """One microVM session for every class here (it takes most of the suite's time)."""
    if "session" not in _shared:
        _shared["session"] = Session()
        _shared["page"] = _shared["session"].export("timeline.html")
    return _shared["session"], _shared["page"]


def tearDownModule():
    if "session" in _shared:
        _shared["session"].close()


NEEDS = (os.path.exists(GUEST) and shutil.which("chromium") and shutil.which("chromedriver"),
         "needs the guest kernel (Tools/guest/build.sh) and Debian's chromium + chromium-driver")


@unittest.skipUnless(*NEEDS)
class TimelinePageTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.session, cls.page = shared_session()
        cls.browser = chromium()

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()

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

        # A linked LangGraph thread's steps read as steps: thread, who said what, which tool.
        box.send_keys("thread-7\n")
        graph = {r["kind"]: r["text"] for r in self.rows()}
        self.assertEqual(set(graph), {"x-langgraph.message", "x-langgraph.tool-result", "x-langgraph.checkpoint"}, graph)
        self.assertIn("[thread-7] ai: searching <script>window.pwned=1</script>", graph["x-langgraph.message"])
        self.assertIn('\u2192 search({"q":"graphquery"})', graph["x-langgraph.message"])
        self.assertIn("[thread-7] search ERROR no route", graph["x-langgraph.tool-result"])
        self.assertIn("[thread-7] step 2 checkpoint 1ef1 (loop)", graph["x-langgraph.checkpoint"])
        self.assertEqual(self.js("return document.querySelectorAll('#rows script, #rows img').length"), 0)
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

    def test_offline_diff_of_consecutive_checkpoints(self):
        self.load(self.page, self.session.key)
        self.assertEqual(self.js("return document.getElementById('compare-from').value"), self.session.first)
        self.assertEqual(self.js("return document.getElementById('compare-to').value"), self.session.second)
        compare_and_check_page_diff(self)
        self.shot("timeline-diff.png")


def compare_and_check_page_diff(test):
    """Clicks Compare (first → second), checks the chart and the files, opens page.html's line diff."""
    test.browser.find_element("id", "compare-go").click()
    test.browser.execute_async_script("""
        const done = arguments[arguments.length - 1], t = Date.now();
        (function poll() { if (document.getElementById('compare-chart') || document.querySelector('#compare-out .bad') || Date.now() - t > 60000) return done(); setTimeout(poll, 50); })();
    """)
    out = test.js("return document.getElementById('compare-out').textContent")
    test.assertIn("disk:root", out, out)
    modified = test.js("return Array.from(document.querySelectorAll('#compare-out li.modified a'), a => a.dataset.path)")
    test.assertIn("/note", modified, out)
    test.assertIn("/page.html", modified, out)
    test.browser.find_element("css selector", '#compare-out li.modified a[data-path="/page.html"]').click()
    test.browser.execute_async_script("""
        const done = arguments[arguments.length - 1], t = Date.now();
        (function poll() { if (document.querySelector('#compare-file pre, #compare-file .bad, #compare-file .hint') || Date.now() - t > 60000) return done(); setTimeout(poll, 50); })();
    """)
    added = test.js("return Array.from(document.querySelectorAll('#compare-file .l-added'), l => l.textContent)")
    test.assertEqual(added, [f"+ line two {HOSTILE}"], test.js("return document.getElementById('compare-file').textContent"))
    test.assertEqual(test.js("return document.querySelectorAll('#compare script, #compare img').length"), 0)
    test.assertIsNone(test.js("return window.pwned === undefined ? null : window.pwned"))


@unittest.skipUnless(*NEEDS)
class ServedTimelineTests(unittest.TestCase):
    """`stasis serve --http` on loopback with a token, driven through the browser."""

    @classmethod
    def setUpClass(cls):
        cls.session, _ = shared_session()
        cls.token = "tok-" + os.urandom(12).hex()
        env = dict(cls.session.env, STASIS_TOKEN=cls.token)
        cls.daemon = subprocess.Popen([STASIS, "serve", "--socket", os.path.join(cls.session.dir, "s.sock"), "--http", "127.0.0.1:0"],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        cls.base = None
        for _ in range(4):
            line = cls.daemon.stdout.readline()
            m = re.match(r"listening (http://\S+)", line)
            if m:
                cls.base = m.group(1)
                break
        if not cls.base:
            cls.daemon.kill()
            raise AssertionError("stasis serve --http did not announce its address: " + cls.daemon.stderr.read())
        cls.browser = chromium()

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        cls.daemon.terminate()
        cls.daemon.wait(timeout=60)

    def js(self, script, *args):
        return self.browser.execute_script(script, *args)

    def body(self):
        return self.js("return document.body.innerText")

    def fetch_json(self, path):
        return self.browser.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch(arguments[0]).then(async r => done({status: r.status, body: await r.json()})).catch(e => done({status: 0, body: String(e)}));
        """, path)

    def test_1_refused_without_token(self):
        for path in ["/", f"/sessions/{self.session.id}", "/api/sessions", "/api/search?q=needle",
                     f"/api/checkpoints/{self.session.first}/file?path=/page.html"]:
            self.browser.get(self.base + path)
            text = self.body()
            self.assertIn("needs a token", text, path)
            self.assertNotIn(self.session.id, text, path)
            self.assertNotIn("pwned", text, path)

    def test_2_served_page_verifies_compares_and_searches(self):
        self.browser.get(f"{self.base}/?token={self.token}")
        self.assertIn(self.session.id[:12], self.body())
        self.browser.get(f"{self.base}/sessions/{self.session.id}#key={self.session.key}")
        self.assertEqual(wait_verified(self.browser, timeout=120), "verified", self.body()[:400])
        compare_and_check_page_diff(self)
        # A file as it was at a checkpoint: its HTML is text.
        self.browser.find_element("css selector", '#compare-out li.modified a[data-path="/note"]').click()
        self.browser.execute_async_script("""
            const done = arguments[arguments.length - 1], t = Date.now();
            (function poll() { const a = document.querySelector('#compare-file a'); if (a) { a.click(); return done(); } if (Date.now() - t > 60000) return done(); setTimeout(poll, 50); })();
        """)
        self.browser.execute_async_script("""
            const done = arguments[arguments.length - 1], t = Date.now();
            (function poll() { if (document.querySelector('#compare-file pre.filetext, #compare-file .bad') || Date.now() - t > 60000) return done(); setTimeout(poll, 50); })();
        """)
        self.assertEqual(self.js("return document.querySelector('#compare-file pre.filetext').textContent"), "first\n")
        page = self.fetch_json(f"/api/checkpoints/{self.session.second}/file?path=/page.html")
        self.assertEqual(page["status"], 200)
        self.assertEqual(page["body"]["text"], f"{HOSTILE}\nline two {HOSTILE}\n")
        # Full-text search through the catalog's index.
        found = self.fetch_json(f"/api/search?q=needle&session={self.session.id}")
        self.assertEqual(found["status"], 200)
        self.assertEqual({h["kind"] for h in found["body"]["hits"]}, {"message"}, found)
        # Words are whole: the output's "blobneedle" (a value kept in the blob store) is its own word.
        blob = self.fetch_json(f"/api/search?q=blobneedle&session={self.session.id}")
        self.assertEqual({h["kind"] for h in blob["body"]["hits"]}, {"output"}, blob)
        self.assertEqual(self.fetch_json("/api/search?q=--")["status"], 400)
        self.assertIsNone(self.js("return window.pwned === undefined ? null : window.pwned"))
        if SHOTS:
            self.browser.save_screenshot(os.path.join(SHOTS, "timeline-served-diff.png"))


if __name__ == "__main__":
    unittest.main()
