#!/bin/bash
# (Re)apply the per-destination policy routes and permanent neighbour entries of setup.sh. Taking a veth end
# down flushes the routes and neighbour entries through it, even permanent ones; without this, traffic between
# the two local IPs silently falls back to `lo` after the first `ip link set ... up` and later link faults on
# the veth no longer touch it. Idempotent; run after every fault is restored.
set -e
mac() { cat /sys/class/net/$1/address; }
ip route replace 10.1.0.2 dev p0 src 10.1.0.1 table 12
ip route replace 10.1.0.1 dev p1 src 10.1.0.2 table 11
ip route replace 10.2.0.2 dev b0 src 10.2.0.1 table 22
ip route replace 10.2.0.1 dev b1 src 10.2.0.2 table 21
ip neigh replace 10.1.0.2 lladdr "$(mac p1)" dev p0 nud permanent
ip neigh replace 10.1.0.1 lladdr "$(mac p0)" dev p1 nud permanent
ip neigh replace 10.2.0.2 lladdr "$(mac b1)" dev b0 nud permanent
ip neigh replace 10.2.0.1 lladdr "$(mac b0)" dev b1 nud permanent
