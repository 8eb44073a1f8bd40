/* shift_wrlog.h -- SHIFT's per-QP work-request log: the C counterpart of shift_core/fastpath/reference.py.
 *
 * Why: after a NIC or link failure SHIFT re-posts ("WQ rewind", paper §4.3.2) every WR the failed QP had not
 * provably finished. Only a *signaled* completion proves that it and every earlier WR finished (RC executes a
 * send queue in order), so the log keeps each posted WR until a signaled completion at or after it arrives;
 * unsignaled WRs before it retire with it (DMTCP's IB plugin frees its post_send_log the same way).
 *
 * Layout: a power-of-two ring of fixed-size records indexed by a monotonically increasing 64-bit sequence
 * number (head = next post, tail = oldest outstanding), allocated once by shift_wrlog_create(); posting,
 * retiring and replay never allocate. A full ring is an explicit SHIFT_E_OVERFLOW, never a silent drop.
 * Each record carries running totals (two-sided WRs, unsafe WRs) up to and including itself, so retiring any
 * prefix updates the send/receive counters in O(1).
 *
 * Counters (paper §4.3.2 step 4): two_sided_retired is SHIFT's "send counter" on a send queue (completed
 * SEND / SEND_WITH_IMM / WRITE_WITH_IMM, each consumes one RECV at the peer) and its "receive counter" on a
 * receive queue. shift_wrlog_ack_remote() applies the peer's receive counter: sends the peer already received
 * are retired instead of retransmitted, which is how SHIFT avoids queue sliding (Lemma 2).
 *
 * Threads: one poster (post, reserve/commit, truncate) and one completer (complete) may run concurrently --
 * head is published with release and read with acquire by the completer, tail the other way round (free on
 * x86) -- as libshift's post lock and poll lock allow; ack_remote and replay need both sides held.
 */
#ifndef SHIFT_WRLOG_H
#define SHIFT_WRLOG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef SHIFT_MAX_SGE
#define SHIFT_MAX_SGE 4 /* scatter/gather entries kept per record; more -> SHIFT_E_SGE */
#endif

/* opcodes: ibv_wr_opcode values (<infiniband/verbs.h>), plus one for receive WRs */
#define SHIFT_OP_RDMA_WRITE 0
#define SHIFT_OP_RDMA_WRITE_WITH_IMM 1
#define SHIFT_OP_SEND 2
#define SHIFT_OP_SEND_WITH_IMM 3
#define SHIFT_OP_RDMA_READ 4
#define SHIFT_OP_ATOMIC_CMP_AND_SWP 5
#define SHIFT_OP_ATOMIC_FETCH_AND_ADD 6
#define SHIFT_OP_SEND_WITH_INV 9
#define SHIFT_OP_RECV 128

/* record flags */
#define SHIFT_WR_APP_UNSAFE 1u /* the application's ineligibility hint: never retransmit this WR */

/* return codes (negative); non-negative returns are counts */
#define SHIFT_OK 0
#define SHIFT_E_OVERFLOW (-1)      /* the ring is full: capacity outstanding records */
#define SHIFT_E_NO_SIGNALED (-2)   /* a completion arrived but no signaled record is outstanding */
#define SHIFT_E_WRID_MISMATCH (-3) /* the completion's wr_id is not the oldest signaled record's */
#define SHIFT_E_SGE (-4)           /* num_sge > SHIFT_MAX_SGE */
#define SHIFT_E_COUNTER (-5)       /* the peer's counter exceeds what was ever posted */
#define SHIFT_E_RANGE (-6)         /* truncate below the outstanding tail or above the head */

struct shift_sge {
    uint64_t addr;
    uint32_t length;
    uint32_t lkey;
};

/* One logged work request (a compact copy of ibv_send_wr / ibv_recv_wr). Ordered so that the common record
 * (one SGE, not an atomic) is written in one 64-byte cache line: 48 bytes of header, then sg_list[0]; the
 * other SGEs and the atomic operands live in the second line. */
struct shift_wr {
    uint64_t wr_id;
    uint64_t remote_addr;
    uint64_t two_sided_cum; /* set by the log: two-sided records posted up to and including this one */
    uint64_t unsafe_cum;    /* set by the log: unsafe records posted up to and including this one */
    uint32_t rkey;
    uint32_t imm_data; /* network byte order, as in ibv_send_wr */
    uint8_t opcode;
    uint8_t signaled;
    uint8_t num_sge;
    uint8_t flags;
    uint32_t send_flags; /* the original ibv_send_flags (replayed unchanged) */
    struct shift_sge sg_list[SHIFT_MAX_SGE];
    uint64_t compare_add; /* atomic: compare (CAS) or add (FADD) operand; only meaningful for atomics */
    uint64_t swap;        /* atomic: swap operand (CAS); only meaningful for atomics */
};

