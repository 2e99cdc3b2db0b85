#!/usr/bin/env bash
# A real agent task in a Debian sandbox (the README's `make test`, for real):
#  builds (or reuses) a Debian bookworm template with python3, git and make and warms it;
#  starts a sandbox from it, copies a small Python project in, runs its tests; the "agent"
#  starts a change, the sandbox is paused and resumed in a fresh VM where the work continues;
#  a second sandbox forked from the same checkpoint makes a different change; `stasis diff`
#  shows how the two forks' files differ.
#
#   Tools/demo-template.sh STASIS_BINARY [--work DIR] [--memory 512M]
# The debootstrap tree is cached in $STASIS_TEMPLATE_CACHE (default /var/cache/stasis/templates).
set -euo pipefail
STASIS=${1:?usage: Tools/demo-template.sh STASIS_BINARY [--work DIR] [--memory 512M]}
shift
WORK=""
MEMORY=512M
while (($#)); do
    case "$1" in
        --work) WORK="$2"; shift 2 ;;
        --memory) MEMORY="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 64 ;;
    esac
done
WORK="${WORK:-$(mktemp -d /tmp/stasis-agent.XXXXXX)}"
if ! command -v debootstrap >/dev/null; then
    SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq debootstrap >/dev/null
fi
export STASIS_STORE="$WORK/agent-store"
[[ -d $STASIS_STORE ]] || "$STASIS" init --no-encryption >/dev/null
cleanup() { for s in $("$STASIS" sandbox ls --json 2>/dev/null | python3 -c 'import json,sys; print(" ".join(x["sandbox"] for x in json.load(sys.stdin)["sandboxes"]))'); do "$STASIS" sandbox stop "$s" --discard >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
step() { echo; echo "== $*"; }
run() { echo "\$ stasis exec ${*:2}" | cut -c1-160; "$STASIS" exec "$@"; }

step "template: Debian bookworm + python3, git, make"
if ! "$STASIS" template show deb >/dev/null 2>&1; then
    "$STASIS" template build deb --debian bookworm --packages python3,git,make
    "$STASIS" template warm deb --memory "$MEMORY"
fi
"$STASIS" template ls

step "a sandbox from the template"
t0=$(date +%s.%N)
S=$("$STASIS" sandbox run --template deb --memory "$MEMORY")
echo "session $S answering after $(python3 -c "print(round($(date +%s.%N) - $t0, 2))") s"
run "$S" -- python3 --version
run "$S" -- git --version

step "copy a small Python project in (a here-doc through exec) and run its tests"
run "$S" --shell "mkdir -p /work/calc && cd /work/calc && cat > calc.py <<'PY'
def add(a, b):
    return a + b


def mul(a, b):
    return a * b
PY
cat > test_calc.py <<'PY'
import unittest
import calc


class CalcTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(calc.add(2, 3), 5)

    def test_mul(self):
        self.assertEqual(calc.mul(4, 5), 20)


if __name__ == '__main__':
    unittest.main()
PY
printf 'test:\n\tpython3 -m unittest -v\n' > Makefile
git init -q && git add -A && git -c user.name=agent -c user.email=agent@example.com commit -qm 'calc: add and mul' && git log --oneline"
run "$S" --shell 'cd /work/calc && make test'

step "the agent starts a change (a test first), then the sandbox is paused"
run "$S" --shell "cd /work/calc && python3 - <<'PY'
src = open('test_calc.py').read()
src = src.replace(\"if __name__\", \"class PowTest(unittest.TestCase):\n    def test_pow(self):\n        self.assertEqual(calc.power(2, 10), 1024)\n\n\nif __name__\")
open('test_calc.py', 'w').write(src)
PY
make test >/dev/null 2>&1 && echo 'tests pass?!' || echo 'the new test fails, as it should before the change'"
"$STASIS" sandbox pause "$S"
"$STASIS" sandbox ls

step "resume in a fresh sandbox and continue the work"
"$STASIS" sandbox resume "$S"
run "$S" --shell "cd /work/calc && printf '\n\ndef power(a, b):\n    return a ** b\n' >> calc.py && make test 2>&1 | tail -3 && git -c user.name=agent -c user.email=agent@example.com commit -qam 'calc: power' && git log --oneline"
C=$("$STASIS" sandbox checkpoint "$S")
echo "checkpoint $C"

step "fork a second sandbox from that checkpoint; it makes a different change"
F=$("$STASIS" restore "$C" --start)
run "$F" --shell "cd /work/calc && printf '\n\ndef neg(a):\n    return -a\n' >> calc.py && echo 'NOTES: negation added by the fork' > NOTES.txt && make test 2>&1 | tail -1 && git add -A && git -c user.name=fork -c user.email=fork@example.com commit -qm 'calc: neg' && git log --oneline"
run "$S" --shell "cd /work/calc && sed -i 's/return a + b/return sum((a, b))/' calc.py && make test 2>&1 | tail -1 && git -c user.name=agent -c user.email=agent@example.com commit -qam 'calc: add via sum'"
C1=$("$STASIS" sandbox checkpoint "$S")
C2=$("$STASIS" sandbox checkpoint "$F")

step "how the two forks' files differ (stasis diff, read from the checkpoints' disks)"
"$STASIS" diff "$C1" "$C2" | grep -E 'work/calc|^[A-Za-z]' | head -30
"$STASIS" stats | head -8
echo "done: store $STASIS_STORE"
