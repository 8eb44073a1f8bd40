#!/usr/bin/env bash
# Install the system tools the project uses, from Debian's archive, when we can (root + apt-get).
# Idempotent: only missing packages are installed. Without root or apt it lists what is missing;
# every test or pipeline rule that needs a missing tool then skips with a reason instead of failing.
#   usage: scripts/setup-system.sh [group ...]   groups: build rxe kv browser book (default: all)
# `book` needs npm (to vendor MathJax); Debian's npm is installed only when no npm is on PATH already.
set -u
declare -A GROUP=(
  [build]="gcc libibverbs-dev ibverbs-utils rdma-core"
  [rxe]="qemu-system-x86 debootstrap cpio zstd debian-archive-keyring"
  [kv]="redis-server"
  [browser]="chromium chromium-driver"
  [book]=""
)
groups=("$@"); [ ${#groups[@]} -eq 0 ] && groups=(build rxe kv browser book)
want=()
for g in "${groups[@]}"; do
  [ -n "${GROUP[$g]+x}" ] || { echo "setup-system: unknown group '$g' (use: ${!GROUP[*]})" >&2; exit 2; }
  for p in ${GROUP[$g]}; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || want+=("$p")
  done
done
for g in "${groups[@]}"; do
  [ "$g" = book ] && ! command -v npm >/dev/null && want+=(npm)
done
[ ${#want[@]} -eq 0 ] && { echo "setup-system: all system tools present"; exit 0; }
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "setup-system: missing ${want[*]} (not root or no apt-get): tests that need them will skip" >&2
  exit 0
fi
echo "setup-system: installing ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || echo "setup-system: apt-get update failed; trying the cached lists" >&2
if ! apt-get install -y -qq --no-install-recommends "${want[@]}" >/tmp/setup-system.log 2>&1; then
  echo "setup-system: some packages failed to install (see /tmp/setup-system.log); dependent tests will skip" >&2
fi
exit 0
