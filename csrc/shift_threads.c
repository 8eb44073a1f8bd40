/* shift_threads.c -- a multi-threaded verbs program: SHIFT's failover under several posters and pollers.
 *
 * Hosts A and B in one process (the fake provider, or the rxe guest's four devices), Q RC QPs between them.
 * Per QP, P poster threads SEND numbered messages (poster p's k-th message carries (qp, p, k) and a pattern);
 * A's shared CQ and B's shared CQ are each polled by K threads at once; B's pollers check every message and
 * repost the RECV from the polling thread (so posts to one QP come from several threads); a thread blocks in
 * ibv_get_async_event as real programs do. The main thread injects a link fault, repairs it, and watches
 * progress: no progress for --stall-s seconds is reported as a deadlock (exit 3). Checked at the end: every
 * message delivered exactly once with its bytes intact. Output: one JSON line.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <infiniband/verbs.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MSG 256
#define MAXQ 16
#define MAXP 4

static int Q = 4, P = 2, K = 2, N = 2000, DEPTH = 16, stall_s = 20, gid_index = 1;
static double fault_at = 0.3, restore_at = 1.2;
static char fault[128] = "fake:p:down", restore[128] = "fake:p:up", devs[2][64] = {"fake_p0", "fake_p1"};

struct side {
    struct ibv_context *ctx;
    struct ibv_pd *pd;
    struct ibv_cq *cq;
    struct ibv_mr *mr;
    uint8_t *buf;
    struct ibv_qp *qp[MAXQ];
    union ibv_gid gid;
};
static struct side A, B;
static _Atomic uint64_t outstanding[MAXQ][MAXP], sent_total, recv_total, completions, errors, dups, corrupt;
static uint8_t *seen[MAXQ][MAXP];
static pthread_mutex_t seen_mu[MAXQ];
static _Atomic int stop;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *w)
{
    perror(w);
    exit(2);
}

static void act(const char *what)
{
    if (!strncmp(what, "fake:", 5)) {
        int (*set_link)(char, int) = (int (*)(char, int))dlsym(RTLD_DEFAULT, "fakeverbs_set_link");
        const char *k = what + 7;
        if (!set_link)
            die("fakeverbs_set_link (run with LD_LIBRARY_PATH=csrc/fakeverbs)");
        set_link(what[5], !strcmp(k, "down") ? 1 : !strcmp(k, "blackhole") ? 2 : !strcmp(k, "ackloss") ? 3 : 0);
    } else if (!strncmp(what, "cmd:", 4) && system(what + 4)) {
        fprintf(stderr, "shift_threads: '%s' failed\n", what + 4);
    }
    fprintf(stderr, "shift_threads: %.3f %s\n", now_s(), what);
}

/* receive slot of (qp, slot) in B's buffer; send slot of (qp, poster, k) in A's */
static uint8_t *rslot(int q, int s) { return B.buf + ((size_t)q * DEPTH * MAXP + (size_t)s) * MSG; }
static uint8_t *sslot(int q, int p, uint64_t k) { return A.buf + (((size_t)q * MAXP + p) * DEPTH + k % DEPTH) * MSG; }

static void fill(uint8_t *m, int q, int p, uint64_t k)
{
    uint32_t h[2] = {(uint32_t)q, (uint32_t)p};
    memcpy(m, h, 8);
    memcpy(m + 8, &k, 8);
    for (int i = 16; i < MSG; i++)
        m[i] = (uint8_t)(k * 7 + (uint64_t)(q * 31 + p * 17 + i));
}

static void open_side(struct side *s, const char *dev)
{
    int n, i;
    struct ibv_device **l = ibv_get_device_list(&n);
    size_t len = (size_t)MAXQ * MAXP * DEPTH * MSG;
    for (i = 0; l && i < n; i++)
        if (!strcmp(ibv_get_device_name(l[i]), dev))
            break;
    if (!l || i == n)
        die(dev);
    if (!(s->ctx = ibv_open_device(l[i])) || !(s->pd = ibv_alloc_pd(s->ctx)))
        die("open");
    ibv_free_device_list(l);
    s->buf = calloc(1, len);
    if (!(s->mr = ibv_reg_mr(s->pd, s->buf, len, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE)))
        die("reg_mr");
    if (!(s->cq = ibv_create_cq(s->ctx, Q * P * DEPTH * 2 + 64, NULL, NULL, 0)))
        die("create_cq");
    for (int q = 0; q < Q; q++) {
        struct ibv_qp_init_attr ia = {.send_cq = s->cq, .recv_cq = s->cq, .qp_type = IBV_QPT_RC,
                                      .cap = {.max_send_wr = (uint32_t)(P * DEPTH), .max_recv_wr = (uint32_t)(P * DEPTH),
                                              .max_send_sge = 1, .max_recv_sge = 1}};
        if (!(s->qp[q] = ibv_create_qp(s->pd, &ia)))
            die("create_qp");
    }
    if (ibv_query_gid(s->ctx, 1, gid_index, &s->gid))
        die("query_gid");
}

