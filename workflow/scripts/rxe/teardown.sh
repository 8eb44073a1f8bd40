#!/bin/bash
# Undo setup.sh (between scenarios that need fresh devices). `rdma link delete` blocks while any process
# holds the device open, hence the timeout.
for d in rxe_p0 rxe_p1 rxe_b0 rxe_b1; do timeout 10 rdma link delete $d 2>/dev/null; done
tc qdisc del dev p0 root 2>/dev/null
ip link del p0 2>/dev/null; ip link del b0 2>/dev/null
ip rule add pref 0 lookup local 2>/dev/null
while ip rule del pref 10 2>/dev/null; do :; done
ip rule del pref 100 2>/dev/null
for t in 11 12 21 22; do ip route flush table $t 2>/dev/null; done
true
