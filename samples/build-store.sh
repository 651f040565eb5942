#!/usr/bin/env bash
# Builds the sample obuilder QEMU store in samples/out/ (see samples/README.md).
#
# Debian packages only, nothing mounted, no network. Skips all work when samples/out/ was built from
# the same recipe (a stamp holds a hash of the recipe files, the kernel and the output path, since the
# store holds absolute backing paths). Progress goes to stderr. Usage: bash samples/build-store.sh [--force]
set -euo pipefail

SAMPLES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SAMPLES/.." && pwd)"
RECIPE="$SAMPLES/recipe"
OUT="$SAMPLES/out"
CACHE="$SAMPLES/.cache"
STORE="$OUT/store"
export PATH="$PATH:/usr/sbin:/sbin"

log() { echo "build-store: $*" >&2; }
die() { echo "build-store: ERROR: $*" >&2; exit 1; }

FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

for cmd in makefs mkfs.fat mcopy syslinux sfdisk qemu-img dropbearkey ssh-keygen busybox cpio gzip node fls icat flock sha256sum; do
  command -v "$cmd" >/dev/null 2>&1 || die "missing command '$cmd' (run: bash scripts/setup.sh)"
done
[ -x "$ROOT/node_modules/.bin/tsx" ] || die "missing node_modules (run: bash scripts/setup.sh)"
[ -f /usr/lib/syslinux/mbr/mbr.bin ] || die "missing /usr/lib/syslinux/mbr/mbr.bin (Debian package syslinux)"
DROPBEAR="$(command -v dropbear || true)"
[ -n "$DROPBEAR" ] || die "missing dropbear (Debian package dropbear-bin)"

# The newest generic Debian kernel in /boot and its modules.
KERNEL="$(ls -1 /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n1 || true)"
[ -n "$KERNEL" ] || die "no /boot/vmlinuz-*-amd64 (Debian package linux-image-amd64)"
KVER="${KERNEL#/boot/vmlinuz-}"
MODDIR="/lib/modules/$KVER"
[ -f "$MODDIR/modules.dep" ] || die "no $MODDIR/modules.dep for kernel $KVER"