static void connect_qp(struct ibv_qp *qp, uint32_t dqpn, const union ibv_gid *dgid)
{
    struct ibv_qp_attr a = {.qp_state = IBV_QPS_INIT, .port_num = 1,
                            .qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE};
    if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
        die("INIT");
    memset(&a, 0, sizeof(a));
    a.qp_state = IBV_QPS_RTR;
    a.path_mtu = IBV_MTU_1024;
    a.dest_qp_num = dqpn;
    a.max_dest_rd_atomic = 1;
    a.min_rnr_timer = 12;
    a.ah_attr.is_global = 1;
    a.ah_attr.grh.dgid = *dgid;
    a.ah_attr.grh.sgid_index = (uint8_t)gid_index;
    a.ah_attr.grh.hop_limit = 64;
    a.ah_attr.port_num = 1;
    if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                                  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
        die("RTR");
    memset(&a, 0, sizeof(a));
    a.qp_state = IBV_QPS_RTS;
    a.timeout = 14;
    a.retry_cnt = 6;
    a.rnr_retry = 7;
    a.max_rd_atomic = 1;
    if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
                                  IBV_QP_MAX_QP_RD_ATOMIC))
        die("RTS");
}

static void post_recv(int q, int s)
{
    struct ibv_sge sg = {.addr = (uintptr_t)rslot(q, s), .length = MSG, .lkey = B.mr->lkey};
    struct ibv_recv_wr w = {.wr_id = (uint64_t)q << 32 | (uint32_t)s, .sg_list = &sg, .num_sge = 1}, *bad;
    if (ibv_post_recv(B.qp[q], &w, &bad))
        die("post_recv");
}

struct poster {
    int q, p;
};

static void *poster(void *arg)
{
    struct poster *me = arg;
    for (uint64_t k = 0; k < (uint64_t)N && !stop; k++) {
        struct ibv_sge sg;
        struct ibv_send_wr w, *bad;
        while (atomic_load(&outstanding[me->q][me->p]) >= (uint64_t)DEPTH && !stop)
            sched_yield();
        fill(sslot(me->q, me->p, k), me->q, me->p, k);
        sg = (struct ibv_sge){.addr = (uintptr_t)sslot(me->q, me->p, k), .length = MSG, .lkey = A.mr->lkey};
        memset(&w, 0, sizeof(w));
        w.wr_id = (uint64_t)me->q << 32 | (uint32_t)me->p;
        w.opcode = IBV_WR_SEND;
        w.send_flags = IBV_SEND_SIGNALED;
        w.sg_list = &sg;
        w.num_sge = 1;
        atomic_fetch_add(&outstanding[me->q][me->p], 1);
        if (ibv_post_send(A.qp[me->q], &w, &bad))
            die("post_send");
        atomic_fetch_add(&sent_total, 1);
    }
    return NULL;
}

static void *poll_a(void *unused)
{
    struct ibv_wc wc[8];
    (void)unused;
    while (!stop) {
        int got = ibv_poll_cq(A.cq, 8, wc);
        for (int i = 0; i < got; i++) {
            if (wc[i].status != IBV_WC_SUCCESS) {
                atomic_fetch_add(&errors, 1);
                continue;
            }
            atomic_fetch_sub(&outstanding[wc[i].wr_id >> 32][(uint32_t)wc[i].wr_id], 1);
            atomic_fetch_add(&completions, 1);
        }
        if (got <= 0)
            sched_yield();
    }
    return NULL;
}

static void *poll_b(void *unused)
{
    struct ibv_wc wc[8];
    (void)unused;
    while (!stop) {
        int got = ibv_poll_cq(B.cq, 8, wc);
        for (int i = 0; i < got; i++) {
            int q = (int)(wc[i].wr_id >> 32), s = (int)(uint32_t)wc[i].wr_id;
            uint32_t h[2];
            uint64_t k;
            uint8_t expect[MSG];
            if (wc[i].status != IBV_WC_SUCCESS) {
                atomic_fetch_add(&errors, 1);
                continue;
            }
            memcpy(h, rslot(q, s), 8);
            memcpy(&k, rslot(q, s) + 8, 8);
            if (h[0] != (uint32_t)q || h[1] >= (uint32_t)P || k >= (uint64_t)N) {
                atomic_fetch_add(&corrupt, 1);
            } else {
                fill(expect, q, (int)h[1], k);
                if (memcmp(expect, rslot(q, s), MSG))
                    atomic_fetch_add(&corrupt, 1);
                pthread_mutex_lock(&seen_mu[q]);
                if (seen[q][h[1]][k])
                    atomic_fetch_add(&dups, 1);
                seen[q][h[1]][k] = 1;
                pthread_mutex_unlock(&seen_mu[q]);
            }
            atomic_fetch_add(&recv_total, 1);
            post_recv(q, s);
        }
        if (got <= 0)
            sched_yield();
    }
    return NULL;
}

