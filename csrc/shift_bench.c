/* shift_bench.c -- ns per WR that libshift.so adds to the data verbs (the fast-path microbenchmark).
 *
 * Runs under LD_PRELOAD=libshift.so on the fake provider in bench mode (FAKEVERBS_BENCH=1: post_send writes one
 * 64-byte WQE per WR and completes signaled WRs at once, as a provider without the MMIO doorbell would), so
 * the difference between the two paths below is exactly what libshift adds -- QP/CQ lookup, its biased lock,
 * the WR log, retirement -- with nothing else in between:
 *   base    the provider's own post_send / post_recv / poll_cq (fakeverbs_provider_ops)
 *   shift   the application's path: ibv_post_send / ibv_post_recv / ibv_poll_cq, i.e. libshift's swapped ops
 * Patterns: a lone signaled WRITE per post; NCCL's 7 unsignaled WRITEs + 1 signaled WRITE_WITH_IMM per post;
 * a lone post_recv; poll_cq of those completions in batches of 16 (perftest's CTX_POLL_BATCH). Each repeat
 * times phases of 64 WRs (posts, then the polls that retire them) for both paths, alternating which goes
 * first; the JSON on stdout has per pattern the median ns/WR of each path, the median paired difference
 * (added) and the ratio, and the fastest repeat of each (min: least disturbed by other load).
 *
 * usage: shift_bench [repeats] [phases_per_repeat]      shift_bench --count PATTERN base|shift N
 * (--count: run N WRs of one pattern on one path and exit, for valgrind --tool=callgrind instruction counts)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <infiniband/verbs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fakeverbs/fakeverbs.h"
#include "shift_wrlog.h"

#define PHASE 64
#define POLL_BATCH 16

static int (*base_post_send)(struct ibv_qp *, struct ibv_send_wr *, struct ibv_send_wr **);
static int (*base_post_recv)(struct ibv_qp *, struct ibv_recv_wr *, struct ibv_recv_wr **);
static int (*base_poll_cq)(struct ibv_cq *, int, struct ibv_wc *);

static struct ibv_qp *qp;
static struct ibv_cq *cq;
static struct ibv_mr *mr;
static char buf[1 << 16];

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *w)
{
    fprintf(stderr, "shift_bench: %s (run under LD_LIBRARY_PATH=csrc/fakeverbs FAKEVERBS_BENCH=1)\n", w);
    exit(2);
}

static void setup(void)
{
    int n;
    struct ibv_device **l = ibv_get_device_list(&n);
    struct ibv_context *ctx;
    struct ibv_pd *pd;
    struct ibv_qp_init_attr ia = {.qp_type = IBV_QPT_RC, .cap = {.max_send_wr = 128, .max_recv_wr = 128,
                                                                .max_send_sge = 1, .max_recv_sge = 1}};
    struct ibv_qp_attr a;
    void (*ops)(fakeverbs_post_send_fn *, fakeverbs_post_recv_fn *, fakeverbs_poll_cq_fn *) =
        (void (*)(fakeverbs_post_send_fn *, fakeverbs_post_recv_fn *, fakeverbs_poll_cq_fn *))dlsym(
            RTLD_DEFAULT, "fakeverbs_provider_ops");
    if (!l || !n || !ops)
        die("no fake provider");
    ops((fakeverbs_post_send_fn *)&base_post_send, (fakeverbs_post_recv_fn *)&base_post_recv,
        (fakeverbs_poll_cq_fn *)&base_poll_cq);
    if (!(ctx = ibv_open_device(l[0])) || !(pd = ibv_alloc_pd(ctx)) ||
        !(mr = ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE)) ||
        !(cq = ibv_create_cq(ctx, 4096, NULL, NULL, 0)))
        die("setup failed");
    ia.send_cq = ia.recv_cq = cq;
    if (!(qp = ibv_create_qp(pd, &ia)))
        die("create_qp failed");
    memset(&a, 0, sizeof(a));
    a.qp_state = IBV_QPS_INIT;
    a.port_num = 1;
    ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PORT);
    a.qp_state = IBV_QPS_RTR;
    a.dest_qp_num = qp->qp_num;
    a.ah_attr.is_global = 1;
    a.ah_attr.port_num = 1;
    a.ah_attr.grh.sgid_index = 1;
    ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_DEST_QPN);
    a.qp_state = IBV_QPS_RTS;
    ibv_modify_qp(qp, &a, IBV_QP_STATE);
}

enum pattern { LONE, NCCL, RECV, NPAT };
static const char *const pattern_names[NPAT] = {"post_send_signaled", "post_send_batch8_last_signaled",
                                                "post_recv"};

static struct ibv_sge sge[8];
static struct ibv_send_wr swr[8];
static struct ibv_recv_wr rwr;

static void init_wrs(void)
{
    for (int j = 0; j < 8; j++) {
        sge[j] = (struct ibv_sge){.addr = (uintptr_t)buf + 4096u * j, .length = 4096, .lkey = mr->lkey};
        swr[j].sg_list = &sge[j];
        swr[j].num_sge = 1;
        swr[j].opcode = j == 7 ? IBV_WR_RDMA_WRITE_WITH_IMM : IBV_WR_RDMA_WRITE;
        swr[j].send_flags = j == 7 ? IBV_SEND_SIGNALED : 0;
        swr[j].wr.rdma.remote_addr = 0x20000 + 4096u * j;
        swr[j].wr.rdma.rkey = 9;
        swr[j].next = j == 7 ? NULL : &swr[j + 1];
    }
    rwr.sg_list = &sge[0];
    rwr.num_sge = 1;
}

static uint64_t next_id;

/* one phase: PHASE WRs posted, then polled until their completions are in; adds ns to post_ns / poll_ns */
static void phase(enum pattern p, int shift, double *post_ns, double *poll_ns)
{
    struct ibv_wc wc[POLL_BATCH];
    struct ibv_send_wr *bad;
    struct ibv_recv_wr *rbad;
    int ncomp = p == NCCL ? PHASE / 8 : PHASE, got = 0;
    double t0 = now_ns(), t1;
    if (p == LONE) {
        struct ibv_send_wr *w = &swr[7];
        w->next = NULL;
        w->opcode = IBV_WR_RDMA_WRITE;
        for (int i = 0; i < PHASE; i++) {
            w->wr_id = next_id++;
            if (shift ? ibv_post_send(qp, w, &bad) : base_post_send(qp, w, &bad))
                die("post_send failed");
        }
    } else if (p == NCCL) {
        swr[7].opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
        for (int i = 0; i < PHASE / 8; i++) {
            for (int j = 0; j < 8; j++)
                swr[j].wr_id = next_id++;
            if (shift ? ibv_post_send(qp, swr, &bad) : base_post_send(qp, swr, &bad))
                die("post_send failed");
        }
    } else {
        for (int i = 0; i < PHASE; i++) {
            rwr.wr_id = next_id++;
            if (shift ? ibv_post_recv(qp, &rwr, &rbad) : base_post_recv(qp, &rwr, &rbad))
                die("post_recv failed");
        }
    }
    t1 = now_ns();
    while (got < ncomp) {
        int n = shift ? ibv_poll_cq(cq, POLL_BATCH, wc) : base_poll_cq(cq, POLL_BATCH, wc);
        if (n < 0 || (n > 0 && wc[0].status != IBV_WC_SUCCESS))
            die("poll_cq failed");
        got += n;
    }
    *post_ns += t1 - t0;
    *poll_ns += now_ns() - t1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct series {
    double base[256], shift[256], diff[256];
};

static void emit(const char *name, int batch, struct series *s, int repeats, long wrs, int first)
{
    double added = median(s->diff, repeats), mb = median(s->base, repeats), ms = median(s->shift, repeats);
    printf("%s\n  {\"pattern\": \"%s\", \"batch\": %d, \"repeats\": %d, \"wrs_per_repeat\": %ld, "
           "\"base_ns_per_wr\": %.3f, \"logged_ns_per_wr\": %.3f, \"added_ns_per_wr\": %.3f, \"ratio\": %.4f, "
           "\"base_min_ns_per_wr\": %.3f, \"logged_min_ns_per_wr\": %.3f, \"added_min_ns_per_wr\": %.3f}",
           first ? "" : ",", name, batch, repeats, wrs, mb, ms, added, ms / mb, s->base[0], s->shift[0],
           s->shift[0] - s->base[0]);
}

int main(int argc, char **argv)
{
    static struct series post[NPAT], poll;
    int repeats = argc > 1 ? atoi(argv[1]) : 101, phases = argc > 2 ? atoi(argv[2]) : 64;
    if (argc == 5 && !strcmp(argv[1], "--count")) {
        enum pattern p = NPAT;
        double a = 0, b = 0;
        for (int i = 0; i < NPAT; i++)
            if (!strcmp(argv[2], pattern_names[i]))
                p = (enum pattern)i;
        if (p == NPAT)
            die("unknown pattern");
        setup();
        init_wrs();
        for (long n = atol(argv[4]) / PHASE; n > 0; n--)
            phase(p, !strcmp(argv[3], "shift"), &a, &b);
        return 0;
    }
    if (repeats < 1 || repeats > 256 || phases < 1) {
        fprintf(stderr, "usage: shift_bench [repeats 1..256] [phases >= 1] | --count PATTERN base|shift N\n");
        return 2;
    }
    setup();
    init_wrs();
    for (int w = 0; w < 200; w++) { /* warm-up: caches, branch predictors, the biased lock's owner */
        double a = 0, b = 0;
        phase(LONE, w & 1, &a, &b);
    }
    for (int r = 0; r < repeats; r++)
        for (int p = 0; p < NPAT; p++) {
            double post_ns[2] = {0, 0}, poll_ns[2] = {0, 0};
            for (int k = 0; k < 2; k++) {
                int shift = (k + r) & 1; /* alternate which path goes first */
                for (int i = 0; i < phases; i++)
                    phase((enum pattern)p, shift, &post_ns[shift], &poll_ns[shift]);
            }
            post[p].base[r] = post_ns[0] / (phases * PHASE);
            post[p].shift[r] = post_ns[1] / (phases * PHASE);
            post[p].diff[r] = post[p].shift[r] - post[p].base[r];
            if (p == LONE) { /* poll_cq per completion, batches of POLL_BATCH */
                poll.base[r] = poll_ns[0] / (phases * PHASE);
                poll.shift[r] = poll_ns[1] / (phases * PHASE);
                poll.diff[r] = poll.shift[r] - poll.base[r];
            }
        }
    printf("{\"sizeof_record\": %zu, \"max_sge\": %d, \"provider\": \"fakeverbs bench mode\", \"results\": [",
           sizeof(struct shift_wr), SHIFT_MAX_SGE);
    emit("post_send_signaled", 1, &post[LONE], repeats, (long)phases * PHASE, 1);
    emit("post_send_batch8_last_signaled", 8, &post[NCCL], repeats, (long)phases * PHASE, 0);
    emit("post_recv", 1, &post[RECV], repeats, (long)phases * PHASE, 0);
    emit("poll_cq", POLL_BATCH, &poll, repeats, (long)phases * PHASE, 0);
    printf("\n]}\n");
    return 0;
}