recipe_hash() {
  {
    echo "out=$OUT kver=$KVER kernel=$(stat -c %s:%Y "$KERNEL")"
    (cd "$SAMPLES" && find build-store.sh recipe expected job.log openbsd lib -type f -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-64
}

mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock 9

HASH="$(recipe_hash)"
if [ "$FORCE" = 0 ] && [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$HASH" ] && [ -f "$OUT/layers.json" ]; then
  log "sample store is up to date ($OUT/store)"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root to build (the /home staging tree is chown-ed to uid 1000 for makefs)"
T0=$(date +%s%N)
log "building the sample store in $OUT (recipe $HASH)"
eval "$(node "$RECIPE/steps.mjs" ids)"
grep -q "saved as \"$COPYCORRUPT_ID\"" "$SAMPLES/job.log" \
  || die "samples/job.log does not name the copy layer $COPYCORRUPT_ID (regenerate: node samples/recipe/steps.mjs joblog > samples/job.log)"

WORK="$CACHE/work"
rm -rf "$WORK" "$OUT"
mkdir -p "$WORK" "$OUT/ssh"
trap 'rm -rf "$WORK"' EXIT

# ---------- keys (kept in the cache so a rebuild keeps them) ----------
if [ ! -f "$CACHE/id_ed25519" ] || [ ! -f "$CACHE/id_ed25519.pub" ]; then
  rm -f "$CACHE/id_ed25519" "$CACHE/id_ed25519.pub"
  ssh-keygen -q -t ed25519 -N '' -C 'opam@layer-forensics-sample' -f "$CACHE/id_ed25519" >/dev/null
fi
if [ ! -f "$CACHE/dropbear_ed25519_host_key" ]; then
  dropbearkey -t ed25519 -f "$CACHE/dropbear_ed25519_host_key" >/dev/null 2>&1
fi
cp "$CACHE/id_ed25519" "$CACHE/id_ed25519.pub" "$OUT/ssh/"
chmod 700 "$OUT/ssh"; chmod 600 "$OUT/ssh/id_ed25519"

# ---------- disk geometry (512-byte sectors) ----------
DISK_MIB=80
P1_START=2048;  P1_SIZE=$((40 * 2048))          # FAT boot partition, 40 MiB at 1 MiB
P2_START=$((P1_START + P1_SIZE)); P2_SIZE=$((32 * 2048))  # UFS1 /home, 32 MiB at 41 MiB
FIXED_TIME=1782748800                              # 2026-06-29 16:00:00 UTC

# ---------- boot partition: syslinux + kernel + initramfs (cached) ----------
BOOT_KEY="$( { echo "$KVER $(stat -c %s:%Y "$KERNEL")"; sha256sum "$RECIPE/init" "$RECIPE/udhcpc.script" "$RECIPE/syslinux.cfg" \
  "$CACHE/dropbear_ed25519_host_key" "$(command -v busybox)" "$DROPBEAR" "$0"; } | sha256sum | cut -c1-16)"
FAT="$CACHE/boot-$BOOT_KEY.fat"
if [ ! -f "$FAT" ]; then
  rm -f "$CACHE"/boot-*.fat
  log "building the initramfs and the boot partition (kernel $KVER)"
  IR="$WORK/initramfs"
  mkdir -p "$IR"/{bin,sbin,usr/bin,usr/sbin,etc/dropbear,dev,proc,sys,tmp,run,var/run,var/log,root,home,lib/modules,mnt}
  chmod 1777 "$IR/tmp"
  cp "$(command -v busybox)" "$IR/bin/busybox"
  for applet in $("$IR/bin/busybox" --list-full); do
    [ -e "$IR/$applet" ] || [ -L "$IR/$applet" ] || ln -s /bin/busybox "$IR/$applet"
  done
  cp "$DROPBEAR" "$IR/usr/sbin/dropbear"
  # dropbear's shared libraries and the dynamic loader, at the paths ldd reports
  for lib in $(ldd "$DROPBEAR" | grep -oE '/[^ ]+' | sort -u); do
    mkdir -p "$IR$(dirname "$lib")"
    cp -L "$lib" "$IR$lib"
  done
  # kernel modules (with dependencies, in load order), unless built in
  : > "$IR/lib/modules/load-order"
  declare -A seen=()
  add_mod() {
    local name="$1" path deps d
    path="$(awk -F: -v n="$name" '{ f=$1; sub(/.*\//, "", f); sub(/\.ko(\.(xz|zst|gz))?$/, "", f); gsub(/-/, "_", f); if (f == n) { print $1; exit } }' "$MODDIR/modules.dep")"
    if [ -z "$path" ]; then
      grep -qE "/$name\.ko" "$MODDIR/modules.builtin" 2>/dev/null && return 0
      [ "${2:-}" = optional ] && { log "note: optional kernel module $name not found"; return 0; }
      die "kernel module $name not found for $KVER"
    fi
    [ -n "${seen[$path]:-}" ] && return 0
    seen[$path]=1
    deps="$(grep -E "^$path:" "$MODDIR/modules.dep" | cut -d: -f2)"
    for d in $deps; do
      d="${d##*/}"; d="${d%%.ko*}"; add_mod "${d//-/_}"
    done
    local base="${path##*/}" plain
    plain="${base%%.ko*}.ko"
    case "$base" in
      *.ko) cp "$MODDIR/$path" "$IR/lib/modules/$plain" ;;
      *.ko.xz) xz -dc "$MODDIR/$path" > "$IR/lib/modules/$plain" ;;
      *.ko.zst) zstd -qdc "$MODDIR/$path" > "$IR/lib/modules/$plain" ;;
      *.ko.gz) gzip -dc "$MODDIR/$path" > "$IR/lib/modules/$plain" ;;
    esac
    echo "$plain" >> "$IR/lib/modules/load-order"
  }
  for m in virtio_pci virtio_blk virtio_net ufs; do add_mod "$m"; done
  # ACPI power button -> busybox acpid -> poweroff, so an ACPI power-down (what obuilder sends) stops the guest
  for m in button evdev; do add_mod "$m" optional; done
  mkdir -p "$IR/etc/acpi/PWRF"
  printf '#!/bin/sh\necho "layer-forensics-guest: ACPI power button, powering off" > /dev/console\nsync\numount /home 2>/dev/null\npoweroff -f\n' > "$IR/etc/acpi/PWRF/00000080"
  chmod 755 "$IR/etc/acpi/PWRF/00000080"
  cat > "$IR/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
opam:x:1000:1000:opam:/home/opam:/bin/sh
EOF
  cat > "$IR/etc/group" <<'EOF'
