#!/usr/bin/env bash
# Builds the Stasis guest (kernel + initramfs with the guest agent) from
# Debian packages only, into a cache folder outside the repository.
# Run with --help for details.
set -euo pipefail

PROG=build.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STAMP_FORMAT=1
KERNEL_META=linux-image-cloud-amd64
# Loaded in this order by the guest's /init, after the modules they need.
WANTED_MODULES=(virtio_ring virtio virtio_mmio virtio_blk virtio_console virtio_net)

usage() {
    cat <<EOF
Usage: Tools/guest/build.sh [--cache DIR] [--force] [--quiet]

Builds the Stasis guest from Debian packages only and prints the cache folder
on success:
  vmlinux            the guest kernel, uncompressed ELF (boots via PVH), taken
                     out of the Debian cloud kernel's bzImage
  vmlinuz            the Debian bzImage itself (used only if extraction fails)
  kernel             symlink to the one to boot (vmlinux, else vmlinuz)
  initramfs.cpio.gz  busybox-static, the virtio modules (virtio_net for --network), /init, the
                     agent and its request loop in C (agent/*.c: stasis-agentd, stasis-exec;
                     compiled static), stasis-net (the network card's address, run by the host)
  guest.env          facts for the host (kernel release, format, cmdline)
  stamp              package versions + hash of Tools/guest/*; when it matches,
                     the build is skipped
  debs/              the downloaded .deb files, reused while their version holds

Steps: installs qemu-system-x86 busybox-static lz4 cpio gcc libc6-dev if missing; resolves
the kernel that $KERNEL_META depends on; apt-get downloads it and
busybox-static and unpacks them with dpkg -x (nothing is installed into
/boot); extracts vmlinux; builds the initramfs.

Options:
  --cache DIR   cache folder (default: \$STASIS_GUEST_CACHE, else
                /var/cache/stasis/guest); must not be inside the repository
  --force       rebuild even when the stamp matches
  --quiet       no progress messages (errors are still printed)
  -h, --help    this text

The guest protocol is in Tools/guest/PROTOCOL.md; Tools/guest/run-example.sh
boots the result under QEMU and talks to it.
EOF
}

QUIET=0
FORCE=0
CACHE=${STASIS_GUEST_CACHE:-/var/cache/stasis/guest}
while (($#)); do
    case "$1" in
        --cache) [[ $# -ge 2 && -n $2 ]] || { echo "$PROG: --cache needs a folder" >&2; exit 2; }
                 CACHE=$2; shift 2 ;;
        --cache=*) CACHE=${1#--cache=}; shift ;;
        --force) FORCE=1; shift ;;
        -q | --quiet) QUIET=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "$PROG: unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done

log() { ((QUIET)) || echo "$PROG: $*" >&2; }
warn() { echo "$PROG: warning: $*" >&2; }
die() { echo "$PROG: error: $*" >&2; exit 1; }

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
APT_UPDATED=0
apt_update() {
    ((APT_UPDATED)) && return 0
    log "apt-get update"
    $SUDO apt-get "${APT_OPTS[@]}" update -qq >&2 || die "apt-get update failed (is the Debian mirror reachable?)"
    APT_UPDATED=1
}

# --- the cache folder: outside the repository ------------------------------
CACHE=$(realpath -m -- "$CACHE")
REPO=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || (cd "$HERE/../.." && pwd -P))
REPO=$(realpath -- "$REPO")
case "$CACHE/" in
    "$REPO"/*) die "the cache folder $CACHE is inside the repository $REPO; pick one outside it (--cache DIR)" ;;
esac
mkdir -p "$CACHE" || die "cannot create the cache folder $CACHE"
case "$(realpath -- "$CACHE")/" in # again, through any symlink
    "$REPO"/*) die "the cache folder $CACHE resolves into the repository $REPO; pick one outside it (--cache DIR)" ;;
esac

# One build at a time per cache folder.
exec 9>"$CACHE/.lock"
if command -v flock >/dev/null; then
    flock -w 600 9 || die "another build holds $CACHE/.lock"
fi

# --- 1. host tools -----------------------------------------------------------
ensure_packages() { # ensure_packages PKG... : installs the missing ones
    local p missing=()
    for p in "$@"; do
        [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]}"
    # No recommends: qemu-system-x86 would pull in a GTK GUI, OVMF and VA drivers.
    if ! $SUDO apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${missing[@]}" >&2; then
        apt_update
        $SUDO apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
            die "apt-get install ${missing[*]} failed"
    fi
}
ensure_packages qemu-system-x86 busybox-static lz4 cpio gcc libc6-dev
command -v python3 >/dev/null || warn "python3 is missing: run-example.sh needs it"

# --- which packages ------------------------------------------------------------
# One apt-cache call (each costs ~0.5 s here): the candidate records of the
# kernel meta package, whose Depends names linux-image-<abi>-cloud-amd64
# (= <version>), and of busybox-static.
resolve() {
    apt-cache show --no-all-versions "$KERNEL_META" busybox-static 2>/dev/null | awk '
        /^Package: / { pkg = $2 }
        /^Version: / && pkg == "busybox-static" { print "BVER=" $2 }
        /^Depends: / && pkg == "'"$KERNEL_META"'" {
            n = split(substr($0, 10), deps, ",")
            for (i = 1; i <= n; i++) {
                d = deps[i]; gsub(/^ +| +$/, "", d); split(d, w, /[ ()]+/)
                if (w[1] ~ /^linux-image-[0-9]/) {
                    print "KPKG=" w[1]; if (w[2] == "=") print "KVER=" w[3]; break
                }
            }
        }'
}
KPKG="" KVER="" BVER=""
res=$(resolve || true)
if ! grep -q '^KPKG=' <<<"$res" || ! grep -q '^BVER=' <<<"$res"; then
    apt_update
    res=$(resolve || true)
fi
KPKG=$(sed -n 's/^KPKG=//p' <<<"$res")
KVER=$(sed -n 's/^KVER=//p' <<<"$res")
BVER=$(sed -n 's/^BVER=//p' <<<"$res")
[[ -n $KPKG ]] || die "cannot resolve the kernel package: apt-cache shows no $KERNEL_META depending on linux-image-<version> (are bookworm's main sources configured?)"
[[ -n $BVER ]] || die "apt-cache knows no busybox-static version"
if [[ -z $KVER ]]; then # unversioned dependency: take the candidate
    KVER=$(apt-cache policy "$KPKG" 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }')
    [[ -n $KVER ]] || die "apt-cache has no candidate version for $KPKG"
fi

inputs_hash() { # every file under Tools/guest, names and contents
    (cd "$HERE" && find . -type f ! -name '*~' ! -name '*.swp' -print0 | LC_ALL=C sort -z |
        xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}
STAMP_TEXT="format=$STAMP_FORMAT
kernel_package=$KPKG
kernel_version=$KVER
busybox_version=$BVER
inputs_sha256=$(inputs_hash)"

complete() {
    [[ -f $CACHE/stamp && -s $CACHE/initramfs.cpio.gz && -s $CACHE/vmlinuz && -e $CACHE/kernel && -f $CACHE/guest.env ]] &&
        [[ "$(cat "$CACHE/stamp")" == "$STAMP_TEXT" ]]
}
if ((!FORCE)) && complete; then
    log "up to date ($KPKG $KVER, busybox-static $BVER)"
    echo "$CACHE"
    exit 0
fi

T0=$(date +%s.%N)
log "building into $CACHE ($KPKG $KVER, busybox-static $BVER)"
WORK=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- 2. download and unpack --------------------------------------------------
mkdir -p "$CACHE/debs"
fetch_deb() { # fetch_deb PKG VERSION : prints the .deb path
    local pkg=$1 ver=$2 f
    f=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" -print | while read -r d; do
        [[ $(dpkg-deb -f "$d" Version 2>/dev/null) == "$ver" ]] && echo "$d" && break
    done)
    if [[ -z $f ]]; then
        log "apt-get download $pkg=$ver"
        local dl
        dl=$(mktemp -d "$WORK/dl.XXXXXX")
        # (apt warns that it downloads "unsandboxed as root" into a root-only
        # folder: harmless, so the log is shown only on failure.)
        if ! (cd "$dl" && apt-get "${APT_OPTS[@]}" download -q "$pkg=$ver") >"$dl.log" 2>&1; then
            apt_update
            (cd "$dl" && apt-get "${APT_OPTS[@]}" download -q "$pkg=$ver") >"$dl.log" 2>&1 || {
                sed 's/^/    /' "$dl.log" >&2
                die "apt-get download $pkg=$ver failed (is the Debian mirror reachable? is that version still published? the package lists were just updated: run build.sh again)"
            }
        fi
        f=$(find "$dl" -maxdepth 1 -name '*.deb' -print -quit)
        [[ -n $f ]] || die "apt-get download $pkg=$ver produced no .deb"
        find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" -delete
        mv "$f" "$CACHE/debs/"
        f="$CACHE/debs/$(basename "$f")"
    fi
    echo "$f"
}
KDEB=$(fetch_deb "$KPKG" "$KVER")
BDEB=$(fetch_deb busybox-static "$BVER")
log "unpacking $(basename "$KDEB") and $(basename "$BDEB")"
dpkg-deb -x "$KDEB" "$WORK/kernel" || die "dpkg -x $KDEB failed"
dpkg-deb -x "$BDEB" "$WORK/busybox" || die "dpkg -x $BDEB failed"

BZIMAGE=$(find "$WORK/kernel/boot" -maxdepth 1 -name 'vmlinuz-*' -print -quit 2>/dev/null || true)
[[ -n $BZIMAGE ]] || die "$KDEB holds no boot/vmlinuz-*"
KREL=${BZIMAGE##*/vmlinuz-}
MODDIR=""
for d in "$WORK/kernel/lib/modules/$KREL" "$WORK/kernel/usr/lib/modules/$KREL"; do
    [[ -d $d ]] && MODDIR=$d && break
done
[[ -n $MODDIR ]] || die "$KDEB holds no lib/modules/$KREL"
BUSYBOX="$WORK/busybox/bin/busybox"
[[ -x $BUSYBOX ]] || die "$BDEB holds no bin/busybox"

# --- 3. vmlinux out of the bzImage ---------------------------------------------
is_elf() { [[ -s $1 && $(head -c 4 "$1" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; }

# decompress_at FILE OFFSET LENGTH|"" OUT : tries the format named by the magic
# at OFFSET; succeeds if OUT is an ELF file. Decompressors may complain about
# the bytes that follow the payload (the kernel appends its size): ignored.
decompress_at() {
    local file=$1 off=$2 len=$3 out=$4 magic tool
    magic=$(tail -c +$((off + 1)) "$file" | head -c 6 | od -An -tx1 | tr -d ' \n')
    case "$magic" in
        1f8b08*) tool="gzip -dc" ;;
        fd377a585a00) tool="xz -dc" ;;
        02214c18*) tool="lz4 -dc" ;;
        28b52ffd*) tool="zstd -dc" ;;
        425a68*) tool="bzip2 -dc" ;;
        894c5a4f*) tool="lzop -dc" ;;
        5d0000*) tool="xz --format=lzma -dc" ;;
        *) return 1 ;;
    esac
    command -v "${tool%% *}" >/dev/null || { warn "payload at $off needs ${tool%% *}, which is not installed"; return 1; }
    if [[ -n $len ]]; then
        tail -c +$((off + 1)) "$file" | head -c "$len" | $tool >"$out" 2>/dev/null || true
    else
        tail -c +$((off + 1)) "$file" | $tool >"$out" 2>/dev/null || true
    fi
    is_elf "$out" && KFORMAT_NOTE="${tool%% *} payload at byte $off"
}

