#!/bin/bash
# Two "hosts" worth of RDMA devices in one guest: host A = rxe_p0 (primary) + rxe_b0 (backup), host B = rxe_p1 +
# rxe_b1, on two veth links (primary p0<->p1 10.1.0.0/24, backup b0<->b1 10.2.0.0/24). GID index 1 is the
# IPv4-mapped RoCE v2 GID. Packets between the local IPs are forced across the veth wire by per-destination
# policy routing (else they go over lo and rxe drops them); permanent neighbour entries keep ARP out of
# detection times (rxe_guest_recipe.md, quirk 2).
set -e
sysctl -qw net.ipv4.conf.all.accept_local=1 net.ipv4.conf.default.accept_local=1 \
            net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
ip link add p0 type veth peer name p1
ip link add b0 type veth peer name b1
ip addr add 10.1.0.1/24 dev p0; ip addr add 10.1.0.2/24 dev p1
ip addr add 10.2.0.1/24 dev b0; ip addr add 10.2.0.2/24 dev b1
for d in p0 p1 b0 b1; do sysctl -qw net.ipv4.conf.$d.accept_local=1 net.ipv4.conf.$d.rp_filter=0; ip link set $d up; done
ip rule add pref 100 lookup local; ip rule del pref 0
ip rule add pref 10 iif lo to 10.1.0.2 lookup 12
ip rule add pref 10 iif lo to 10.1.0.1 lookup 11
ip rule add pref 10 iif lo to 10.2.0.2 lookup 22
ip rule add pref 10 iif lo to 10.2.0.1 lookup 21
for d in p0 p1 b0 b1; do rdma link add rxe_$d type rxe netdev $d; done
rxe-relink.sh   # routes of tables 11/12/21/22 + permanent neighbour entries