static void *async_events(void *unused)
{
    struct ibv_async_event ev;
    (void)unused;
    while (!stop && ibv_get_async_event(A.ctx, &ev) == 0)
        ibv_ack_async_event(&ev);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t th[64];
    struct poster ps[MAXQ * MAXP];
    int nth = 0, faulted = 0, restored = 0;
    uint64_t last = 0, lost = 0;
    double t0, t_last;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--qps"))
            Q = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--posters"))
            P = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pollers"))
            K = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--n"))
            N = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--fault"))
            snprintf(fault, sizeof(fault), "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--restore"))
            snprintf(restore, sizeof(restore), "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--fault-at"))
            fault_at = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--restore-at"))
            restore_at = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--stall-s"))
            stall_s = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--devs")) {
            const char *c = strchr(argv[i + 1], ',');
            if (!c)
                return 2;
            snprintf(devs[0], sizeof(devs[0]), "%.*s", (int)(c - argv[i + 1]), argv[i + 1]);
            snprintf(devs[1], sizeof(devs[1]), "%s", c + 1);
        } else {
            fprintf(stderr, "usage: shift_threads [--qps Q] [--posters P] [--pollers K] [--n N] [--fault F] "
                            "[--fault-at S] [--restore R] [--restore-at S] [--stall-s S] [--devs A,B]\n");
            return 2;
        }
    }
    if (Q < 1 || Q > MAXQ || P < 1 || P > MAXP || K < 1 || K > 8 || N < 1)
        return 2;
    open_side(&A, devs[0]);
    open_side(&B, devs[1]);
    for (int q = 0; q < Q; q++) {
        connect_qp(A.qp[q], B.qp[q]->qp_num, &B.gid);
        connect_qp(B.qp[q], A.qp[q]->qp_num, &A.gid);
        pthread_mutex_init(&seen_mu[q], NULL);
        for (int p = 0; p < P; p++)
            seen[q][p] = calloc((size_t)N, 1);
        for (int s = 0; s < P * DEPTH; s++)
            post_recv(q, s);
    }
    pthread_create(&th[nth++], NULL, async_events, NULL);
    for (int k = 0; k < K; k++) {
        pthread_create(&th[nth++], NULL, poll_a, NULL);
        pthread_create(&th[nth++], NULL, poll_b, NULL);
    }
    for (int q = 0; q < Q; q++)
        for (int p = 0; p < P; p++) {
            ps[q * P + p] = (struct poster){q, p};
            pthread_create(&th[nth++], NULL, poster, &ps[q * P + p]);
        }
    t0 = t_last = now_s();
    while (atomic_load(&recv_total) < (uint64_t)(Q * P * N) && !atomic_load(&errors)) {
        double t = now_s() - t0;
        uint64_t r = atomic_load(&recv_total) + atomic_load(&completions);
        if (!faulted && t >= fault_at && fault[0]) {
            act(fault);
            faulted = 1;
        }
        if (!restored && t >= restore_at && restore[0]) {
            act(restore);
            restored = 1;
        }
        if (r != last) {
            last = r;
            t_last = now_s();
        } else if (now_s() - t_last > stall_s) {
            fprintf(stderr, "shift_threads: no progress for %d s: deadlock or stall (sent %" PRIu64 ", received %" PRIu64
                            ")\n", stall_s, atomic_load(&sent_total), atomic_load(&recv_total));
            printf("{\"ok\": false, \"stall\": true, \"sent\": %" PRIu64 ", \"received\": %" PRIu64 "}\n",
                   atomic_load(&sent_total), atomic_load(&recv_total));
            fflush(stdout);
            _exit(3);
        }
        usleep(2000);
    }
    usleep(100000);
    stop = 1;
    for (int q = 0; q < Q; q++)
        for (int p = 0; p < P; p++)
            for (int k = 0; k < N; k++)
                lost += !seen[q][p][k];
    printf("{\"qps\": %d, \"posters_per_qp\": %d, \"pollers_per_cq\": %d, \"messages\": %d, \"sent\": %" PRIu64
           ", \"received\": %" PRIu64 ", \"duplicates\": %" PRIu64 ", \"lost\": %" PRIu64 ", \"corrupt\": %" PRIu64
           ", \"errors\": %" PRIu64 ", \"seconds\": %.2f, \"ok\": %s}\n",
           Q, P, K, Q * P * N, atomic_load(&sent_total), atomic_load(&recv_total), atomic_load(&dups), lost,
           atomic_load(&corrupt), atomic_load(&errors), now_s() - t0,
           !atomic_load(&dups) && !lost && !atomic_load(&corrupt) && !atomic_load(&errors) ? "true" : "false");
    fflush(stdout);
    _exit(!atomic_load(&dups) && !lost && !atomic_load(&corrupt) && !atomic_load(&errors) ? 0 : 1);
}
