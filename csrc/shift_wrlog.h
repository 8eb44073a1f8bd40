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
 * Posting only writes the record and bumps head: the counters below are kept at retirement (the completion
 * scans the records it retires anyway, to find the signaled one) and counted over the outstanding records
 * when a failover needs them, so the hot path carries no bookkeeping.
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

/* One logged work request (a compact copy of ibv_send_wr / ibv_recv_wr): one 64-byte cache line. SGEs beyond
 * the first live in the record's extension (shift_wrlog_ext), a parallel array the routine case never touches,
 * so the ring's cache
 * footprint stays that of a provider's send queue. The atomic operands are only written for atomics. */
struct shift_wr {
    uint64_t wr_id;
    uint64_t remote_addr;
    uint64_t compare_add; /* atomic: compare (CAS) or add (FADD) operand; only meaningful for atomics */
    uint64_t swap;        /* atomic: swap operand (CAS); only meaningful for atomics */
    uint32_t rkey;
    uint32_t imm_data; /* network byte order, as in ibv_send_wr */
    uint8_t opcode;
    uint8_t signaled;
    uint8_t num_sge;
    uint8_t flags;
    uint32_t send_flags;   /* the original ibv_send_flags (replayed unchanged) */
    struct shift_sge sge0; /* the first scatter/gather entry */
};

struct shift_wr_ext {
    struct shift_sge sge[SHIFT_MAX_SGE - 1]; /* SGEs 1 .. num_sge-1 */
};

_Static_assert(sizeof(struct shift_wr) == 64, "a log record is one cache line");

struct shift_wrlog {
    uint64_t head; /* sequence number of the next post */
    uint64_t tail; /* sequence number of the oldest outstanding record */
    uint64_t mask; /* capacity - 1 */
    uint64_t two_sided_retired; /* SHIFT's send counter (SQ) or receive counter (RQ) */
    struct shift_wr *ring;
    struct shift_wr_ext *ext; /* ext[i] extends ring[i] */
};

/* the extension of a record of this log, and its i-th SGE */
static inline struct shift_wr_ext *shift_wrlog_ext(const struct shift_wrlog *log, const struct shift_wr *r)
{
    return &log->ext[r - log->ring];
}
static inline const struct shift_sge *shift_wr_sge(const struct shift_wrlog *log, const struct shift_wr *r, int i)
{
    return i == 0 ? &r->sge0 : &shift_wrlog_ext(log, r)->sge[i - 1];
}

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
/* Per-opcode class bits, so commit is branch-free: bit 0 two-sided (consumes / is a RECV: counts toward the
 * send/receive counters), bit 1 unsafe to retransmit (paper §4.3.2 step 2): atomics (not idempotent,
 * Theorem 2) and every opcode the log does not understand. RDMA WRITE / READ / SEND* / RECV are replayable. */
#define SHIFT_CLASS_TWO_SIDED 1u
#define SHIFT_CLASS_UNSAFE 2u
static const uint8_t shift_op_classes[256] = {
    [SHIFT_OP_RDMA_WRITE] = 0,
    [SHIFT_OP_RDMA_WRITE_WITH_IMM] = SHIFT_CLASS_TWO_SIDED,
    [SHIFT_OP_SEND] = SHIFT_CLASS_TWO_SIDED,
    [SHIFT_OP_SEND_WITH_IMM] = SHIFT_CLASS_TWO_SIDED,
    [SHIFT_OP_RDMA_READ] = 0,
    [SHIFT_OP_ATOMIC_CMP_AND_SWP] = SHIFT_CLASS_UNSAFE,
    [SHIFT_OP_ATOMIC_FETCH_AND_ADD] = SHIFT_CLASS_UNSAFE,
    [7] = SHIFT_CLASS_UNSAFE, [8] = SHIFT_CLASS_UNSAFE,
    [SHIFT_OP_SEND_WITH_INV] = SHIFT_CLASS_TWO_SIDED,
    [10 ... 127] = SHIFT_CLASS_UNSAFE,
    [SHIFT_OP_RECV] = SHIFT_CLASS_TWO_SIDED,
    [129 ... 255] = SHIFT_CLASS_UNSAFE,
};
static inline unsigned shift_op_class(uint8_t op) { return shift_op_classes[op]; }

/* Two-phase post for callers that fill the slot in place (the interposer): reserve a slot (NULL when full),
 * fill opcode/signaled/flags/..., then commit. Nothing is visible until commit. */
static inline struct shift_wr *shift_wrlog_reserve(struct shift_wrlog *log)
{
    if (log->head - __atomic_load_n(&log->tail, __ATOMIC_ACQUIRE) > log->mask)
        return NULL;
    return &log->ring[log->head & log->mask];
}

/* Make the reserved slot visible: it is now outstanding. */
static inline void shift_wrlog_commit(struct shift_wrlog *log, struct shift_wr *slot)
{
    (void)slot;
    __atomic_store_n(&log->head, log->head + 1, __ATOMIC_RELEASE);
}

