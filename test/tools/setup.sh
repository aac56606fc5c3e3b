#!/usr/bin/env bash
# `npm run setup`: installs what the tests need. Debian packages only when missing
# (the cross toolchain, QEMU as the reference machine, gdb-multiarch as the reference
# debugger, Chromium for the HTML report's test, driven by playwright-core, GNU time for
# the bench, bpftool and pahole as the references for the BTF reader, dtc and fdtget to read
# device trees), Debian's arm64 cloud kernel into the Linux cache (never committed), then the npm
# packages from the lockfile. The browser is Debian's: playwright-core never downloads one.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
for pair in aarch64-linux-gnu-as:binutils-aarch64-linux-gnu aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu \
            qemu-system-aarch64:qemu-system-arm gdb-multiarch:gdb-multiarch make:make chromium:chromium \
            bpftool:bpftool pahole:pahole dtc:device-tree-compiler fdtget:device-tree-compiler; do
  # bpftool lives in /usr/sbin, which a non-root PATH may lack.
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair##*:}")
done
# GNU time for the bench's peak-memory rows (`time` alone is the shell's keyword).
[ -x /usr/bin/time ] || need+=(time)

# The kernel's UAPI headers for arm64 (linux/kvm.h), for fixtures/linux's KVM program.
[ -f /usr/aarch64-linux-gnu/include/linux/kvm.h ] || need+=(linux-libc-dev-arm64-cross)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
else
  echo "setup: Debian packages present"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# Debian's arm64 cloud kernel and busybox, and the initramfs the Linux boot tests run, in the
# Linux cache (test/helpers/linux.ts), fetched again only when Debian has newer packages.
bash test/tools/linux.sh