root:x:0:
tty:x:5:opam
opam:x:1000:
EOF
  printf 'root:*:19000:0:99999:7:::\nopam:*:19000:0:99999:7:::\n' > "$IR/etc/shadow"; chmod 600 "$IR/etc/shadow"
  printf '/bin/sh\n/bin/ash\n' > "$IR/etc/shells"
  printf 'sample-worker-guest\n' > "$IR/etc/hostname"
  : > "$IR/etc/resolv.conf"
  cp "$RECIPE/init" "$IR/init"; chmod 755 "$IR/init"
  cp "$RECIPE/udhcpc.script" "$IR/etc/udhcpc.script"; chmod 755 "$IR/etc/udhcpc.script"
  cp "$CACHE/dropbear_ed25519_host_key" "$IR/etc/dropbear/dropbear_ed25519_host_key"
  chmod 600 "$IR/etc/dropbear/dropbear_ed25519_host_key"
  find "$IR" -exec touch -h -d "@$FIXED_TIME" {} +
  (cd "$IR" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n -6 > "$WORK/initrd.gz"

  rm -f "$WORK/boot.fat"
  mkfs.fat -C -F 16 -h "$P1_START" -i 1f0b5e11 -n LFBOOT "$WORK/boot.fat" $((P1_SIZE / 2)) >/dev/null
  export MTOOLS_SKIP_CHECK=1
  mcopy -i "$WORK/boot.fat" "$KERNEL" ::/vmlinuz
  mcopy -i "$WORK/boot.fat" "$WORK/initrd.gz" ::/initrd.gz
  mcopy -i "$WORK/boot.fat" "$RECIPE/syslinux.cfg" ::/syslinux.cfg
  syslinux --install "$WORK/boot.fat"
  mdir -a -i "$WORK/boot.fat" ::/ 2>/dev/null | grep -qi ldlinux || die "syslinux did not install ldlinux into the boot partition"
  mv "$WORK/boot.fat" "$FAT"
fi

# ---------- /home: one makefs image of the final tree; earlier states derived from it ----------
log "making the UFS1 /home image and deriving the layer states"
HOME_STAGE="$WORK/home"
mkdir -p "$HOME_STAGE/opam/.ssh" "$HOME_STAGE/opam/src"
cp "$CACHE/id_ed25519.pub" "$HOME_STAGE/opam/.ssh/authorized_keys"
printf 'export PATH=/usr/bin:/bin:/usr/sbin:/sbin\nexport OPAMYES=1\n' > "$HOME_STAGE/opam/.profile"
node "$RECIPE/gen-repo.mjs" "$HOME_STAGE/opam/opam-repository" 2>/dev/null
cp "$SAMPLES"/expected/*.opam "$HOME_STAGE/opam/src/"
node "$RECIPE/steps.mjs" build-output > "$HOME_STAGE/opam/build-output.txt"
chown -R 1000:1000 "$HOME_STAGE/opam"
find "$HOME_STAGE/opam" -type d -exec chmod 755 {} +
find "$HOME_STAGE/opam" -type f -exec chmod 644 {} +
chmod 700 "$HOME_STAGE/opam/.ssh"; chmod 600 "$HOME_STAGE/opam/.ssh/authorized_keys"
chown 0:0 "$HOME_STAGE"; chmod 755 "$HOME_STAGE"
find "$HOME_STAGE" -exec touch -h -d "@$FIXED_TIME" {} +
UFS="$WORK/ufs"
mkdir -p "$UFS"
makefs -t ffs -o version=1,density=8192 -s $((P2_SIZE * 512)) -T "$FIXED_TIME" "$UFS/full.img" "$HOME_STAGE" >/dev/null

U="node $RECIPE/ufs1.mjs"
ZX="$HOME_STAGE/opam/opam-repository/packages/zxcvbn/zxcvbn.2.4+1/opam"
[ -f "$ZX" ] || die "the repository generator did not write $ZX"
# state 4 (runOnTop): everything, with the three soft-updates corruptions in the copied files
cp "$UFS/full.img" "$UFS/s4.img"
$U overwrite "$UFS/s4.img" /opam/src/tls.opam dir:/opam/opam-repository/packages
$U overwrite "$UFS/s4.img" /opam/src/tls-async.opam "file:$ZX"
$U overwrite "$UFS/s4.img" /opam/src/tls-lwt.opam zeros
# state 3 (copyCorrupt): the same, before the run step wrote build-output.txt
cp "$UFS/s4.img" "$UFS/s3.img"; $U remove "$UFS/s3.img" /opam/build-output.txt
# state 5 (copyClean): the copy as it should have been
cp "$UFS/full.img" "$UFS/s5.img"; $U remove "$UFS/s5.img" /opam/build-output.txt
# state 2 (opamRepo): before the copy (no /home/opam/src yet)
cp "$UFS/s5.img" "$UFS/s2.img"; $U remove "$UFS/s2.img" /opam/src
# state 1 (base and from): before the repository clone
cp "$UFS/s2.img" "$UFS/s1.img"; $U remove "$UFS/s1.img" /opam/opam-repository

# ---------- whole disks ----------
log "assembling the disks and the qcow2 chain"
DISK="$WORK/disk-template.raw"
truncate -s "${DISK_MIB}M" "$DISK"
sfdisk -q --no-reread --no-tell-kernel "$DISK" >/dev/null <<EOF
label: dos
label-id: 0x1f0b5e11
unit: sectors

start=$P1_START, size=$P1_SIZE, type=6, bootable
start=$P2_START, size=$P2_SIZE, type=a9
EOF
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$DISK" bs=440 count=1 conv=notrunc status=none
dd if="$FAT" of="$DISK" bs=512 seek="$P1_START" conv=notrunc,sparse status=none
for s in 1 2 3 4 5; do
  cp --sparse=always "$DISK" "$WORK/s$s.raw"
  dd if="$UFS/s$s.img" of="$WORK/s$s.raw" bs=512 seek="$P2_START" conv=notrunc,sparse status=none
done

mkdir -p "$STORE/base-image" "$STORE/result-tmp" "$STORE/cache" "$STORE/cache-tmp" "$STORE/state"
BASEIMG="$STORE/base-image/linux-sample.qcow2"
qemu-img convert -q -f raw -O qcow2 "$WORK/s1.raw" "$BASEIMG"
img() { echo "$STORE/result/$1/rootfs/image.qcow2"; }
# A layer holds only the clusters where its state differs from its parent: create it backed by the
# state's raw disk, then a safe rebase onto the parent copies in exactly the differing clusters.
layer() { # layer <id> <state raw> <parent image>
  local dst; dst="$(img "$1")"
  mkdir -p "$(dirname "$dst")"
  qemu-img create -q -f qcow2 -b "$2" -F raw "$dst"
  qemu-img rebase -q -f qcow2 -b "$3" -F qcow2 "$dst"
}
mkdir -p "$(dirname "$(img "$FROM_ID")")"
qemu-img create -q -f qcow2 -b "$BASEIMG" -F qcow2 "$(img "$FROM_ID")"
layer "$OPAMREPO_ID" "$WORK/s2.raw" "$(img "$FROM_ID")"
layer "$COPYCORRUPT_ID" "$WORK/s3.raw" "$(img "$OPAMREPO_ID")"
layer "$RUNONTOP_ID" "$WORK/s4.raw" "$(img "$COPYCORRUPT_ID")"
layer "$COPYCLEAN_ID" "$WORK/s5.raw" "$(img "$OPAMREPO_ID")"

# ---------- self-check with independent tools (qemu-img compare, The Sleuth Kit) ----------
for pair in "$COPYCORRUPT_ID:s3" "$RUNONTOP_ID:s4" "$COPYCLEAN_ID:s5" "$OPAMREPO_ID:s2"; do
  qemu-img compare -q -f raw -F qcow2 "$WORK/${pair#*:}.raw" "$(img "${pair%%:*}")" \
    || die "layer ${pair%%:*} does not read back as state ${pair#*:}"
done
check_src() { # check_src <raw> <expect: corrupt|clean>
  local raw="$1" mode="$2" listing f ino want got
  listing="$(fls -f ufs1 -o "$P2_START" -p -r "$raw")"
  for f in "$SAMPLES"/expected/*.opam; do
    f="${f##*/}"
    ino="$(printf '%s\n' "$listing" | awk -v p="opam/src/$f" '$NF == p { gsub(/:/, "", $(NF-1)); print $(NF-1) }')"
    [ -n "$ino" ] || die "$raw: /home/opam/src/$f missing"
    want="$(sha256sum < "$SAMPLES/expected/$f")"
    got="$(icat -f ufs1 -o "$P2_START" "$raw" "$ino" | sha256sum)"
    [ "$(icat -f ufs1 -o "$P2_START" "$raw" "$ino" | wc -c)" = "$(wc -c < "$SAMPLES/expected/$f")" ] || die "$raw: $f has the wrong size"
    case "$mode:$f" in
      corrupt:tls.opam|corrupt:tls-async.opam|corrupt:tls-lwt.opam) [ "$got" != "$want" ] || die "$raw: $f should be corrupt" ;;
      *) [ "$got" = "$want" ] || die "$raw: $f should read back intact" ;;
    esac
  done
}
check_src "$WORK/s3.raw" corrupt
check_src "$WORK/s4.raw" corrupt
check_src "$WORK/s5.raw" clean

node "$RECIPE/steps.mjs" finish "$ROOT" "$STORE" "$OUT"

# ---------- the OpenBSD-shaped sample, in the same store (not bootable: read with --via direct) ----------
log "building the OpenBSD-shaped layers (MBR + disklabel, FFS2 / and /home)"
"$ROOT/node_modules/.bin/tsx" "$RECIPE/openbsd/build.ts" "$ROOT" "$STORE" "$OUT"
echo "$HASH" > "$OUT/.stamp"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
log "done in $((MS / 1000)).$(printf '%03d' $((MS % 1000))) s: $STORE"
