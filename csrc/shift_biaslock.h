/* shift_biaslock.h -- a lock biased to the one thread that uses it, for libshift's data path.
 *
 * Why: an uncontended spinlock costs ~10 ns here (one atomic read-modify-write per call), twice libshift's
 * whole budget per work request, yet verbs programs may post to one QP (or poll one CQ) from several threads
 * and libshift's control thread must exclude them during a failover. Almost always one thread uses a QP or
 * CQ, so the lock is *biased* to it (HotSpot's biased locking, liburcu's asymmetric fences): the owner enters
 * with two plain stores and a load; anyone else takes the spinlock, sets `revoke`, and makes every thread of
 * the process execute a full memory barrier with membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) before waiting
 * for the owner to leave (the classic asymmetric Dekker: either the owner's `in_cs = 1` is visible after the
 * barrier, or the owner sees `revoke` and takes the slow path).
 *
 * A second *application* thread turns the lock into a plain spinlock for good (SHARED: no more membarriers
 * for a QP that really is shared); the control thread only revokes for the duration of its critical
 * section. Without membarrier (old kernel, some sanitizers) or with SHIFT_BIASED_LOCKS=0 nothing is ever
 * biased: every entry takes the spinlock (what ThreadSanitizer and helgrind runs use).
 */
#ifndef SHIFT_BIASLOCK_H
#define SHIFT_BIASLOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define SHIFT_BLK_SHARED ((uintptr_t)1)

struct shift_blk {
    _Atomic uintptr_t owner; /* 0 unowned, SHIFT_BLK_SHARED, or the biased thread's token */
    _Atomic int in_cs;       /* the owner is inside a fast critical section */
    _Atomic int revoke;      /* a spinlock holder wants the owner out of the fast path */
    pthread_spinlock_t spin;
};

extern __thread char shift_blk_token __attribute__((tls_model("initial-exec")));  /* its address identifies the calling thread */
extern __thread int shift_blk_control __attribute__((tls_model("initial-exec"))); /* set in libshift's control thread: revokes, never owns */
extern int shift_blk_enabled;          /* biasing allowed (membarrier registered) */

void shift_blk_init(struct shift_blk *b);
void shift_blk_destroy(struct shift_blk *b);
int shift_blk_lock_slow(struct shift_blk *b); /* out of line; returns 0 (slow-held) */
void shift_blk_unlock_slow(struct shift_blk *b);
int shift_blk_global_init(int allow); /* register membarrier; returns shift_blk_enabled */

/* Enter; returns 1 when held on the fast path, 0 when held through the spinlock (pass it to unlock). */
static inline int shift_blk_lock(struct shift_blk *b)
{
    if (__builtin_expect(atomic_load_explicit(&b->owner, memory_order_relaxed) == (uintptr_t)&shift_blk_token, 1)) {
        atomic_store_explicit(&b->in_cs, 1, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst); /* the revoker's membarrier supplies the CPU fence */
        if (__builtin_expect(!atomic_load_explicit(&b->revoke, memory_order_acquire), 1))
            return 1;
        atomic_store_explicit(&b->in_cs, 0, memory_order_release);
    }
    return shift_blk_lock_slow(b);
}

static inline void shift_blk_unlock(struct shift_blk *b, int fast)
{
    if (__builtin_expect(fast, 1)) {
        atomic_signal_fence(memory_order_seq_cst);
        atomic_store_explicit(&b->in_cs, 0, memory_order_release);
    } else {
        shift_blk_unlock_slow(b);
    }
}

#endif /* SHIFT_BIASLOCK_H */