struct shift_wrlog {
    uint64_t head; /* sequence number of the next post */
    uint64_t tail; /* sequence number of the oldest outstanding record */
    uint64_t mask; /* capacity - 1 */
    uint64_t two_sided_posted;
    uint64_t two_sided_retired; /* SHIFT's send counter (SQ) or receive counter (RQ) */
    uint64_t unsafe_posted;
    uint64_t unsafe_retired;
    struct shift_wr *ring;
};

/* The replay cursor: walks outstanding records oldest first (posting order). */
struct shift_cursor {
    uint64_t seq;
};

/* allocation (shift_wrlog.c): capacity is rounded up to a power of two; NULL on bad capacity / no memory */
struct shift_wrlog *shift_wrlog_create(uint32_t capacity);
void shift_wrlog_destroy(struct shift_wrlog *log);

static inline uint64_t shift_wrlog_capacity(const struct shift_wrlog *log) { return log->mask + 1; }
static inline uint64_t shift_wrlog_outstanding(const struct shift_wrlog *log)
{
    return __atomic_load_n(&log->head, __ATOMIC_ACQUIRE) - __atomic_load_n(&log->tail, __ATOMIC_ACQUIRE);
}
static inline uint64_t shift_wrlog_retired(const struct shift_wrlog *log)
{
    return __atomic_load_n(&log->tail, __ATOMIC_ACQUIRE);
}
static inline uint64_t shift_wrlog_unsafe_outstanding(const struct shift_wrlog *log)
{
    return log->unsafe_posted - log->unsafe_retired;
}

/* Per-opcode class bits, so commit is branch-free: bit 0 two-sided (consumes / is a RECV: counts toward the
 * send/receive counters), bit 1 unsafe to retransmit (paper §4.3.2 step 2): atomics (not idempotent,
 * Theorem 2) and every opcode the log does not understand. RDMA WRITE / READ / SEND* / RECV are replayable. */
#define SHIFT_CLASS_TWO_SIDED 1u
#define SHIFT_CLASS_UNSAFE 2u
static inline unsigned shift_op_class(uint8_t op)
{
    switch (op) {
    case SHIFT_OP_RDMA_WRITE:
    case SHIFT_OP_RDMA_READ:
        return 0;
    case SHIFT_OP_RDMA_WRITE_WITH_IMM:
    case SHIFT_OP_SEND:
    case SHIFT_OP_SEND_WITH_IMM:
    case SHIFT_OP_SEND_WITH_INV:
    case SHIFT_OP_RECV:
        return SHIFT_CLASS_TWO_SIDED;
    default:
        return SHIFT_CLASS_UNSAFE;
    }
}

/* Two-phase post for callers that fill the slot in place (the interposer): reserve a slot (NULL when full),
 * fill opcode/signaled/flags/..., then commit. Nothing is visible until commit. */
static inline struct shift_wr *shift_wrlog_reserve(struct shift_wrlog *log)
{
    if (log->head - __atomic_load_n(&log->tail, __ATOMIC_ACQUIRE) > log->mask)
        return NULL;
    return &log->ring[log->head & log->mask];
}

/* Counts the record: two-sided per its opcode; unsafe per its opcode or the app's flag (bit 0 of flags). */
static inline void shift_wrlog_commit(struct shift_wrlog *log, struct shift_wr *slot)
{
    unsigned c = shift_op_class(slot->opcode);
    log->two_sided_posted += c & SHIFT_CLASS_TWO_SIDED;
    log->unsafe_posted += ((c >> 1) | slot->flags) & 1u;
    slot->two_sided_cum = log->two_sided_posted;
    slot->unsafe_cum = log->unsafe_posted;
    __atomic_store_n(&log->head, log->head + 1, __ATOMIC_RELEASE);
}

/* Append a copy of *wr (its *_cum fields are ignored). 0, SHIFT_E_OVERFLOW or SHIFT_E_SGE. */
static inline int shift_wrlog_post(struct shift_wrlog *log, const struct shift_wr *wr)
{
    struct shift_wr *slot;
    if (wr->num_sge > SHIFT_MAX_SGE)
        return SHIFT_E_SGE;
    slot = shift_wrlog_reserve(log);
    if (!slot)
        return SHIFT_E_OVERFLOW;
    memcpy(slot, wr, offsetof(struct shift_wr, sg_list) + (size_t)wr->num_sge * sizeof(struct shift_sge));
    slot->compare_add = wr->compare_add;
    slot->swap = wr->swap;
    shift_wrlog_commit(log, slot);
    return SHIFT_OK;
}

/* Retire every outstanding record with sequence number < end (end in (tail, head]). */
static inline void shift_wrlog_retire_to(struct shift_wrlog *log, uint64_t end)
{
    const struct shift_wr *last = &log->ring[(end - 1) & log->mask];
    log->two_sided_retired = last->two_sided_cum;
    log->unsafe_retired = last->unsafe_cum;
    __atomic_store_n(&log->tail, end, __ATOMIC_RELEASE);
}

