"""The guest agent's native loop (stasis-agentd) on the host, without a VM.

The agent talks to one end of a socketpair that stands in for the virtio port
(fd 3); the host's /bin/sh stands in for busybox's. Everything the protocol
promises that does not need a guest kernel is checked here: framing, byte
counts, stdin, deadlines, the persistent shell and its restarts, bad input.
Run: python3 -m unittest discover -s Tools/guest/agent/tests (after building
the agent with Tools/guest/agent/build.sh OUT).
"""
import base64
import os
import socket
import subprocess
import tempfile
import threading
import unittest

AGENT = os.environ.get("STASIS_AGENTD", "/tmp/stasis-agentd")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Agent:
    def __init__(self, test: unittest.TestCase, profile: str | None = None):
        self.run_dir = tempfile.mkdtemp(prefix="agent-run-")
        self.home = tempfile.mkdtemp(prefix="agent-home-")
        host, guest = socket.socketpair()
        env = {"STASIS_AGENT_RUN": self.run_dir, "STASIS_AGENT_HOME": self.home,
               "STASIS_AGENT_SHELL": "/bin/sh", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        if profile is not None:
            env["STASIS_AGENT_PROFILE"] = profile
        # fd 3 is the port, as the shell agent hands it over.
        self.proc = subprocess.Popen(["/bin/sh", "-c", f'exec "$0" boot-1 socketpair 3<&{guest.fileno()}', AGENT],
                                     env=env, pass_fds=(guest.fileno(),), stderr=None if os.environ.get("AGENT_DEBUG") else subprocess.DEVNULL)
        guest.close()
        self.sock = host
        self.sock.settimeout(30)
        self.buf = b""
        test.addCleanup(self.close)
        test.assertEqual(self.line(), "READY boot-1")

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.sock.close()
        subprocess.run(["rm", "-rf", self.run_dir, self.home])

    def send(self, text: str):
        self.sock.sendall(text.encode())

    def line(self) -> str:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("agent closed the port")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def raw(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("agent closed the port")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def answer(self) -> str:
        while True:
            line = self.line()
            if line:
                return line

    def run(self, rid: str, command: str, stdin: bytes | None = None, deadline: int | None = None):
        """RUN; returns (stdout, stderr, exit code, timed out) after checking the byte counts."""
        if deadline is not None:
            self.send(f"DEADLINE {deadline}\n")
            assert self.answer() == "OK DEADLINE"
        self.send(f"RUN {rid} {0 if stdin is None else 1} {b64(command.encode())}\n")
        pump = None
        if stdin is not None:
            # From a thread of its own, as the host's pump does: the command's output
            # must be read while its input is still going in.
            def feed():
                for i in range(0, len(stdin), 48 << 10):
                    self.send(f"IN {rid} {b64(stdin[i:i + (48 << 10)])}\n")
                self.send(f"EOF {rid}\n")
            pump = threading.Thread(target=feed)
            pump.start()
        out, err = bytearray(), bytearray()
        while True:
            fields = self.answer().split(" ")
            if fields[0] == "OUT" and fields[1] == rid:
                (out if fields[2] == "1" else err).extend(base64.b64decode(fields[3], validate=True))
            elif fields[0] == "END" and fields[1] == rid:
                if pump is not None:
                    pump.join()
                assert int(fields[3]) == len(out) and int(fields[4]) == len(err), fields
                return bytes(out), bytes(err), int(fields[2]), fields[5] == "1"
            else:
                raise AssertionError(f"unexpected line {fields}")


class NativeAgentTests(unittest.TestCase):
    def setUp(self):
        self.agent = Agent(self)

    def test_ping_and_pipelined_requests_answer_in_order(self):
        self.agent.send("PING a\nPING b\n\nPING c\n")
        self.assertEqual([self.agent.answer() for _ in range(3)], ["PONG a", "PONG b", "PONG c"])

    def test_run_streams_both_outputs_with_exact_counts(self):
        out, err, rc, timed_out = self.agent.run("r1", "printf 'one\\0two'; echo oops >&2; exit_code=7; (exit 7)")
        self.assertEqual((out, err, rc, timed_out), (b"one\0two", b"oops\n", 7, False))

    def test_binary_frames_carry_output_raw_and_whole(self):
        data = os.urandom(5 << 20) + b"\n\nOUT x 1 AAAA\n"
        path = os.path.join(self.agent.home, "blob")
        with open(path, "wb") as f:
            f.write(data)
        self.agent.send(f"RUNB b1 0 {b64(f'cat {path}; echo err >&2; exit 4'.encode())}\n")
        out, err = bytearray(), bytearray()
        while True:
            fields = self.agent.answer().split(" ")
            if fields[0] == "OUTB":
                self.assertEqual(fields[1], "b1")
                (out if fields[2] == "1" else err).extend(self.agent.raw(int(fields[3])))
            elif fields[0] == "END":
                self.assertEqual(fields[1:], ["b1", "4", str(len(data)), "4", "0"])
                break
            else:
                raise AssertionError(fields)
        self.assertEqual(bytes(out), data)
        self.assertEqual(bytes(err), b"err\n")
        self.agent.send("PING after\n")
        self.assertEqual(self.agent.answer(), "PONG after")

    def test_large_binary_output_arrives_whole(self):
        data = os.urandom(3 << 20)
        path = os.path.join(self.agent.home, "blob")
        with open(path, "wb") as f:
            f.write(data)
        out, _, rc, _ = self.agent.run("big", f"cat {path}")
        self.assertEqual(rc, 0)
        self.assertEqual(out, data)

    def test_stdin_is_relayed_and_frames_after_eof_are_requests_again(self):
        data = os.urandom(300_000)
        out, _, rc, _ = self.agent.run("cat1", "cat", stdin=data)
        self.assertEqual((out, rc), (data, 0))
        # A command that ends without reading its input: the frames up to EOF are dropped.
        out, _, rc, _ = self.agent.run("early", "echo done", stdin=os.urandom(200_000))
        self.assertEqual((out, rc), (b"done\n", 0))
        self.agent.send("PING after\n")
        self.assertEqual(self.agent.answer(), "PONG after")

    def test_shell_state_persists_and_an_exit_restarts_a_fresh_shell(self):
        self.agent.run("s1", "cd /tmp; X=5")
        out, _, _, _ = self.agent.run("s2", "echo $X $(pwd)")
        self.assertEqual(out, b"5 /tmp\n")
        _, _, rc, _ = self.agent.run("s3", "exit 3")
        self.assertEqual(rc, 3)
        out, _, _, _ = self.agent.run("s4", "echo \"[$X]\" $(pwd)")
        self.assertEqual(out, f"[] {self.agent.home}\n".encode())

    def test_deadline_kills_the_command_and_says_so(self):
        out, err, rc, timed_out = self.agent.run("d1", "echo before; sleep 30", deadline=1)
        self.assertEqual((out, rc, timed_out), (b"before\n", 124, True))
        self.assertIn(b"timed out after 1 s", err)
        out, _, rc, _ = self.agent.run("d2", "echo alive")
        self.assertEqual((out, rc), (b"alive\n", 0))

    def test_exec_answers_whole_output_with_counts(self):
        self.agent.send(f"EXEC e1 {b64(b'echo hi; echo no >&2; false')}\n")
        fields = self.agent.answer().split(" ")
        self.assertEqual(fields[:3], ["RESULT", "e1", "1"])
        self.assertEqual(base64.b64decode(fields[3]), b"hi\n")
        self.assertEqual(base64.b64decode(fields[4]), b"no\n")
        self.assertEqual(fields[5:], ["3", "3"])

    def test_bad_requests_get_errors_and_change_nothing(self):
        self.agent.send("RUN bad/id 0 ZWNobw==\nRUN r 2 ZWNobw==\nEXEC e1 !!!!\nFROB x\nDEADLINE soon\nTIME yesterday\n")
        answers = [self.agent.answer() for _ in range(6)]
        self.assertEqual([a.split(" ")[:2] for a in answers],
                         [["ERR", "-"], ["ERR", "r"], ["ERR", "e1"], ["ERR", "-"], ["ERR", "-"], ["ERR", "TIME"]])
        self.assertIn(b"unknown request: FROB", base64.b64decode(answers[3].split(" ")[2]))
        out, _, rc, _ = self.agent.run("ok", "echo fine")
        self.assertEqual((out, rc), (b"fine\n", 0))

    def test_background_job_holding_stdout_does_not_hold_up_the_answer(self):
        out, _, rc, _ = self.agent.run("bg", "(sleep 3; echo late) & echo now")
        self.assertEqual((out, rc), (b"now\n", 0))
        out, _, _, _ = self.agent.run("next", "echo next")
        self.assertEqual(out, b"next\n")

    def test_stdin_closed_before_the_shell_opens_it_still_ends(self):
        # Input and its EOF may all arrive before the shell has opened the command's stdin:
        # the command must still see its input and its end, not wait for it forever.
        for i in range(20):
            out, _, rc, _ = self.agent.run(f"q{i}", "cat", stdin=b"x")
            self.assertEqual((out, rc), (b"x", 0))
        out, _, rc, _ = self.agent.run("empty", "wc -c", stdin=b"")
        self.assertEqual((out.strip(), rc), (b"0", 0))

    def read_terminal(self, rid: str, out: bytearray, until: bytes | None = None):
        """Collects OUT frames into out until `until` shows up (returns None) or END (returns the code)."""
        while until is None or until not in out:
            fields = self.agent.answer().split(" ")
            if fields[0] == "OUT" and fields[1] == rid:
                out.extend(base64.b64decode(fields[3]))
            elif fields[0] == "END" and fields[1] == rid:
                self.assertEqual(int(fields[3]), len(out))
                return int(fields[2])
            else:
                raise AssertionError(fields)
        return None

    def test_terminal_session_has_a_tty_its_size_and_its_exit_code(self):
        self.agent.send(f"PTY t1 24 80 xterm-256color {b64(b'')}\n")
        self.agent.send(f"IN t1 {b64(b'echo $((6*7)); tty; stty size; echo mark-$((1+1))' + bytes([10]))}\n")
        out = bytearray()
        self.assertIsNone(self.read_terminal("t1", out, until=b"mark-2"))
        self.agent.send(f"RESIZE t1 50 132\nIN t1 {b64(b'stty size; exit 3' + bytes([10]))}\n")
        rc = self.read_terminal("t1", out)
        self.agent.send("EOF t1\n")
        self.assertEqual(rc, 3)
        text = out.decode(errors="replace")
        for expected in ("42", "/dev/pts/", "24 80", "50 132"):
            self.assertIn(expected, text)
        self.assertLess(text.index("24 80"), text.index("50 132"))
        self.agent.send("PING t\n")
        self.assertEqual(self.agent.answer(), "PONG t")

    def test_terminal_command_and_input_that_ends(self):
        # Piped input that ends is ^D on the terminal: cat ends, and so does the session.
        self.agent.send(f"PTY t2 24 80 dumb {b64(b'cat; echo done')}\nIN t2 {b64(b'hello')}\nEOF t2\n")
        out = bytearray()
        while True:
            fields = self.agent.answer().split(" ")
            if fields[0] == "END":
                break
            out.extend(base64.b64decode(fields[3]))
        self.assertEqual(fields[2], "0")
        self.assertIn(b"hello", out)
        self.assertIn(b"done", out)

    def test_terminal_gets_the_template_profile(self):
        # A template's Env and WorkingDir reach a terminal session as they reach the persistent shell.
        profile = os.path.join(tempfile.mkdtemp(prefix="agent-profile-"), "template.env")
        with open(profile, "w") as f:
            f.write("export FROM_TEMPLATE=yes\ncd /tmp\n")
        agent = Agent(self, profile=profile)
        agent.send(f"PTY p1 24 80 dumb {b64(b'echo $FROM_TEMPLATE $(pwd)')}\n")
        out = bytearray()
        while True:
            fields = agent.answer().split(" ")
            if fields[0] == "END":
                agent.send("EOF p1\n")
                break
            out.extend(base64.b64decode(fields[3]))
        self.assertIn(b"yes /tmp", out)
        out, _, _, _ = agent.run("r", "echo $FROM_TEMPLATE $(pwd)")
        self.assertEqual(out, b"yes /tmp\n")

    def test_bad_terminal_requests_are_refused(self):
        self.agent.send(f"PTY t3 0 80 xterm {b64(b'true')}\nPTY t4 24 80 x;rm {b64(b'true')}\nPTY t5 24\n")
        answers = [self.agent.answer().split(" ")[:2] for _ in range(3)]
        self.assertEqual(answers, [["ERR", "t3"], ["ERR", "t4"], ["ERR", "t5"]])

    def test_no_request_files_are_left_behind(self):
        for i in range(5):
            self.agent.run(f"f{i}", "true", stdin=b"x" if i % 2 else None)
        # Requests are handled in order: once this is answered, the last RUN is cleaned up.
        self.agent.send("PING last\n")
        self.assertEqual(self.agent.answer(), "PONG last")
        self.assertEqual(sorted(os.listdir(self.agent.run_dir)), ["cmd", "done"])


if __name__ == "__main__":
    unittest.main()
