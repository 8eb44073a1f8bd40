"""Work requests of a real provider as model events (shift_core.verbs.tracing), without a device."""

from __future__ import annotations

import zlib

from shift_core.backend import SGE, WC, SendWR, ibv_wc_opcode, ibv_wc_status, ibv_wr_opcode
from shift_core.model import events as ev
from shift_core.model.operations import CAS, FADD, CASResult, FADDVal, Read, ReadVal, Write, WriteAck
from shift_core.model.operations import Send as SendOp
from shift_core.verbs.tracing import Posted, completion_event, op_of, payload_value

MEM = {7: bytearray(b"hello world!" + bytes(52))}  # lkey 7 -> 64 bytes at address 1000


def read_local(addr: int, length: int, lkey: int) -> bytes:
    return bytes(MEM[lkey][addr - 1000:addr - 1000 + length])


def wr(opcode: ibv_wr_opcode, length: int = 12, **kw: int) -> SendWR:
    w = SendWR(wr_id=5, opcode=opcode, sg_list=[SGE(1000, length, 7)])
    w.set_wr_rdma(kw.get("rkey", 9), kw.get("addr", 4096))
    return w


def test_write_and_send_carry_the_crc_of_their_payload_and_wr_id_as_uid() -> None:
    assert op_of(wr(ibv_wr_opcode.IBV_WR_RDMA_WRITE), read_local) == Write(4096, zlib.crc32(b"hello world!"), 5)
    assert op_of(wr(ibv_wr_opcode.IBV_WR_SEND), read_local) == SendOp(payload_value(b"hello world!"), 5)
    assert op_of(wr(ibv_wr_opcode.IBV_WR_RDMA_READ), read_local) == Read(4096, 5)


def test_atomics_map_to_fadd_and_cas_and_their_results_come_from_the_local_buffer() -> None:
    f = SendWR(wr_id=1, opcode=ibv_wr_opcode.IBV_WR_ATOMIC_FETCH_AND_ADD, sg_list=[SGE(1000, 8, 7)])
    f.set_wr_atomic(9, 64, 3)
    c = SendWR(wr_id=2, opcode=ibv_wr_opcode.IBV_WR_ATOMIC_CMP_AND_SWP, sg_list=[SGE(1000, 8, 7)])
    c.set_wr_atomic(9, 64, int.from_bytes(b"hello wo", "little"), 1)
    assert op_of(f, read_local) == FADD(64, 3, 1)
    assert op_of(c, read_local) == CAS(64, int.from_bytes(b"hello wo", "little"), 1, 2)
    old = int.from_bytes(b"hello wo", "little")
    for w, res in ((f, FADDVal(old)), (c, CASResult(True, old))):
        p = Posted(w.wr_id, ibv_wr_opcode(w.opcode), op_of(w, read_local), True, ((1000, 8, 7),))
        e = completion_event(p, WC(w.wr_id, ibv_wc_status.IBV_WC_SUCCESS, ibv_wc_opcode.IBV_WC_FETCH_ADD, 1),
                             read_local, 10)
        assert isinstance(e, ev.Completion) and e.res == res


def test_error_completion_is_a_timeout_named_by_its_status() -> None:
    p = Posted(5, ibv_wr_opcode.IBV_WR_RDMA_WRITE, Write(4096, 1, 5), True, ((1000, 12, 7),))
    e = completion_event(p, WC(5, ibv_wc_status.IBV_WC_RETRY_EXC_ERR, ibv_wc_opcode.IBV_WC_RDMA_WRITE, 1),
                         read_local, 42)
    assert e == ev.Timeout(Write(4096, 1, 5)) and e.status == "RETRY_EXC_ERR" and e.t_ns == 42
    ok = completion_event(p, WC(5, ibv_wc_status.IBV_WC_SUCCESS, ibv_wc_opcode.IBV_WC_RDMA_WRITE, 1), read_local, 1)
    assert ok == ev.Completion(Write(4096, 1, 5), WriteAck())
    r = Posted(6, ibv_wr_opcode.IBV_WR_RDMA_READ, Read(4096, 6), True, ((1000, 5, 7),))
    got = completion_event(r, WC(6, ibv_wc_status.IBV_WC_SUCCESS, ibv_wc_opcode.IBV_WC_RDMA_READ, 1), read_local, 1)
    assert isinstance(got, ev.Completion) and got.res == ReadVal(zlib.crc32(b"hello"))
