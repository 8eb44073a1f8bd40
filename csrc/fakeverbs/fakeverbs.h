/* fakeverbs.h -- control API of the fake libibverbs (csrc/fakeverbs/fakeverbs.c), for tests and the benchmark.
 *
 * The fake is an in-memory RC fabric behind the libibverbs API, built as a `libibverbs.so.1` that a program
 * picks up with LD_LIBRARY_PATH=csrc/fakeverbs. Devices (FAKEVERBS_DEVICES, default
 * "fake_p0,fake_b0,fake_p1,fake_b1") pair up into links by name: fake_<L><n> and fake_<L><m> share link <L>
 * ("p" primary, "b" backup). Faults act on a link, like the rxe guest's veth faults:
 *   down      both ports DOWN (IBV_EVENT_PORT_ERR), a posted WR fails at once with LOC_QP_OP_ERR
 *   blackhole requests are silently dropped (netem 100 % loss): RETRY_EXC_ERR after retry_cnt+1 attempts
 *   ackloss   requests execute at the responder, ACKs are dropped: the requester times out (RETRY_EXC_ERR)
 *             although the WR executed -- the indistinguishable case of the paper's Lemma 1
 * Test programs look these functions up with dlsym(RTLD_DEFAULT, ...) so they also build against the real
 * libibverbs (on rxe the faults are `ip link` / netem commands instead).
 */
#ifndef FAKEVERBS_H
#define FAKEVERBS_H

#include <stdint.h>

enum fakeverbs_fault { FAKEVERBS_UP = 0, FAKEVERBS_DOWN = 1, FAKEVERBS_BLACKHOLE = 2, FAKEVERBS_ACKLOSS = 3 };

/* Set link `link` ('p', 'b', ...) to `fault`. 0, or -1 for an unknown link. */
int fakeverbs_set_link(char link, int fault);

struct fakeverbs_stats {
    uint64_t executed;   /* requests executed at a responder */
    uint64_t duplicates; /* retransmitted requests the responder recognised (PSN) and did not re-execute */
    uint64_t dropped;    /* request attempts lost to a fault or to a responder QP not ready */
    uint64_t rnr;        /* SEND attempts that found no receive WQE (retried) */
    uint64_t out_of_sequence; /* request attempts NAKed for a PSN ahead of the responder's (retried) */
};
void fakeverbs_get_stats(struct fakeverbs_stats *out);

/* Benchmark hooks: the provider's own data verbs, so a benchmark can time them without libshift in between. */
typedef int (*fakeverbs_post_send_fn)(void *qp, void *wr, void **bad_wr);
typedef int (*fakeverbs_post_recv_fn)(void *qp, void *wr, void **bad_wr);
typedef int (*fakeverbs_poll_cq_fn)(void *cq, int n, void *wc);
void fakeverbs_provider_ops(fakeverbs_post_send_fn *ps, fakeverbs_post_recv_fn *pr, fakeverbs_poll_cq_fn *pc);

#endif /* FAKEVERBS_H */