le32() { od -An -tu4 -j "$2" -N 4 "$1" | tr -d ' '; } # little-endian host
le8() { od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' '; }

extract_vmlinux() { # extract_vmlinux BZIMAGE OUT
    local img=$1 out=$2 setup_sects pstart plen off
    # The x86 boot protocol header says exactly where the payload is:
    # setup_sects at 0x1f1, payload_offset/_length at 0x248/0x24c, relative to
    # the protected-mode code that follows the (setup_sects+1)*512-byte setup.
    if [[ $(head -c $((0x206)) "$img" | tail -c 4) == HdrS ]]; then
        setup_sects=$(le8 "$img" $((0x1f1)))
        ((setup_sects)) || setup_sects=4
        pstart=$(( (setup_sects + 1) * 512 + $(le32 "$img" $((0x248))) ))
        plen=$(le32 "$img" $((0x24c)))
        decompress_at "$img" "$pstart" "$plen" "$out" && return 0
    fi
    # Else scan for the magics of every format the kernel can use.
    local m
    for m in '\x02\x21\x4c\x18' '\x1f\x8b\x08' '\xfd\x37\x7a\x58\x5a\x00' '\x28\xb5\x2f\xfd' \
        '\x42\x5a\x68' '\x89\x4c\x5a\x4f' '\x5d\x00\x00'; do
        for off in $(LC_ALL=C grep -obUaP "$m" "$img" 2>/dev/null | cut -d: -f1 | head -n 20); do
            decompress_at "$img" "$off" "" "$out" && return 0
        done
    done
    return 1
}

