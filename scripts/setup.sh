#!/usr/bin/env bash
# Sets up whatever is missing on a fresh Debian/Ubuntu machine: apt packages, npm packages, the build,
# and the sample store. Idempotent: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tool and its tests use (command -> package).
declare -A need=(
  [qemu-img]=qemu-utils [qemu-io]=qemu-utils [qemu-system-x86_64]=qemu-system-x86
  [makefs]=makefs [mke2fs]=e2fsprogs [istat]=sleuthkit [blkcat]=sleuthkit
  [busybox]=busybox-static [dropbear]=dropbear-bin [dropbearkey]=dropbear-bin
  [mcopy]=mtools [mkfs.fat]=dosfstools [cpio]=cpio [modinfo]=kmod
  [ssh]=openssh-client [ssh-keygen]=openssh-client [tmux]=tmux [sfdisk]=fdisk
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/sbin/$cmd" ] || missing+=("${need[$cmd]}")
done
# The generic kernel (with the ufs module) and syslinux's BIOS files have no command to look for.
ls /boot/vmlinuz-*-amd64 >/dev/null 2>&1 || missing+=(linux-image-amd64)
[ -f /usr/lib/syslinux/mbr/mbr.bin ] || missing+=(syslinux syslinux-common)
[ -f /usr/lib/syslinux/modules/bios/ldlinux.c32 ] || missing+=(syslinux-common)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "setup: installing Debian packages: ${pkgs[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
fi

# npm packages: install when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

# Build when any source is newer than the build.
if [ ! -f dist/cli/main.js ] || [ -n "$(find src scripts/bundle.mjs tsconfig.json tsconfig.build.json package.json -newer dist/cli/main.js -print -quit)" ]; then
  echo "setup: building" >&2
  npm run --silent build >&2
  touch dist/cli/main.js
fi

# The sample store (recipe in samples/), built once and rebuilt when its recipe changes.
if [ -x samples/build-store.sh ]; then
  bash samples/build-store.sh >&2
fi
