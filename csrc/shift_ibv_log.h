/* shift_ibv_log.h -- fill WR-log records straight from ibv_send_wr / ibv_recv_wr (no intermediate copy).
 *
 * Used by the interposer's logging post_send/post_recv and by shift_bench (so the benchmark measures the
 * code the interposer runs). Inline sends (IBV_SEND_INLINE) are the one case where the log must copy
 * payload: the application may reuse an inline buffer as soon as post_send returns, so a replay from the
 * original addresses could resend different bytes. The caller passes a preallocated arena of
 * capacity x inline_max bytes; the payload goes to the slot of the record's sequence number and the record's
 * single SGE points at it (lkey 0: inline data needs no MR). No arena (inline_max 0) -> the record is marked
 * unsafe, so a failover with it outstanding fails closed instead of resending unknown bytes.
 */
#ifndef SHIFT_IBV_LOG_H
#define SHIFT_IBV_LOG_H

#include <infiniband/verbs.h>

#include "shift_wrlog.h"

/* opcode, signaled, num_sge = 1, flags = 0 in one 32-bit store (they are adjacent bytes of the record) */
static inline void shift_wr_set_kind(struct shift_wr *r, uint8_t opcode, uint8_t signaled)
{
    uint32_t v = (uint32_t)opcode | (uint32_t)signaled << 8 | 1u << 16;
    _Static_assert(offsetof(struct shift_wr, signaled) == offsetof(struct shift_wr, opcode) + 1 &&
                       offsetof(struct shift_wr, num_sge) == offsetof(struct shift_wr, opcode) + 2 &&
                       offsetof(struct shift_wr, flags) == offsetof(struct shift_wr, opcode) + 3,
                   "the kind bytes are adjacent");
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(&r->opcode, &v, sizeof(v));
}

/* field copy, not memcpy: a variable-length memcpy is a library call, several ns for one 16-byte SGE */
static inline void shift_copy_sges(struct shift_wrlog *log, struct shift_wr *r, const struct ibv_sge *sg, int n)
{
    int i;
    r->num_sge = (uint8_t)n;
    if (n > 0)
        memcpy(&r->sge0, &sg[0], sizeof(r->sge0));
    for (i = 1; i < n; i++)
        memcpy(&shift_wrlog_ext(log, r)->sge[i - 1], &sg[i], sizeof(struct shift_sge));
}

__attribute__((noinline, cold)) static void shift_fill_inline(struct shift_wr *r, const struct ibv_send_wr *wr, uint8_t *arena,
                                     uint32_t inline_max, uint64_t seq_slot)
{
    uint32_t total = 0;
    int i;
    for (i = 0; i < wr->num_sge; i++)
        total += wr->sg_list[i].length;
    if (!arena || total > inline_max) {
        r->flags |= SHIFT_WR_APP_UNSAFE;
        r->num_sge = 0;
        return;
    }
    uint8_t *dst = arena + seq_slot * inline_max;
    r->sge0.addr = (uint64_t)(uintptr_t)dst;
    r->sge0.length = total;
    r->sge0.lkey = 0;
    r->num_sge = 1;
    for (i = 0; i < wr->num_sge; i++) {
        memcpy(dst, (const void *)(uintptr_t)wr->sg_list[i].addr, wr->sg_list[i].length);
        dst += wr->sg_list[i].length;
    }
}

/* Log one send WR. sig_all: the QP was created with sq_sig_all. Returns SHIFT_OK, SHIFT_E_OVERFLOW or
 * SHIFT_E_SGE (nothing logged on error). The common case -- one SGE, not inline, not an atomic -- is a
 * straight line of stores into one cache line (the record's first 64 bytes). */
__attribute__((always_inline)) static inline int shift_log_send_wr(struct shift_wrlog *log, const struct ibv_send_wr *wr, int sig_all,
                                    uint8_t *inline_arena, uint32_t inline_max)
{
    struct shift_wr *r;
    unsigned flags = wr->send_flags;
    if (__builtin_expect(wr->num_sge > SHIFT_MAX_SGE, 0) && !(flags & IBV_SEND_INLINE))
        return SHIFT_E_SGE;
    r = shift_wrlog_reserve(log);
    if (__builtin_expect(!r, 0))
        return SHIFT_E_OVERFLOW;
    r->wr_id = wr->wr_id;
    r->remote_addr = wr->wr.rdma.remote_addr; /* same offset in wr.atomic */
    r->rkey = wr->wr.rdma.rkey;
    r->imm_data = wr->imm_data;
    shift_wr_set_kind(r, (uint8_t)wr->opcode, (uint8_t)(sig_all | ((flags & IBV_SEND_SIGNALED) != 0)));
    r->send_flags = flags;
    if (__builtin_expect(wr->opcode == IBV_WR_ATOMIC_CMP_AND_SWP || wr->opcode == IBV_WR_ATOMIC_FETCH_AND_ADD, 0)) {
        r->rkey = wr->wr.atomic.rkey;
        r->compare_add = wr->wr.atomic.compare_add;
        r->swap = wr->wr.atomic.swap;
    }
    if (__builtin_expect(flags & IBV_SEND_INLINE, 0)) {
        shift_fill_inline(r, wr, inline_arena, inline_max, log->head & log->mask);
    } else if (__builtin_expect(wr->num_sge == 1, 1)) {
        memcpy(&r->sge0, wr->sg_list, sizeof(struct shift_sge)); /* one 16-byte move */
    } else {
        shift_copy_sges(log, r, wr->sg_list, wr->num_sge);
    }
    shift_wrlog_commit(log, r);
    return SHIFT_OK;
}

/* Log one receive WR (every receive WR completes, so every record is "signaled"). */
__attribute__((always_inline)) static inline int shift_log_recv_wr(struct shift_wrlog *log, const struct ibv_recv_wr *wr)
{
    struct shift_wr *r;
    if (wr->num_sge > SHIFT_MAX_SGE)
        return SHIFT_E_SGE;
    r = shift_wrlog_reserve(log);
    if (!r)
        return SHIFT_E_OVERFLOW;
    r->wr_id = wr->wr_id;
    shift_wr_set_kind(r, SHIFT_OP_RECV, 1); /* the other header fields mean nothing for a RECV */
    if (__builtin_expect(wr->num_sge == 1, 1)) {
        memcpy(&r->sge0, wr->sg_list, sizeof(struct shift_sge));
    } else {
        shift_copy_sges(log, r, wr->sg_list, wr->num_sge);
    }
    shift_wrlog_commit(log, r);
    return SHIFT_OK;
}

_Static_assert(sizeof(struct ibv_sge) == sizeof(struct shift_sge), "struct shift_sge mirrors struct ibv_sge");

#endif /* SHIFT_IBV_LOG_H */
