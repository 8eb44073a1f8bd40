#!/bin/bash
# Provision one of the two test "hosts" (twohost.py boots the same image twice): name the NICs by the MACs QEMU
# gave them, address them, create one rxe device per data link, start sshd with the harness's key, and wait
# until the harness drops /host/stop (then PID 1 powers off).
#   usage: twohost-guest.sh N HOSTNAME      N = 1 (the "host") or 2 (the "peer")
# Links (QEMU socket/UDP netdevs between the two QEMUs, so every frame crosses from one kernel to the other):
#   ctl  52:54:00:00:00:0N  QEMU user net; sshd behind a hostfwd port (how the controller reaches this host)
#   pri  52:54:00:01:00:0N  10.1.0.N/24  primary data link   -> rxe0
#   bak  52:54:00:02:00:0N  10.2.0.N/24  backup data link    -> rxe1
#   mgt  52:54:00:03:00:0N  10.0.0.N/24  management link: the app's TCP exchange, Redis (never faulted)
# Link faults are cable pulls: /run/shift-cable LINK off|on asks this guest's QEMU (its monitor, reached over the
# user net at 10.0.2.2) to drop the NIC's carrier, as a switch port or a pulled cable does. rxe sees the carrier
# loss (IBV_EVENT_PORT_ERR) and RC times out. `ip link set pri down` is not used here: a virtio-net device
# taken down keeps the TX buffers it had queued, and a rxe QP whose packets sit there can stay in RTS with
# its WRs outstanding and never report an error (seen in about half of local link-down runs).
# Neighbour entries toward the other host are permanent (rxe_guest_recipe.md quirk 2: with dynamic ARP a dead
# link stretches RC detection to seconds); a carrier loss keeps them, /run/shift-neigh.sh re-adds them anyway.
set -eu
N=${1:?usage: twohost-guest.sh N HOSTNAME}; M=$((3 - N))
hostname "${2:-shift-$N}"
name_by_mac() {  # name_by_mac MAC NEWNAME
  local dev
  dev=$(ip -o link | awk -v mac="$1" 'index($0, mac) {sub(":$", "", $2); print $2; exit}')
  [ -n "$dev" ] || { echo "twohost-guest: no NIC with MAC $1" >&2; exit 3; }
  ip link set "$dev" name "$2"
}
name_by_mac 52:54:00:00:00:0$N ctl
name_by_mac 52:54:00:01:00:0$N pri
name_by_mac 52:54:00:02:00:0$N bak
name_by_mac 52:54:00:03:00:0$N mgt
ip addr add 10.0.2.15/24 dev ctl
ip addr add 10.1.0.$N/24 dev pri
ip addr add 10.2.0.$N/24 dev bak
ip addr add 10.0.0.$N/24 dev mgt
for d in pri bak; do ip link set "$d" mtu 9000; done   # rxe then offers a 4096 B path MTU, as RoCE NICs do
for d in ctl pri bak mgt; do ip link set "$d" up; done
ip route add default via 10.0.2.2 dev ctl
cat > /run/shift-neigh.sh <<EOF
#!/bin/sh
ip neigh replace 10.1.0.$M lladdr 52:54:00:01:00:0$M dev pri nud permanent 2>/dev/null
ip neigh replace 10.2.0.$M lladdr 52:54:00:02:00:0$M dev bak nud permanent 2>/dev/null
ip neigh replace 10.0.0.$M lladdr 52:54:00:03:00:0$M dev mgt nud permanent 2>/dev/null
true
EOF
chmod 755 /run/shift-neigh.sh
/run/shift-neigh.sh
rdma link add rxe0 type rxe netdev pri
rdma link add rxe1 type rxe netdev bak
MON=$(cat /host/monitor_port)
cat > /run/shift-cable <<EOF
#!/bin/bash
# shift-cable LINK off|on: set this guest's NIC LINK's carrier through its QEMU monitor (the harness's switch).
# bash's /dev/tcp, not python: starting an interpreter takes seconds of the guest's only vCPU under TCG.
exec 3<>/dev/tcp/10.0.2.2/$MON && echo "set_link \$1 \$2" >&3 && sleep 0.05
EOF
chmod 755 /run/shift-cable
mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh
install -m 600 /host/authorized_keys /root/.ssh/authorized_keys
/usr/sbin/sshd -o UseDNS=no -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no
echo "GUEST: twohost $N ready uptime=$(cut -d' ' -f1 /proc/uptime)"
rdma link show
while [ ! -e /host/stop ]; do sleep 0.5; done
echo "GUEST: twohost $N stop uptime=$(cut -d' ' -f1 /proc/uptime)"
