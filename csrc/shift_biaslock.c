/* shift_biaslock.c -- the slow paths of the biased lock (shift_biaslock.h) and membarrier registration. */
#define _GNU_SOURCE
#include "shift_biaslock.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

__thread char shift_blk_token __attribute__((tls_model("initial-exec")));
__thread int shift_blk_control __attribute__((tls_model("initial-exec")));
int shift_blk_enabled;

int shift_blk_global_init(int allow)
{
    long cmds;
    if (!allow)
        return shift_blk_enabled = 0;
    cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) ||
        syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0)
        return shift_blk_enabled = 0;
    return shift_blk_enabled = 1;
}

void shift_blk_init(struct shift_blk *b)
{
    atomic_init(&b->owner, 0);
    atomic_init(&b->in_cs, 0);
    atomic_init(&b->revoke, 0);
    pthread_spin_init(&b->spin, PTHREAD_PROCESS_PRIVATE);
}

void shift_blk_destroy(struct shift_blk *b) { pthread_spin_destroy(&b->spin); }

int shift_blk_lock_slow(struct shift_blk *b)
{
    uintptr_t me = (uintptr_t)&shift_blk_token, o;
    pthread_spin_lock(&b->spin);
    o = atomic_load_explicit(&b->owner, memory_order_relaxed);
    if (o == 0) {
        /* first user: bias the lock to it (under the spinlock, so no one else is inside) */
        if (shift_blk_enabled && !shift_blk_control)
            atomic_store_explicit(&b->owner, me, memory_order_relaxed);
        return 0;
    }
    if (o == SHIFT_BLK_SHARED || o == me)
        return 0; /* a plain spinlock now, or the owner coming back after a revocation ended */
    /* another thread owns the bias: a second application thread makes the lock shared for good; the
     * control thread only keeps the owner out while it holds the spinlock */
    if (!shift_blk_control)
        atomic_store_explicit(&b->owner, SHIFT_BLK_SHARED, memory_order_relaxed);
    atomic_store_explicit(&b->revoke, 1, memory_order_relaxed);
    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    while (atomic_load_explicit(&b->in_cs, memory_order_acquire))
        cpu_relax();
    return 0;
}

void shift_blk_unlock_slow(struct shift_blk *b)
{
    atomic_store_explicit(&b->revoke, 0, memory_order_release);
    pthread_spin_unlock(&b->spin);
}
