"""Two hosts x two NICs on the emulated fabric: a ping-pong on the nic0 pair, a WRITE bandwidth loop on the
nic1 pair, then the nic0 link fails and the RC transport reports it the way hardware does.

Run: ``python examples/fabric_pingpong.py``
"""

from shift_core.backend import SGE, SendWR, ibv_wr_opcode, local_ack_timeout_ns
from shift_core.fabric import make_fabric
from shift_core.fabric.demo import bandwidth, connect_pair, pingpong, wait

b = make_fabric(hosts=2, nics_per_host=2, gbps=100, seed=0)
print("devices:", ", ".join(b.get_device_list()))

# ping-pong h0.nic0 <-> h1.nic0 (SEND/RECV, like ibv_rc_pingpong)
a0, z0 = connect_pair(b, "h0.nic0", "h1.nic0", size=4096, timeout=10, retry_cnt=3)
pp = pingpong(b, a0, z0, iters=1000, size=64)
print(f"ping-pong 64 B: median RTT {pp['rtt_median_ns'] / 1000:.2f} us (virtual)")

# bandwidth h0.nic1 -> h1.nic1 (RDMA WRITE stream, like ib_write_bw)
a1, z1 = connect_pair(b, "h0.nic1", "h1.nic1", size=65536)
bw = bandwidth(b, a1, z1, size=65536, iters=20_000)
print(f"WRITE 64 KiB: {bw['gbps']:.1f} Gb/s (virtual), {bw['wr_per_wall_s']:,.0f} WRs per wall second")

# the primary link of h1 goes down: the sender learns only from its ACK timer
b.faults.link_down("h1.nic0")
print("h1.nic0 async event:", z0.ctx.get_async_event().event_type.name)
t0 = b.now_ns()
a0.qp.post_send(SendWR(wr_id=7, opcode=ibv_wr_opcode.IBV_WR_RDMA_WRITE, sg_list=[SGE(a0.mr.buf, 64, a0.mr.lkey)],
                       remote_addr=z0.mr.buf, rkey=z0.mr.rkey))
(wc,) = wait(b, a0.cq, 1)
print(f"WR {wc.wr_id}: {wc.status.name} after {(b.now_ns() - t0) / 1e6:.2f} ms "
      f"(= (retry_cnt + 1) x 4.096 us x 2^timeout = {4 * local_ack_timeout_ns(10) / 1e6:.2f} ms)")
print(f"trace: {len(b.recorder.trace):,} model events")
