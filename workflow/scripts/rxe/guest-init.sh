#!/bin/bash
# PID 1 of the rxe test guest: load the RDMA/veth/netem/9p modules, mount the project (read-only, /project)
# and the run folder (read-write, /host) over 9p, run /host/run.sh with its output in /host/guest.log, power off.
# Without /host/run.sh: set up the four rxe devices and give a shell on the serial console (shift rxe boot).
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb PYTHONDONTWRITEBYTECODE=1
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /run /tmp; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
hostname rxeguest
ip link set lo up
echo "GUEST: init start uptime=$(cut -d' ' -f1 /proc/uptime)"
for m in virtio_pci virtio_net rdma_rxe rdma_ucm ib_umad veth macvlan sch_netem 9p 9pnet_virtio; do
  modprobe $m || echo "GUEST: modprobe $m failed"
done
mkdir -p /host /project
opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o $opts host /host && echo "GUEST: 9p /host mounted"
mount -t 9p -o $opts,ro project /project 2>/dev/null && echo "GUEST: 9p /project mounted"
echo "GUEST: modules loaded uptime=$(cut -d' ' -f1 /proc/uptime)"
if [ -x /host/run.sh ]; then
  (cd /host && ./run.sh) > /host/guest.log 2>&1; rc=$?
  echo "$rc" > /host/run.rc; echo "GUEST: run.sh rc=$rc"
else
  rxe-setup.sh && rdma link show; /bin/bash -i
fi
echo "GUEST: done uptime=$(cut -d' ' -f1 /proc/uptime)"
sync; echo o > /proc/sysrq-trigger; sleep 5
