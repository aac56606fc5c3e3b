#!/usr/bin/env bash
# The Linux fixture (called by `npm run setup`): Debian's current cloud kernel for arm64 and its
# static busybox, fetched as packages from Debian's archive (the arm64 architecture added to dpkg
# if missing; nothing is installed), and an initramfs built from them with fixtures/linux/init
# and fixtures/linux/build/kvm-hello. Everything goes to the cache directory, outside the clone,
# and is fetched again only when Debian has a newer kernel or busybox.
#   HYPSTEP_LINUX_DIR   the cache directory (default: ${XDG_CACHE_HOME:-~/.cache}/hypstep/linux)
# It leaves: vmlinuz (Debian's arm64 Image), busybox, initramfs.cpio.gz, and versions (the packages).
set -euo pipefail
cd "$(dirname "$0")/../.."
cache="${HYPSTEP_LINUX_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hypstep/linux}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup: adding the arm64 architecture to dpkg (to download arm64 packages; none is installed)"
  $sudo dpkg --add-architecture arm64
  $sudo apt-get update -qq
fi
kernel_pkg() { apt-cache depends linux-image-cloud-arm64:arm64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^:]*\).*/\1/p' | head -n1; }
kpkg="$(kernel_pkg)"
if [ -z "$kpkg" ]; then
  $sudo apt-get update -qq
  kpkg="$(kernel_pkg)"
fi
[ -n "$kpkg" ] || { echo "setup: Debian's archive lists no linux-image-cloud-arm64 for arm64" >&2; exit 1; }
candidate() { apt-cache policy "$1" | sed -n 's/^ *Candidate: //p'; }
want="$kpkg:arm64 $(candidate "$kpkg:arm64")
busybox-static:arm64 $(candidate busybox-static:arm64)"

if [ -f "$cache/versions" ] && [ "$(cat "$cache/versions")" = "$want" ] && [ -f "$cache/vmlinuz" ] && [ -f "$cache/busybox" ]; then
  echo "setup: Debian's kernel and busybox up to date in $cache"
else
  echo "setup: fetching $kpkg and busybox-static (arm64) into $cache"
  mkdir -p "$cache"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$kpkg:arm64" busybox-static:arm64)
  dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
  dpkg-deb -x "$work"/busybox-static_*.deb "$work/busybox"
  cp "$work"/kernel/boot/vmlinuz-* "$cache/vmlinuz"
  cp "$work/busybox/bin/busybox" "$cache/busybox"
  printf '%s\n' "$want" > "$cache/versions"
fi
# The initramfs is rebuilt every time (a second; the same bytes from the same inputs).
node test/tools/initramfs.mjs "$cache/initramfs.cpio.gz" \
  dir:bin dir:dev dir:proc dir:sys chardev:dev/console=5,1 \
  file:bin/busybox="$cache/busybox" \
  file:init=fixtures/linux/init file:kvm-hello=fixtures/linux/build/kvm-hello
echo "setup: Linux fixture ready: $(head -n1 "$cache/versions"), $cache/initramfs.cpio.gz"