KFORMAT_NOTE=""
cp "$BZIMAGE" "$WORK/vmlinuz"
if extract_vmlinux "$BZIMAGE" "$WORK/vmlinux"; then
    KERNEL=vmlinux
    KFORMAT=elf
    log "extracted vmlinux ($KFORMAT_NOTE, $(du -m "$WORK/vmlinux" | cut -f1) MiB)"
else
    rm -f "$WORK/vmlinux"
    KERNEL=vmlinuz
    KFORMAT=bzimage
    warn "could not extract an ELF vmlinux from $(basename "$BZIMAGE"); the cache's kernel is the bzImage (boots, but slower)"
fi

# --- 4. the initramfs ----------------------------------------------------------
ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc/stasis,proc,sys,dev,tmp,run,root,mnt/disk,var/tmp,lib/modules/stasis}
chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"
chmod 0700 "$ROOT/root"

# busybox and its applet links
cp "$BUSYBOX" "$ROOT/bin/busybox"
applets=$("$BUSYBOX" --list-full 2>/dev/null || "$BUSYBOX" --list | sed 's|^|bin/|')
[[ -n $applets ]] || die "busybox lists no applets"
while read -r a; do
    [[ -n $a && $a != bin/busybox ]] || continue
    mkdir -p "$ROOT/$(dirname "$a")"
    [[ -e $ROOT/$a ]] || ln -s /bin/busybox "$ROOT/$a"
