#!/usr/bin/env bash
# Boots the Stasis guest under QEMU microvm and talks to its agent: proves the
# image built by Tools/guest/build.sh works. Run with --help for details.
set -euo pipefail

PROG=run-example.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
    cat <<'EOF'
Usage: Tools/guest/run-example.sh [--cache DIR] [--accel tcg|kvm] [--keep]

Builds the guest if needed (Tools/guest/build.sh), then boots it under QEMU
microvm (256 MiB, RAM in a share=on file, a fresh 64 MiB ext4 disk, serial
console to a file, QMP socket, agent socket), waits for the agent's READY,
sends PING, a few EXECs (shell state kept between them, stdout/stderr/exit
code, a write to /mnt/disk), TIME, prints each response and the time from
QEMU start to READY, then quits QEMU over QMP and checks the disk's file from
the host.

  --cache DIR    guest cache folder (as for build.sh)
  --accel A      tcg (default; the only one that works on PVM hosts) or kvm
                 (-cpu host,-arch-capabilities; needs real VT-x/AMD-V)
  --keep         keep the temporary folder (console.log, disk.raw, ...)
  -h, --help     this text
EOF
}

CACHE_ARGS=()
ACCEL=tcg
KEEP=0
while (($#)); do
    case "$1" in
        --cache) [[ $# -ge 2 ]] || { echo "$PROG: --cache needs a folder" >&2; exit 2; }
                 CACHE_ARGS=(--cache "$2"); shift 2 ;;
        --cache=*) CACHE_ARGS=(--cache "${1#--cache=}"); shift ;;
        --accel) [[ $# -ge 2 ]] || { echo "$PROG: --accel needs tcg or kvm" >&2; exit 2; }
                 ACCEL=$2; shift 2 ;;
        --accel=*) ACCEL=${1#--accel=}; shift ;;
        --keep) KEEP=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "$PROG: unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
case "$ACCEL" in
    tcg) CPU=max ;;
    kvm) CPU=host,-arch-capabilities ;;
    *) echo "$PROG: --accel must be tcg or kvm, not $ACCEL" >&2; exit 2 ;;
esac

