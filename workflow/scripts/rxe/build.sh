#!/bin/bash
# Build the soft-RoCE test guest from Debian packages only: Debian's 6.1 kernel (vmlinuz + the module closure
# of rdma_rxe, ib_uverbs, veth, sch_netem, 9p...) and a debootstrapped minbase rootfs (rdma-core 44 userspace,
# python3-pyverbs, perftest, iproute2), packed as an uncompressed initramfs.
#   usage: build.sh OUTDIR          (root; needs debootstrap, dpkg, cpio and the Debian archive)
# Writes OUTDIR/{vmlinuz,guest.cpio,versions.tsv} atomically (built in OUTDIR.tmp, renamed at the end), so a
# half-built image is never used. The host runner (rxe_guest.py) picks OUTDIR from a key over package versions.
set -euo pipefail
OUT=${1:?usage: build.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${DEBIAN_SUITE:-bookworm}
# keep in sync with GUEST_PACKAGES in rxe_guest.py (part of the cache key)
PKGS=${GUEST_PACKAGES:-libibverbs1,ibverbs-providers,ibverbs-utils,rdmacm-utils,python3,python3-pyverbs,python3-pytest,perftest,iproute2,kmod,procps}
# keep in sync with DAEMON_PACKAGES in rxe_guest.py: sshd + Redis for the two-guest topology (twohost.py)
DAEMONS=${DAEMON_PACKAGES:-openssh-server,redis-server,python3-redis}
WANT="rdma_rxe ib_uverbs rdma_ucm ib_umad veth macvlan virtio_pci virtio_net 9p 9pnet_virtio crc32_generic sch_netem"
[ "$(id -u)" = 0 ] || { echo "build.sh: must run as root (debootstrap, chroot)" >&2; exit 2; }
for t in debootstrap dpkg cpio chroot; do
  command -v $t >/dev/null || { echo "build.sh: $t not found: run scripts/setup-system.sh rxe" >&2; exit 2; }
done
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
T=$OUT.tmp; rm -rf "$T"; mkdir -p "$T"; cd "$T"
stamp() { echo "build.sh: $1 (+$SECONDS s)"; }
stamp "debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase --include="$PKGS" "$SUITE" rootfs "$MIRROR" > debootstrap.log 2>&1 \
  || { tail -n 20 debootstrap.log >&2; exit 1; }
stamp "kernel package"
cp /etc/resolv.conf rootfs/etc/resolv.conf
chroot rootfs apt-get update -q > apt.log 2>&1 || { tail -n 20 apt.log >&2; exit 1; }
stamp "daemons ${DAEMONS//,/ } (service starts disabled: nothing may start on the build host)"
printf '#!/bin/sh\nexit 101\n' > rootfs/usr/sbin/policy-rc.d && chmod 755 rootfs/usr/sbin/policy-rc.d
chroot rootfs apt-get install -y -q --no-install-recommends ${DAEMONS//,/ } >> apt.log 2>&1 \
  || { tail -n 20 apt.log >&2; exit 1; }
rm -f rootfs/usr/sbin/policy-rc.d
chroot rootfs ssh-keygen -A >> apt.log 2>&1   # host keys in the image (the guests are throwaway test hosts)
KPKG=$(chroot rootfs apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
K=${KPKG#linux-image-}
(cd rootfs/tmp && chroot .. sh -c "cd /tmp && apt-get download -q $KPKG" >> ../../apt.log 2>&1)
dpkg -x rootfs/tmp/${KPKG}_*.deb kernel
KVER=$(dpkg-deb -f rootfs/tmp/${KPKG}_*.deb Version)
rm -f rootfs/tmp/*.deb
cp kernel/boot/vmlinuz-"$K" vmlinuz
stamp "kernel modules ($K)"
M=rootfs/lib/modules/$K
mkdir -p "$M" && cp -a kernel/lib/modules/"$K"/. "$M"/ && chroot rootfs depmod "$K"
for m in $WANT; do chroot rootfs modprobe -S "$K" --show-depends "$m"; done \
  | awk '$1=="insmod"{print $2}' | sort -u > keep.txt
mv "$M" modfull && mkdir -p "$M"
cp modfull/modules.order modfull/modules.builtin modfull/modules.builtin.modinfo "$M"/
while read -r p; do r=${p#/lib/modules/$K/}; mkdir -p "$M/$(dirname "$r")"; cp "modfull/$r" "$M/$r"; done < keep.txt
rm -rf modfull kernel && chroot rootfs depmod "$K"
stamp "versions and slimming"
{ chroot rootfs dpkg-query -W -f '${Package}\t${Version}\n'; printf '%s\t%s\n' "$KPKG" "$KVER"; } | sort > versions.tsv
rm -rf rootfs/usr/share/{doc,man,locale,info}/* rootfs/var/cache/apt/* rootfs/var/lib/apt/lists/* \
       rootfs/usr/share/i18n rootfs/usr/share/zoneinfo rootfs/etc/resolv.conf
mkdir -p rootfs/host rootfs/project
install -m755 "$HERE/guest-init.sh" rootfs/init
install -m755 "$HERE/setup.sh" rootfs/usr/local/sbin/rxe-setup.sh
install -m755 "$HERE/teardown.sh" rootfs/usr/local/sbin/rxe-teardown.sh
install -m755 "$HERE/relink.sh" rootfs/usr/local/sbin/rxe-relink.sh
stamp "cpio"
(cd rootfs && find . -xdev | cpio -o -H newc --quiet) > guest.cpio
rm -rf rootfs
cd / && rm -rf "$OUT" && mv "$T" "$OUT"
stamp "done: $OUT ($(du -sh "$OUT/guest.cpio" | cut -f1) initramfs, $(wc -l < "$OUT/keep.txt") modules)"
