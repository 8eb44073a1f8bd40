/* shift_bench.c -- ns per WR that the WR log adds to post + retire (the fast-path microbenchmark).
 *
 * Why in C: a cffi call costs ~100 ns, so timing the log from Python would measure the binding. Both loops
 * post the same ibv_send_wr / ibv_recv_wr lists to the same stand-in provider (a noinline function that
 * writes a 64-byte WQE per WR into a ring, as a real provider's post_send does, without the MMIO doorbell) and
 * consume one completion per batch; the logged loop adds exactly what the interposer adds: shift_log_*_wr per
 * WR before the post and shift_wrlog_complete per completion. Repeats alternate the two loops; the JSON on
 * stdout has the median ns/WR of each, the median paired difference (added ns) and the ratio, plus the
 * fastest run of each (min), which is the least disturbed by other load on a shared machine.
 *
 * usage: shift_bench [repeats] [wrs_per_repeat]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "shift_ibv_log.h"

struct fake_wqe {
    uint64_t wr_id, raddr, laddr;
    uint32_t rkey, lkey, len, op, flags, imm;
    uint8_t pad[16];
};

#define FAKE_WQ 1024
static struct fake_wqe fake_wq[FAKE_WQ];
static unsigned fake_head;

__attribute__((noinline)) static int fake_post_send(const struct ibv_send_wr *wr)
{
    for (; wr; wr = wr->next) {
        struct fake_wqe *w = &fake_wq[fake_head++ & (FAKE_WQ - 1)];
        w->wr_id = wr->wr_id;
        w->raddr = wr->wr.rdma.remote_addr;
        w->rkey = wr->wr.rdma.rkey;
        w->laddr = wr->sg_list[0].addr;
        w->lkey = wr->sg_list[0].lkey;
        w->len = wr->sg_list[0].length;
        w->op = wr->opcode;
        w->flags = wr->send_flags;
        w->imm = wr->imm_data;
    }
    return 0;
}

__attribute__((noinline)) static int fake_post_recv(const struct ibv_recv_wr *wr)
{
    for (; wr; wr = wr->next) {
        struct fake_wqe *w = &fake_wq[fake_head++ & (FAKE_WQ - 1)];
        w->wr_id = wr->wr_id;
        w->laddr = wr->sg_list[0].addr;
        w->lkey = wr->sg_list[0].lkey;
        w->len = wr->sg_list[0].length;
    }
    return 0;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define MAX_BATCH 16

/* One timed run: n WRs in batches of `batch` (last one signaled); returns ns per WR. */
static double run_send(struct shift_wrlog *log, int batch, long n)
{
    struct ibv_sge sge[MAX_BATCH];
    struct ibv_send_wr wr[MAX_BATCH];
    long i, iters = n / batch;
    int j;
    memset(wr, 0, sizeof(wr));
    for (j = 0; j < batch; j++) {
        sge[j] = (struct ibv_sge){.addr = 0x10000 + 4096u * j, .length = 4096, .lkey = 7};
        wr[j].sg_list = &sge[j];
        wr[j].num_sge = 1;
        wr[j].opcode = j == batch - 1 ? IBV_WR_RDMA_WRITE_WITH_IMM : IBV_WR_RDMA_WRITE;
        wr[j].send_flags = j == batch - 1 ? IBV_SEND_SIGNALED : 0;
        wr[j].wr.rdma.remote_addr = 0x20000 + 4096u * j;
        wr[j].wr.rdma.rkey = 9;
        wr[j].next = j == batch - 1 ? NULL : &wr[j + 1];
    }
    double t0 = now_ns();
    for (i = 0; i < iters; i++) {
        for (j = 0; j < batch; j++)
            wr[j].wr_id = (uint64_t)(i * batch + j);
        if (log) {
            const struct ibv_send_wr *w;
            for (w = wr; w; w = w->next)
                if (shift_log_send_wr(log, w, 0, NULL, 0))
                    abort();
        }
        fake_post_send(wr);
        /* the completion of the batch's signaled WR */
        if (log && shift_wrlog_complete(log, wr[batch - 1].wr_id) != batch)
            abort();
    }
    return (now_ns() - t0) / (double)(iters * batch);
}

static double run_recv(struct shift_wrlog *log, long n)
{
    struct ibv_sge sge = {.addr = 0x30000, .length = 4096, .lkey = 7};
    struct ibv_recv_wr wr = {.sg_list = &sge, .num_sge = 1};
    long i;
    double t0 = now_ns();
    for (i = 0; i < n; i++) {
        wr.wr_id = (uint64_t)i;
        if (log && shift_log_recv_wr(log, &wr))
            abort();
        fake_post_recv(&wr);
        if (log && shift_wrlog_complete(log, (uint64_t)i) != 1)
            abort();
    }
    return (now_ns() - t0) / (double)n;
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

static void report(const char *name, int batch, int repeats, long n, int first, struct shift_wrlog *log)
{
    double base[256], logged[256], diff[256];
    int r;
    for (r = 0; r < repeats; r++) {
        /* alternate the order so drift (frequency, neighbours) hits both loops alike */
        if (r % 2) {
            logged[r] = batch ? run_send(log, batch, n) : run_recv(log, n);
            base[r] = batch ? run_send(NULL, batch, n) : run_recv(NULL, n);
        } else {
            base[r] = batch ? run_send(NULL, batch, n) : run_recv(NULL, n);
            logged[r] = batch ? run_send(log, batch, n) : run_recv(log, n);
        }
        diff[r] = logged[r] - base[r];
    }
    double added = median(diff, repeats), mb = median(base, repeats), ml = median(logged, repeats);
    /* median() sorted the arrays: [0] is the fastest run, the least disturbed by other load */
    printf("%s\n  {\"pattern\": \"%s\", \"batch\": %d, \"repeats\": %d, \"wrs_per_repeat\": %ld, "
           "\"base_ns_per_wr\": %.3f, \"logged_ns_per_wr\": %.3f, \"added_ns_per_wr\": %.3f, \"ratio\": %.4f, "
           "\"base_min_ns_per_wr\": %.3f, \"logged_min_ns_per_wr\": %.3f, \"added_min_ns_per_wr\": %.3f}",
           first ? "" : ",", name, batch, repeats, n, mb, ml, added, ml / mb, base[0], logged[0],
           logged[0] - base[0]);
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 101;
    long n = argc > 2 ? atol(argv[2]) : 200000; /* ~1 ms per run: fits one scheduler slice on a busy host */
    struct shift_wrlog *log = shift_wrlog_create(1024);
    if (repeats < 1 || repeats > 256 || n < MAX_BATCH || !log) {
        fprintf(stderr, "usage: shift_bench [repeats 1..256] [wrs_per_repeat >= %d]\n", MAX_BATCH);
        return 2;
    }
    run_send(log, 1, n / 4); /* warm-up */
    printf("{\"sizeof_record\": %zu, \"max_sge\": %d, \"results\": [", sizeof(struct shift_wr), SHIFT_MAX_SGE);
    report("post_send_signaled", 1, repeats, n, 1, log);
    report("post_send_batch8_last_signaled", 8, repeats, n, 0, log);
    report("post_recv", 0, repeats, n, 0, log);
    printf("\n]}\n");
    shift_wrlog_destroy(log);
    return 0;
}