die() { echo "$PROG: error: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is needed"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 is needed (apt-get install e2fsprogs)"

CACHE=$("$HERE/build.sh" ${CACHE_ARGS[@]+"${CACHE_ARGS[@]}"} --quiet) || die "build.sh failed"
# shellcheck source=/dev/null
. "$CACHE/guest.env"
KHZ=$("$HERE/tsc-khz.sh") || die "cannot tell the host TSC frequency"

DIR=$(mktemp -d /tmp/stasis-guest.XXXXXX)
cleanup() {
    if ((KEEP)); then echo "$PROG: kept $DIR" >&2; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

truncate -s 64M "$DIR/disk.raw"
mkfs.ext4 -q -F "$DIR/disk.raw"

APPEND="$STASIS_GUEST_CMDLINE tsc_early_khz=$KHZ"
# shellcheck disable=SC2054 # the commas are inside QEMU option values
QEMU=(qemu-system-x86_64
    -M microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=on,pcie=off,memory-backend=mem
    -accel "$ACCEL" -cpu "$CPU" -m 256M -smp 1 -nodefaults -no-user-config -nographic
    -object "memory-backend-file,id=mem,size=256M,mem-path=$DIR/guest.mem,share=on"
    -kernel "$CACHE/$STASIS_GUEST_KERNEL" -initrd "$CACHE/$STASIS_GUEST_INITRD"
    -append "$APPEND"
    -serial "file:$DIR/console.log" -qmp "unix:$DIR/qmp.sock,server=on,wait=off"
    -drive "id=d0,file=$DIR/disk.raw,format=raw,if=none,cache=writeback,aio=threads" -device virtio-blk-device,drive=d0
    -chardev "socket,id=agent,path=$DIR/agent.sock,server=on,wait=off"
    -device virtio-serial-device,max_ports=2 -device virtserialport,chardev=agent,name=agent -no-reboot)

echo "cache:   $CACHE ($STASIS_GUEST_KERNEL, $STASIS_GUEST_KERNEL_FORMAT, $STASIS_GUEST_KERNEL_RELEASE)"
echo "cmdline: $APPEND"
printf 'qemu:   '; printf ' %q' "${QEMU[@]}"; echo

python3 - "$DIR" "${QEMU[@]}" <<'PYEOF'
import base64, json, os, socket, subprocess, sys, time

d = sys.argv[1]
qemu = sys.argv[2:]
t0 = time.monotonic()
log = open(os.path.join(d, "qemu.log"), "wb")
proc = subprocess.Popen(qemu, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

def fail(msg):
    print("FAILED: " + msg)
    try:
        with open(os.path.join(d, "console.log"), errors="replace") as f:
            print("--- console.log (last 40 lines) ---")
            print("".join(f.readlines()[-40:]))
        with open(os.path.join(d, "qemu.log"), errors="replace") as f:
            print("--- qemu output ---\n" + f.read())
    finally:
        if proc.poll() is None:
            proc.kill()
        sys.exit(1)

def connect(path, deadline):
    while True:
        if proc.poll() is not None:
            fail("qemu exited with status %d" % proc.returncode)
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                fail("cannot connect to " + path)
            time.sleep(0.01)

class Lines:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""
    def read(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                fail("no answer within %.0f s" % timeout)
            self.sock.settimeout(min(left, 0.5))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                if proc.poll() is not None:
                    fail("qemu exited with status %d" % proc.returncode)
                continue
            if not chunk:
                fail("agent socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        if not line:
            return self.read(timeout)   # the agent's wake-up line on a new connection
        return line.decode()

agent = connect(os.path.join(d, "agent.sock"), t0 + 10)
t_conn = time.monotonic()
lines = Lines(agent)
ready = lines.read(120)
t_ready = time.monotonic()
if not ready.startswith("READY "):
    fail("expected READY, got %r" % ready)
print("\n%-46s %s" % ("READY", ready))
print("QEMU start -> agent socket connected: %.0f ms" % ((t_conn - t0) * 1000))
print("QEMU start -> READY:                  %.2f s" % (t_ready - t0))

def request(line):
    t = time.monotonic()
    agent.sendall(line.encode() + b"\n")
    ans = lines.read(60)
    return ans, (time.monotonic() - t) * 1000

def b64d(s):
    return base64.b64decode(s).decode("utf-8", "replace")

checks = []
def check(name, ok):
    checks.append((name, ok))

ans, ms = request("PING p1")
print("\n%-46s %s   (%.1f ms)" % ("PING p1", ans, ms))
check("PING answered", ans == "PONG p1")

seq = 0
def exec_(cmd):
    global seq
    seq += 1
    ans, ms = request("EXEC e%d %s" % (seq, base64.b64encode(cmd.encode()).decode()))
    parts = ans.split(" ")
    if len(parts) != 7 or parts[0] != "RESULT" or parts[1] != "e%d" % seq:
        fail("bad answer to %r: %r" % (cmd, ans))
    rc, out, err = int(parts[2]), b64d(parts[3]), b64d(parts[4])
    if (len(out), len(err)) != (int(parts[5]), int(parts[6])):
        fail("answer to %r lost bytes: %d/%s stdout, %d/%s stderr" % (cmd, len(out), parts[5], len(err), parts[6]))
    print("EXEC %-41r %s   (%.1f ms)" % (cmd, ans if len(ans) < 70 else ans[:67] + "...", ms))
    print("     -> exit %d, stdout %r, stderr %r" % (rc, out, err))
    return rc, out, err

r = exec_("cut -d' ' -f1 /proc/uptime")
print("     guest uptime at this EXEC: %s s, so about %.2f s of the %.2f s went before the kernel started"
      " (QEMU, firmware, loading the kernel and initramfs)" % (r[1].strip(), t_ready - t0 - float(r[1]), t_ready - t0))
r = exec_("echo hi");                                   check("echo hi", r == (0, "hi\n", ""))
r = exec_("cd /tmp; X=5");                              check("cd; X=5", r[0] == 0)
r = exec_("echo $X $(pwd)");                            check("state kept", r == (0, "5 /tmp\n", ""))
r = exec_("false");                                     check("false -> 1", r[0] == 1)
r = exec_("echo to-stderr >&2; echo to-stdout; exit 3"); check("stderr + exit 3", r == (3, "to-stdout\n", "to-stderr\n"))
r = exec_("echo $X $(pwd)");                            check("exit restarts shell", r == (0, "/root\n", ""))
r = exec_("echo stasis-was-here > /mnt/disk/hello.txt && sync && cat /mnt/disk/hello.txt")
check("disk write", r == (0, "stasis-was-here\n", ""))
r = exec_("mount | grep /mnt/disk; uname -r; hostname");  check("disk mounted", "/dev/vda on /mnt/disk type ext4 (rw" in r[1])
r = exec_("sleep 300 & echo started $!");               check("background job", r[0] == 0)
r = exec_("jobs; kill %1 && echo killed");             check("job persists", "killed" in r[1])
r = exec_("sh -c 'sleep 0.2 & exit 0'; sleep 1; ps -o stat,comm | grep -c '^Z' || true")
check("orphans reaped", r[1].strip() == "0")

now = time.time()
ans, ms = request("TIME %.6f" % now)
print("%-46s %s   (%.1f ms)" % ("TIME %.6f" % now, ans, ms))
check("TIME", ans == "OK TIME")
r = exec_("date +%s")
skew = int(r[1]) - time.time()
print("     guest clock - host clock: %+.1f s (whole seconds only)" % skew)
check("clock set", abs(skew) <= 2)

ans, ms = request("PING p2")
print("%-46s %s   (%.1f ms)" % ("PING p2", ans, ms))
check("PING again", ans == "PONG p2")

# QMP: greeting, capabilities, quit.
q = connect(os.path.join(d, "qmp.sock"), time.monotonic() + 5)
qf = q.makefile("rwb")
def qmp(cmd):
    qf.write(json.dumps({"execute": cmd}).encode() + b"\n"); qf.flush()
    while True:
        msg = json.loads(qf.readline())
        if "return" in msg or "error" in msg:
            return msg
json.loads(qf.readline())
qmp("qmp_capabilities")
print("\nQMP quit:", qmp("quit"))
try:
    proc.wait(10)
except subprocess.TimeoutExpired:
    proc.kill()
    fail("qemu did not quit")
check("qemu quit", proc.returncode == 0)

bad = [n for n, ok in checks if not ok]
print("\n%d checks, %d failed%s" % (len(checks), len(bad), (": " + ", ".join(bad)) if bad else ""))
sys.exit(1 if bad else 0)
PYEOF

# The disk, read from the host after QEMU quit.
if command -v debugfs >/dev/null; then
    got=$(debugfs -R 'cat /hello.txt' "$DIR/disk.raw" 2>/dev/null)
    [[ $got == stasis-was-here ]] || die "the disk does not hold /hello.txt as written by the guest (got: $got)"
    echo "host sees /hello.txt on disk.raw: $got"
fi
echo "$PROG: ok"