done <<<"$applets"
[[ -L $ROOT/bin/sh ]] || die "busybox has no sh applet"
ln -sf /proc/mounts "$ROOT/etc/mtab"

# Modules: find each wanted one, add what it depends on first.
declare -A KO_PATH=() SEEN=()
ORDER=()
modname() { local n=${1##*/}; n=${n%%.ko*}; echo "${n//-/_}"; }
while IFS= read -r -d '' f; do
    KO_PATH[$(modname "$f")]=$f
done < <(find "$MODDIR" -name '*.ko*' -print0)

uncompress_ko() { # uncompress_ko SRC DST
    case "$1" in
        *.ko) cp "$1" "$2" ;;
        *.ko.xz) xz -dc "$1" >"$2" ;;
        *.ko.zst) command -v zstd >/dev/null || ensure_packages zstd; zstd -qdc "$1" >"$2" ;;
        *.ko.gz) gzip -dc "$1" >"$2" ;;
        *) die "unknown module compression: $1" ;;
    esac
}
# modules.dep is written by depmod at install time, so Debian's package does
# not ship it: read the `depends=` entry of each module's .modinfo instead.
mod_depends() { # mod_depends NAME : names it needs, from modules.dep or .modinfo
    local n=$1 ko="$WORK/ko/$1.ko" line
    if [[ -f $MODDIR/modules.dep ]]; then
        line=$(grep -E "(^|/)${n//_/[_-]}\.ko[^:]*:" "$MODDIR/modules.dep" | head -n 1 || true)
        line=${line#*:}
        local d
        for d in $line; do modname "$d"; done
        return 0
    fi
    tr '\0' '\n' <"$ko" | grep -a -m 1 '^depends=' | cut -d= -f2 | tr ',' '\n' | sed 's/-/_/g' | grep -v '^$' || true
}
is_builtin() { grep -qE "(^|/)${1//_/[_-]}\.ko$" "$MODDIR/modules.builtin" 2>/dev/null; }
mkdir -p "$WORK/ko"
visit() {
    local n=$1 d
    [[ -z ${SEEN[$n]:-} ]] || return 0
    SEEN[$n]=1
    if [[ -z ${KO_PATH[$n]:-} ]]; then
        is_builtin "$n" && { log "module $n is built into the kernel"; return 0; }
        die "module $n is neither in $KPKG's lib/modules nor built in"
    fi
    uncompress_ko "${KO_PATH[$n]}" "$WORK/ko/$n.ko"
    for d in $(mod_depends "$n"); do visit "$d"; done
    ORDER+=("$n")
}
for m in "${WANTED_MODULES[@]}"; do visit "$m"; done
for m in "${ORDER[@]}"; do
    cp "$WORK/ko/$m.ko" "$ROOT/lib/modules/stasis/$m.ko"
    echo "$m"
done >"$ROOT/etc/stasis/modules"
log "modules, in load order: ${ORDER[*]}"

# /init, the agent, a few files
install -m 0755 "$HERE/rootfs/init" "$ROOT/init"
install -m 0755 "$HERE/rootfs/stasis-agent" "$ROOT/sbin/stasis-agent"
install -m 0755 "$HERE/rootfs/stasis-net" "$ROOT/sbin/stasis-net"
# The agent's request loop in C (stasis-agentd) and RUN's relay (stasis-exec): static, so they
# run in any template too.
"$HERE/agent/build.sh" "$ROOT/sbin" || die "compiling Tools/guest/agent failed (gcc and libc6-dev are needed)"
echo stasis >"$ROOT/etc/hostname"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\ntty:x:5:\n' >"$ROOT/etc/group"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$ROOT/etc/hosts"
printf 'kernel_release=%s\nkernel_package=%s %s\nbusybox=%s\n' "$KREL" "$KPKG" "$KVER" "$BVER" >"$ROOT/etc/stasis/build"
# The kernel opens /dev/console before /init runs: give it a node.
if [[ $(id -u) -eq 0 ]]; then
    mknod -m 0600 "$ROOT/dev/console" c 5 1
    mknod -m 0666 "$ROOT/dev/null" c 1 3
else
    warn "not root: no /dev/console in the initramfs (init reopens it from devtmpfs)"
fi

log "packing initramfs.cpio.gz"
find "$ROOT" -exec touch -h -d @0 {} + # fixed times: the same inputs give the same archive
(cd "$ROOT" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
    cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) | gzip -9n >"$WORK/initramfs.cpio.gz"

# --- install into the cache ----------------------------------------------------
cat >"$WORK/guest.env" <<EOF
# Written by Tools/guest/build.sh; shell-sourceable.
STASIS_GUEST_KERNEL=$KERNEL
STASIS_GUEST_KERNEL_FORMAT=$KFORMAT
STASIS_GUEST_KERNEL_RELEASE=$KREL
STASIS_GUEST_KERNEL_PACKAGE='$KPKG $KVER'
STASIS_GUEST_BUSYBOX_VERSION='$BVER'
STASIS_GUEST_INITRD=initramfs.cpio.gz
STASIS_GUEST_MODULES='${ORDER[*]}'
# Append tsc_early_khz=<host TSC kHz> (Tools/guest/tsc-khz.sh) under microvm.
STASIS_GUEST_CMDLINE='console=ttyS0 panic=-1 quiet tsc=reliable'
EOF
rm -f "$CACHE/stamp"
for f in vmlinuz initramfs.cpio.gz guest.env; do mv -f "$WORK/$f" "$CACHE/$f"; done
if [[ $KFORMAT == elf ]]; then mv -f "$WORK/vmlinux" "$CACHE/vmlinux"; else rm -f "$CACHE/vmlinux"; fi
ln -sfn "$KERNEL" "$CACHE/kernel"
printf '%s\n' "$STAMP_TEXT" >"$CACHE/stamp.tmp" && mv -f "$CACHE/stamp.tmp" "$CACHE/stamp"

rm -rf "$WORK"
T1=$(date +%s.%N)
log "done in $(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }') s; cache $(du -sh "$CACHE" | cut -f1) (kernel: $KERNEL, $(du -h "$CACHE/$KERNEL" | cut -f1); initramfs $(du -h "$CACHE/initramfs.cpio.gz" | cut -f1))"
echo "$CACHE"
