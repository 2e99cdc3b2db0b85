#!/usr/bin/env bash
# Prints the host's TSC frequency in kHz (an integer), for the guest kernel's
# `tsc_early_khz=` parameter. Under QEMU microvm the guest cannot calibrate its
# TSC and hangs ("could not calculate TSC khz") without it; under TCG the
# guest's TSC ticks at the host's rate, so the host value is the right one.
#
# Sources, in order of trust:
#   1. /sys/devices/system/cpu/cpu0/tsc_freq_khz (some kernels export it)
#   2. the kernel log: "tsc: Refined TSC clocksource calibration: X MHz",
#      else "tsc: Detected X MHz processor" (dmesg, then journalctl -k)
#   3. /proc/cpuinfo "cpu MHz" (only meaningful with constant_tsc)
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: tsc-khz.sh [--verbose]

Prints the host TSC frequency in kHz (e.g. 2596120) on standard output.
--verbose   also say on standard error where the number came from.
Exits 1 if no source gives a number.
EOF
}

verbose=0
case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    -v | --verbose) verbose=1 ;;
    "") ;;
    *) echo "tsc-khz.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
esac

found() { # found <khz> <source>
    ((verbose)) && echo "tsc-khz.sh: $2" >&2
    echo "$1"
    exit 0
}

# "2596.120" (MHz) -> 2596120 (kHz), without floating point.
mhz_to_khz() {
    local mhz=$1 int frac
    int=${mhz%%.*}
    frac=""
    [[ $mhz == *.* ]] && frac=${mhz#*.}
    frac=$(printf '%-3.3s' "$frac" | tr ' ' 0)
    echo $((10#$int * 1000 + 10#$frac))
}

f=/sys/devices/system/cpu/cpu0/tsc_freq_khz
if [[ -r $f ]] && v=$(tr -dc 0-9 <"$f") && [[ -n $v ]] && ((v > 0)); then
    found "$v" "from $f"
fi

klog=""
if klog=$(dmesg 2>/dev/null) && [[ -n $klog ]]; then :
elif command -v journalctl >/dev/null && klog=$(journalctl -k -b --no-pager -q 2>/dev/null); then :
else klog=""; fi
if [[ -n $klog ]]; then
    for pat in 'Refined TSC clocksource calibration: ' 'tsc: Detected '; do
        v=$(printf '%s\n' "$klog" | grep -oE "${pat}[0-9]+\.[0-9]+ MHz" | tail -n 1 |
            grep -oE '[0-9]+\.[0-9]+' || true)
        if [[ -n $v ]]; then
            found "$(mhz_to_khz "$v")" "from the kernel log (\"${pat% }\" $v MHz)"
        fi
    done
fi

v=$(awk -F': *' '/^cpu MHz/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
if [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    grep -qw constant_tsc /proc/cpuinfo ||
        echo "tsc-khz.sh: warning: no constant_tsc flag; cpu MHz may not be the TSC rate" >&2
    found "$(mhz_to_khz "$v")" "from /proc/cpuinfo cpu MHz ($v)"
fi

echo "tsc-khz.sh: error: could not find the TSC frequency (no tsc_freq_khz in sysfs, no tsc line in the kernel log, no cpu MHz in /proc/cpuinfo)" >&2
exit 1