/* the class of a record: its opcode's, plus unsafe when the application flagged it */
static inline unsigned shift_wr_class(const struct shift_wr *r)
{
    return shift_op_class(r->opcode) | ((r->flags & SHIFT_WR_APP_UNSAFE) ? SHIFT_CLASS_UNSAFE : 0u);
}

/* how many records in [from, to) have class bit `bit` */
static inline uint64_t shift_wrlog_count(const struct shift_wrlog *log, uint64_t from, uint64_t to, unsigned bit)
{
    uint64_t n = 0;
    for (uint64_t seq = from; seq < to; seq++)
        n += (shift_wr_class(&log->ring[seq & log->mask]) & bit) != 0;
    return n;
}

static inline uint64_t shift_wrlog_unsafe_outstanding(const struct shift_wrlog *log)
{
    return shift_wrlog_count(log, log->tail, __atomic_load_n(&log->head, __ATOMIC_ACQUIRE), SHIFT_CLASS_UNSAFE);
}

/* two-sided records ever posted (and not truncated): retired ones plus the outstanding */
static inline uint64_t shift_wrlog_two_sided_posted(const struct shift_wrlog *log)
{
    return log->two_sided_retired +
           shift_wrlog_count(log, log->tail, __atomic_load_n(&log->head, __ATOMIC_ACQUIRE), SHIFT_CLASS_TWO_SIDED);
}

/* Append a copy of *wr and its extension (ext may be NULL: one SGE, not an atomic); *_cum fields are ignored.
 * 0, SHIFT_E_OVERFLOW or SHIFT_E_SGE. */
static inline int shift_wrlog_post(struct shift_wrlog *log, const struct shift_wr *wr, const struct shift_wr_ext *ext)
{
    struct shift_wr *slot;
    if (wr->num_sge > SHIFT_MAX_SGE || (wr->num_sge > 1 && !ext))
        return SHIFT_E_SGE;
    slot = shift_wrlog_reserve(log);
    if (!slot)
        return SHIFT_E_OVERFLOW;
    *slot = *wr;
    if (ext)
        *shift_wrlog_ext(log, slot) = *ext;
    shift_wrlog_commit(log, slot);
    return SHIFT_OK;
}

/* Retire every outstanding record with sequence number < end (end in (tail, head]). */
static inline void shift_wrlog_retire_to(struct shift_wrlog *log, uint64_t end)
{
    log->two_sided_retired += shift_wrlog_count(log, log->tail, end, SHIFT_CLASS_TWO_SIDED);
    __atomic_store_n(&log->tail, end, __ATOMIC_RELEASE);
}

/* A successful signaled completion: retire the oldest outstanding signaled record and every (unsignaled)
 * record before it. Returns the number retired (>= 1), SHIFT_E_NO_SIGNALED or SHIFT_E_WRID_MISMATCH (then
 * nothing is retired). On a receive log every record is signaled. */
static inline int64_t shift_wrlog_complete(struct shift_wrlog *log, uint64_t wr_id)
{
    uint64_t seq, head = __atomic_load_n(&log->head, __ATOMIC_ACQUIRE), two = 0;
    for (seq = log->tail; seq != head; seq++) {
        const struct shift_wr *r = &log->ring[seq & log->mask];
        two += shift_op_class(r->opcode) & SHIFT_CLASS_TWO_SIDED;
        if (r->signaled) {
            uint64_t n = seq + 1 - log->tail;
            if (r->wr_id != wr_id)
                return SHIFT_E_WRID_MISMATCH;
            log->two_sided_retired += two;
            __atomic_store_n(&log->tail, seq + 1, __ATOMIC_RELEASE);
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
    uint64_t seq, end, dst, start = log->tail, two = log->two_sided_retired;
    if (peer_count > shift_wrlog_two_sided_posted(log))
        return SHIFT_E_COUNTER;
    if (peer_count <= log->two_sided_retired)
        return 0;
    for (seq = log->tail; seq != log->head; seq++) {
        two += shift_op_class(log->ring[seq & log->mask].opcode) & SHIFT_CLASS_TWO_SIDED;
        if (two == peer_count)
            break;
    }
    /* two steps by at most 1 per record and reaches the posted total >= peer_count, so seq < head here */
    end = seq + 1;
    /* compact the READs of [start, end) to the end of that range, last first (in place, order kept) */
    dst = end;
    for (seq = end; seq-- != start;) {
        struct shift_wr *r = &log->ring[seq & log->mask];
        if (r->opcode == SHIFT_OP_RDMA_READ) {
            dst--;
            if (dst != seq) {
                log->ring[dst & log->mask] = *r;
                log->ext[dst & log->mask] = log->ext[seq & log->mask];
            }
        }
    }
    log->two_sided_retired = peer_count;
    __atomic_store_n(&log->tail, dst, __ATOMIC_RELEASE);
    return (int64_t)(dst - start);
}

/* Undo the newest posts down to new_head (tail <= new_head <= head): the provider rejected them (bad_wr). */
static inline int shift_wrlog_truncate(struct shift_wrlog *log, uint64_t new_head)
{
    if (new_head < log->tail || new_head > log->head)
        return SHIFT_E_RANGE;
    __atomic_store_n(&log->head, new_head, __ATOMIC_RELEASE);
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
