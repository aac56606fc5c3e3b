#!/usr/bin/env bash
# `npm run setup`: installs what the tests need. Debian packages only when missing
# (the cross toolchain, QEMU as the reference machine, gdb-multiarch as the reference
# debugger, Chromium for the HTML report's test, driven by playwright-core, GNU time for
# the bench), then the npm
# packages from the lockfile. The browser is Debian's: playwright-core never downloads one.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
for pair in aarch64-linux-gnu-as:binutils-aarch64-linux-gnu aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu \
            qemu-system-aarch64:qemu-system-arm gdb-multiarch:gdb-multiarch make:make chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
# GNU time for the bench's peak-memory rows (`time` alone is the shell's keyword).
[ -x /usr/bin/time ] || need+=(time)

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