/* A successful signaled completion: retire the oldest outstanding signaled record and every (unsignaled)
 * record before it. Returns the number retired (>= 1), SHIFT_E_NO_SIGNALED or SHIFT_E_WRID_MISMATCH (then
 * nothing is retired). On a receive log every record is signaled. */
static inline int64_t shift_wrlog_complete(struct shift_wrlog *log, uint64_t wr_id)
{
    uint64_t seq, head = __atomic_load_n(&log->head, __ATOMIC_ACQUIRE);
    for (seq = log->tail; seq != head; seq++) {
        const struct shift_wr *r = &log->ring[seq & log->mask];
        if (r->signaled) {
            if (r->wr_id != wr_id)
                return SHIFT_E_WRID_MISMATCH;
            uint64_t n = seq + 1 - log->tail;
            shift_wrlog_retire_to(log, seq + 1);
            return (int64_t)n;
        }
    }
    return SHIFT_E_NO_SIGNALED;
}

/* Apply the peer's receive counter (paper §4.3.2 step 4): the peer has received peer_count two-sided WRs
 * from this send queue, so every record up to and including the peer_count-th two-sided record finished
 * (RC order) and must not be retransmitted -- except RDMA READs: their data may not have reached this host,
 * so they stay outstanding (moved, in their order, just before the first record kept) and are fetched again,
 * as the Python layer does. Returns the number retired (0 when the peer is not ahead) or SHIFT_E_COUNTER when
 * peer_count exceeds the two-sided WRs ever posted. */
static inline int64_t shift_wrlog_ack_remote(struct shift_wrlog *log, uint64_t peer_count)
{
    uint64_t seq, end, dst, start = log->tail, two, unsafe;
    if (peer_count > log->two_sided_posted)
        return SHIFT_E_COUNTER;
    if (peer_count <= log->two_sided_retired)
        return 0;
    for (seq = log->tail; seq != log->head; seq++)
        if (log->ring[seq & log->mask].two_sided_cum == peer_count)
            break;
    /* two_sided_cum steps by at most 1 and reaches two_sided_posted >= peer_count, so seq < head here */
    end = seq + 1;
    two = log->ring[seq & log->mask].two_sided_cum;
    unsafe = log->ring[seq & log->mask].unsafe_cum;
    /* compact the READs of [start, end) to the end of that range, last first (in place, order kept) */
    dst = end;
    for (seq = end; seq-- != start;) {
        struct shift_wr *r = &log->ring[seq & log->mask];
        if (r->opcode == SHIFT_OP_RDMA_READ) {
            dst--;
            if (dst != seq)
                log->ring[dst & log->mask] = *r;
            log->ring[dst & log->mask].two_sided_cum = two;
            log->ring[dst & log->mask].unsafe_cum = unsafe;
        }
    }
    log->two_sided_retired = two;
    log->unsafe_retired = unsafe;
    __atomic_store_n(&log->tail, dst, __ATOMIC_RELEASE);
    return (int64_t)(dst - start);
}

/* Undo the newest posts down to new_head (tail <= new_head <= head): the provider rejected them (bad_wr). */
static inline int shift_wrlog_truncate(struct shift_wrlog *log, uint64_t new_head)
{
    if (new_head < log->tail || new_head > log->head)
        return SHIFT_E_RANGE;
    __atomic_store_n(&log->head, new_head, __ATOMIC_RELEASE);
    if (new_head == log->tail) {
        log->two_sided_posted = log->two_sided_retired;
        log->unsafe_posted = log->unsafe_retired;
    } else {
        const struct shift_wr *last = &log->ring[(new_head - 1) & log->mask];
        log->two_sided_posted = last->two_sided_cum;
        log->unsafe_posted = last->unsafe_cum;
    }
    return SHIFT_OK;
}

static inline void shift_wrlog_replay_begin(const struct shift_wrlog *log, struct shift_cursor *cur)
{
    cur->seq = log->tail;
}

/* The next outstanding record in posting order, or NULL at the end. A record retired while the cursor was
 * open is skipped (the cursor never goes below the tail). */
static inline const struct shift_wr *shift_wrlog_replay_next(const struct shift_wrlog *log, struct shift_cursor *cur)
{
    uint64_t tail = __atomic_load_n(&log->tail, __ATOMIC_ACQUIRE);
    if (cur->seq < tail)
        cur->seq = tail;
    if (cur->seq >= __atomic_load_n(&log->head, __ATOMIC_ACQUIRE))
        return NULL;
    return &log->ring[cur->seq++ & log->mask];
}

#endif /* SHIFT_WRLOG_H */
