/* fake_provider.c -- drive libshift's interposer code against a fake verbs provider (no RDMA hardware needed).
 *
 * Includes csrc/shift_interpose.c, then replaces its resolved libibverbs entry points (`real`) with a fake
 * provider: two devices (fake0 = default, fake1 = backup), objects in plain memory, a send queue that completes
 * signaled WRs unless told to hold them, and injectable error completions. Scenarios (argv[1]):
 *   log       ops swapped; WRs logged; a signaled completion retires the unsignaled WRs before it
 *   failover  an error completion with only WRITEs outstanding: FALLBACK, replay on the backup QP in posting
 *             order with lkey/rkey rewritten, error + flush completions hidden, backup completions returned
 *             under the original QP number, later posts go to the backup QP
 *   unsafe    an error completion with a FETCH_AND_ADD outstanding: FAILED, the error reaches the application
 *   nobackup  no SHIFT_BACKUP_DEVICE: FALLBACK then SECOND_FAILURE -> FAILED, error surfaced
 *   latepeer  the peer publishes its backup attributes after our RTS: the backup QP connects at failover
 *   overflow  more outstanding WRs than the log holds: the QP is un-protected, every WR still reaches the NIC
 *   apperror  a remote-access error (the application's bug, not the path's): surfaced, no failover
 *   porterr   IBV_EVENT_PORT_ERR read by the application: failover before any error completion
 *   twosided  a SEND outstanding and no counter handshake: fail closed (FAILED, error surfaced); with
 *             SHIFT_REPLAY_TWO_SIDED=1 "failover" replays a WRITE_WITH_IMM instead
 * Prints "ok <scenario>" and exits 0, or prints the failed check and exits 1.
 */
#include <infiniband/verbs.h>
#undef ibv_query_port
#define ibv_query_port fake_query_port
#define ibv_get_device_guid fake_get_device_guid
struct ibv_port_attr;
static int fake_query_port(struct ibv_context *ctx, uint8_t port, struct ibv_port_attr *attr);
static __be64 fake_get_device_guid(struct ibv_device *dev);

#include "shift_interpose.c"

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond);                                                   \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

#define MAXW 64
struct fq {
    struct ibv_qp qp;
    int hold; /* do not complete signaled WRs (they stay outstanding) */
    int nsent, nrecv;
    struct ibv_send_wr sent[MAXW];
    struct ibv_sge sge[MAXW];
    uint64_t recv_ids[MAXW];
    int last_state;
    uint32_t dest_qp;
};
struct fcq {
    struct ibv_cq cq;
    struct ibv_wc q[256];
    int head, tail;
};

static struct ibv_device devs[2];
static struct ibv_device *dev_list[3] = {&devs[0], &devs[1], NULL};
static uint32_t next_key = 100, next_qpn = 1000;

static int dev_index(struct ibv_context *ctx) { return ctx->device == &devs[1]; }
static int fake_query_port(struct ibv_context *ctx, uint8_t port, struct ibv_port_attr *attr)
{
    (void)port;
    memset(attr, 0, sizeof(*attr));
    attr->lid = (uint16_t)(10 + dev_index(ctx));
    return 0;
}
static __be64 fake_get_device_guid(struct ibv_device *dev) { return htobe64(dev == &devs[1] ? 0xB1 : 0xA0); }
static int f_query_gid(struct ibv_context *ctx, uint8_t port, int index, union ibv_gid *gid)
{
    (void)port;
    memset(gid, 0, sizeof(*gid));
    gid->raw[0] = 0xfe;
    gid->raw[15] = (uint8_t)(0x10 * (dev_index(ctx) + 1) + index);
    return 0;
}

static void push(struct ibv_cq *cq, uint64_t wr_id, enum ibv_wc_status st, enum ibv_wc_opcode op, uint32_t qpn)
{
    struct fcq *f = (struct fcq *)cq;
    struct ibv_wc *wc = &f->q[f->tail++ & 255];
    memset(wc, 0, sizeof(*wc));
    wc->wr_id = wr_id;
    wc->status = st;
    wc->opcode = op;
    wc->qp_num = qpn;
}

static int f_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
    struct fq *f = (struct fq *)qp;
    (void)bad;
    for (; wr; wr = wr->next) {
        f->sent[f->nsent] = *wr;
        f->sge[f->nsent] = wr->sg_list[0];
        f->sent[f->nsent].sg_list = &f->sge[f->nsent];
        f->nsent++;
        if (!f->hold && (wr->send_flags & IBV_SEND_SIGNALED))
            push(qp->send_cq, wr->wr_id, IBV_WC_SUCCESS, IBV_WC_RDMA_WRITE, qp->qp_num);
    }
    return 0;
}
static int f_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
    struct fq *f = (struct fq *)qp;
    (void)bad;
    for (; wr; wr = wr->next)
        f->recv_ids[f->nrecv++] = wr->wr_id;
    return 0;
}
static int f_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
    struct fcq *f = (struct fcq *)cq;
    int got = 0;
    while (got < n && f->head != f->tail)
        wc[got++] = f->q[f->head++ & 255];
    return got;
}

static struct ibv_device **f_get_device_list(int *n)
{
    *n = 2;
    return dev_list;
}
static void f_free_device_list(struct ibv_device **l) { (void)l; }
static struct ibv_context *f_open_device(struct ibv_device *dev)
{
    struct ibv_context *ctx = calloc(1, sizeof(*ctx));
    ctx->device = dev;
    ctx->ops.post_send = f_post_send;
    ctx->ops.post_recv = f_post_recv;
    ctx->ops.poll_cq = f_poll_cq;
    return ctx;
}
static int f_close_device(struct ibv_context *ctx)
{
    free(ctx);
    return 0;
}
static struct ibv_pd *f_alloc_pd(struct ibv_context *ctx)
{
    struct ibv_pd *pd = calloc(1, sizeof(*pd));
    pd->context = ctx;
    return pd;
}
static int f_dealloc_pd(struct ibv_pd *pd)
{
    free(pd);
    return 0;
}
static struct ibv_mr *f_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t len, uint64_t iova, unsigned access)
{
    struct ibv_mr *mr = calloc(1, sizeof(*mr));
    (void)iova;
    (void)access;
    mr->context = pd->context;
    mr->pd = pd;
    mr->addr = addr;
    mr->length = len;
    mr->lkey = next_key++;
    mr->rkey = next_key++;
    return mr;
}
static struct ibv_mr *f_reg_mr(struct ibv_pd *pd, void *addr, size_t len, int access)
{
    return f_reg_mr_iova2(pd, addr, len, (uintptr_t)addr, (unsigned)access);
}
static int f_dereg_mr(struct ibv_mr *mr)
{
    free(mr);
    return 0;
}
static struct ibv_cq *f_create_cq(struct ibv_context *ctx, int cqe, void *cq_ctx, struct ibv_comp_channel *ch, int v)
{
    struct fcq *f = calloc(1, sizeof(*f));
    (void)cqe, (void)cq_ctx, (void)ch, (void)v;
    f->cq.context = ctx;
    return &f->cq;
}
static int f_destroy_cq(struct ibv_cq *cq)
{
    free(cq);
    return 0;
}
static struct ibv_qp *f_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *a)
{
    struct fq *f = calloc(1, sizeof(*f));
    f->qp.context = pd->context;
    f->qp.pd = pd;
    f->qp.send_cq = a->send_cq;
    f->qp.recv_cq = a->recv_cq;
    f->qp.qp_type = a->qp_type;
    f->qp.qp_num = next_qpn++;
    return &f->qp;
}
static int f_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *a, int mask)
{
    struct fq *f = (struct fq *)qp;
    if (mask & IBV_QP_STATE)
        f->last_state = a->qp_state;
    if (mask & IBV_QP_DEST_QPN)
        f->dest_qp = a->dest_qp_num;
    return 0;
}
static int f_destroy_qp(struct ibv_qp *qp)
{
    free(qp);
    return 0;
}

static int port_err_pending;
static int f_get_async_event(struct ibv_context *ctx, struct ibv_async_event *ev)
{
    (void)ctx;
    if (!port_err_pending)
        return -1;
    port_err_pending = 0;
    memset(ev, 0, sizeof(*ev));
    ev->event_type = IBV_EVENT_PORT_ERR;
    ev->element.port_num = 1;
    return 0;
}

static void use_fake_provider(void)
{
    CHECK(ready());
    snprintf(devs[0].name, sizeof(devs[0].name), "fake0");
    snprintf(devs[1].name, sizeof(devs[1].name), "fake1");
    real.get_device_list = f_get_device_list;
    real.free_device_list = f_free_device_list;
    real.open_device = f_open_device;
    real.close_device = f_close_device;
    real.alloc_pd = f_alloc_pd;
    real.dealloc_pd = f_dealloc_pd;
    real.reg_mr = f_reg_mr;
    real.reg_mr_iova2 = f_reg_mr_iova2;
    real.dereg_mr = f_dereg_mr;
    real.create_cq = f_create_cq;
    real.destroy_cq = f_destroy_cq;
    real.create_qp = f_create_qp;
    real.modify_qp = f_modify_qp;
    real.destroy_qp = f_destroy_qp;
    real.query_gid = f_query_gid;
    real.get_async_event = f_get_async_event;
}

/* one connected RC QP on fake0, its peer's backup attributes published in the KV store */
static char buf[4096];
static struct ibv_context *ctx;
static struct ibv_cq *cq;
static struct ibv_qp *qp;
static struct ibv_mr *mr;
static const uint32_t PEER_QPN = 4242, PEER_RKEY = 555, PEER_BACKUP_RKEY = 777, PEER_BACKUP_QPN = 77;

static void publish_peer(void)
{
    union ibv_gid peer = {.raw = {0xfe, [15] = 0x99}};
    char key[128], val[128], peer_s[40];
    gid_str(&peer, peer_s, sizeof(peer_s));
    snprintf(key, sizeof(key), "qp:%s:%u", peer_s, PEER_QPN);
    snprintf(val, sizeof(val), "fe000000000000000000000000000098 %u 0 00000000000000cc", PEER_BACKUP_QPN);
    CHECK(shift_kv_put(&cfg.kv, key, val) == 0);
    snprintf(val, sizeof(val), "%u", PEER_BACKUP_RKEY);
    snprintf(key, sizeof(key), "mr:00000000000000cc:%u", PEER_RKEY);
    CHECK(shift_kv_put(&cfg.kv, key, val) == 0);
}

static void setup(int peer_first)
{
    int n;
    struct ibv_device **l = ibv_get_device_list(&n);
    struct ibv_pd *pd;
    struct ibv_qp_init_attr ia = {.qp_type = IBV_QPT_RC, .cap = {.max_send_wr = 8, .max_recv_wr = 8,
                                                                .max_send_sge = 1, .max_recv_sge = 1}};
    struct ibv_qp_attr a;
    union ibv_gid peer = {.raw = {0xfe, [15] = 0x99}};
    CHECK(l && n == 2);
    CHECK((ctx = ibv_open_device(l[0])));
    CHECK((void *)ctx->ops.post_send == (void *)shift_post_send && (void *)ctx->ops.poll_cq == (void *)shift_poll_cq);
    CHECK((pd = ibv_alloc_pd(ctx)) && (mr = ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE)));
    CHECK((cq = ibv_create_cq(ctx, 64, NULL, NULL, 0)));
    ia.send_cq = ia.recv_cq = cq;
    CHECK((qp = ibv_create_qp(pd, &ia)));
    if (peer_first)
        publish_peer(); /* the peer (virtual): its backup QP and MR key, as its libshift would publish them */
    memset(&a, 0, sizeof(a));
    a.qp_state = IBV_QPS_INIT;
    a.port_num = 1;
    CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PORT) == 0);
    a.qp_state = IBV_QPS_RTR;
    a.dest_qp_num = PEER_QPN;
    a.ah_attr.is_global = 1;
    a.ah_attr.port_num = 1;
    a.ah_attr.grh.dgid = peer;
    CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_DEST_QPN) == 0);
    a.qp_state = IBV_QPS_RTS;
    CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE) == 0);
}

static void post(uint64_t id, enum ibv_wr_opcode op, int signaled)
{
    struct ibv_sge sge = {.addr = (uintptr_t)buf + id, .length = 8, .lkey = mr->lkey};
    struct ibv_send_wr wr = {.wr_id = id, .sg_list = &sge, .num_sge = 1, .opcode = op,
                             .send_flags = signaled ? IBV_SEND_SIGNALED : 0}, *bad;
    if (op == IBV_WR_ATOMIC_FETCH_AND_ADD) {
        wr.wr.atomic.remote_addr = 0x5000;
        wr.wr.atomic.rkey = PEER_RKEY;
        wr.wr.atomic.compare_add = 1;
    } else {
        wr.wr.rdma.remote_addr = 0x5000 + id;
        wr.wr.rdma.rkey = PEER_RKEY;
    }
    CHECK(ibv_post_send(qp, &wr, &bad) == 0);
}

static struct shift_qp *Q(void) { return qp_of(qp); }

/* the held WRs fail: the first with RETRY_EXC_ERR, the rest flushed (what an RC QP in error reports) */
static void fail_outstanding(void)
{
    struct fq *f = (struct fq *)qp;
    for (int i = 0; i < f->nsent; i++)
        push(cq, f->sent[i].wr_id, i == 0 ? IBV_WC_RETRY_EXC_ERR : IBV_WC_WR_FLUSH_ERR, IBV_WC_RDMA_WRITE,
             qp->qp_num);
}

int main(int argc, char **argv)
{
    const char *s = argc > 1 ? argv[1] : "";
    struct ibv_wc wc[8];
    use_fake_provider();
    setup(strcmp(s, "latepeer") != 0);
    CHECK(Q() && Q()->protected);
    if (!strcmp(s, "log")) {
        post(1, IBV_WR_RDMA_WRITE, 0);
        post(2, IBV_WR_RDMA_WRITE, 0);
        post(3, IBV_WR_RDMA_WRITE, 1);
        post(4, IBV_WR_RDMA_WRITE, 0);
        CHECK(shift_wrlog_outstanding(Q()->core.sq) == 4);
        CHECK(ibv_poll_cq(cq, 8, wc) == 1 && wc[0].wr_id == 3 && wc[0].status == IBV_WC_SUCCESS);
        CHECK(shift_wrlog_outstanding(Q()->core.sq) == 1 && shift_wrlog_retired(Q()->core.sq) == 3);
        CHECK(Q()->bqp && ((struct fq *)Q()->bqp)->last_state == IBV_QPS_RTS);
        CHECK(((struct fq *)Q()->bqp)->dest_qp == PEER_BACKUP_QPN); /* connected at RTR from the KV store */
    } else if (!strcmp(s, "failover") || !strcmp(s, "latepeer")) {
        struct fq *f = (struct fq *)qp;
        struct ibv_sge rsge = {.addr = (uintptr_t)buf, .length = 64, .lkey = mr->lkey};
        struct ibv_recv_wr rwr = {.wr_id = 9, .sg_list = &rsge, .num_sge = 1}, *rbad;
        CHECK(ibv_post_recv(qp, &rwr, &rbad) == 0);
        if (!strcmp(s, "latepeer")) {
            CHECK(((struct fq *)Q()->bqp)->last_state == IBV_QPS_INIT); /* peer unknown at RTR: not connected */
            publish_peer();
        }
        f->hold = 1;
        post(1, IBV_WR_RDMA_WRITE, 0);
        post(2, IBV_WR_RDMA_WRITE, 0);
        post(3, getenv("SHIFT_REPLAY_TWO_SIDED") ? IBV_WR_RDMA_WRITE_WITH_IMM : IBV_WR_RDMA_WRITE, 1);
        fail_outstanding();
        /* error + two flushes are hidden; the replayed signaled WR completes on the backup, under our QPN */
        int got = ibv_poll_cq(cq, 8, wc);
        CHECK(Q()->core.sq_state == SHIFT_SQ_FALLBACK && Q()->failed_over);
        CHECK(got == 1 && wc[0].wr_id == 3 && wc[0].status == IBV_WC_SUCCESS && wc[0].qp_num == qp->qp_num);
        struct fq *b = (struct fq *)Q()->bqp;
        CHECK(b->last_state == IBV_QPS_RTS && b->dest_qp == PEER_BACKUP_QPN);
        CHECK(b->nrecv == 1 && b->recv_ids[0] == 9); /* the outstanding RECV reposted on the backup */
        CHECK(Q()->core.rq_state == SHIFT_RQ_FALLBACK);
        CHECK(b->nsent == 3);
        for (int i = 0; i < 3; i++) {
            CHECK(b->sent[i].wr_id == (uint64_t)(i + 1));                  /* posting order */
            CHECK(b->sent[i].wr.rdma.rkey == PEER_BACKUP_RKEY);            /* peer's rkey rewritten */
            CHECK(b->sent[i].sg_list[0].lkey != mr->lkey);                 /* local lkey -> backup MR */
            CHECK(b->sent[i].sg_list[0].lkey == ((struct ibv_mr *)pmap_get(&shadow, PKEY(mr)))->lkey);
        }
        CHECK(shift_wrlog_outstanding(Q()->core.sq) == 0);
        post(5, IBV_WR_RDMA_WRITE, 1); /* after failover: to the backup QP */
        CHECK(b->nsent == 4 && f->nsent == 3);
        CHECK(ibv_poll_cq(cq, 8, wc) == 1 && wc[0].wr_id == 5 && wc[0].qp_num == qp->qp_num);
    } else if (!strcmp(s, "unsafe")) {
        ((struct fq *)qp)->hold = 1;
        post(1, IBV_WR_RDMA_WRITE, 0);
        post(2, IBV_WR_ATOMIC_FETCH_AND_ADD, 1);
        fail_outstanding();
        CHECK(ibv_poll_cq(cq, 8, wc) == 2 && wc[0].status == IBV_WC_RETRY_EXC_ERR);
        CHECK(Q()->core.sq_state == SHIFT_SQ_FAILED && Q()->core.rq_state == SHIFT_RQ_FAILED && !Q()->failed_over);
        CHECK(((struct fq *)Q()->bqp)->nsent == 0); /* nothing replayed */
    } else if (!strcmp(s, "overflow")) {
        uint64_t cap = shift_wrlog_capacity(Q()->core.sq);
        ((struct fq *)qp)->hold = 1;
        for (uint64_t i = 0; i <= cap; i++)
            post(i, IBV_WR_RDMA_WRITE, 0);
        CHECK(!Q()->protected && ((struct fq *)qp)->nsent == (int)cap + 1);
    } else if (!strcmp(s, "apperror")) {
        ((struct fq *)qp)->hold = 1;
        post(1, IBV_WR_RDMA_WRITE, 1);
        push(cq, 1, IBV_WC_REM_ACCESS_ERR, IBV_WC_RDMA_WRITE, qp->qp_num);
        CHECK(ibv_poll_cq(cq, 8, wc) == 1 && wc[0].status == IBV_WC_REM_ACCESS_ERR);
        CHECK(Q()->core.sq_state == SHIFT_SQ_FAILED && ((struct fq *)Q()->bqp)->nsent == 0);
    } else if (!strcmp(s, "porterr")) {
        struct ibv_async_event ev;
        ((struct fq *)qp)->hold = 1;
        post(1, IBV_WR_RDMA_WRITE, 0);
        post(2, IBV_WR_RDMA_WRITE, 1);
        port_err_pending = 1;
        CHECK(ibv_get_async_event(ctx, &ev) == 0 && ev.event_type == IBV_EVENT_PORT_ERR); /* app still sees it */
        CHECK(Q()->failed_over && ((struct fq *)Q()->bqp)->nsent == 2);
        fail_outstanding(); /* the default QP's later errors are hidden; the backup's completion is returned */
        CHECK(ibv_poll_cq(cq, 8, wc) == 1 && wc[0].wr_id == 2 && wc[0].status == IBV_WC_SUCCESS);
    } else if (!strcmp(s, "twosided")) {
        ((struct fq *)qp)->hold = 1;
        post(1, IBV_WR_RDMA_WRITE, 0);
        post(2, IBV_WR_SEND, 1);
        fail_outstanding();
        CHECK(ibv_poll_cq(cq, 8, wc) == 2 && wc[0].status == IBV_WC_RETRY_EXC_ERR);
        CHECK(Q()->core.sq_state == SHIFT_SQ_FAILED && ((struct fq *)Q()->bqp)->nsent == 0);
    } else if (!strcmp(s, "nobackup")) {
        CHECK(!Q()->bqp);
        ((struct fq *)qp)->hold = 1;
        post(1, IBV_WR_RDMA_WRITE, 1);
        fail_outstanding();
        CHECK(ibv_poll_cq(cq, 8, wc) == 1 && wc[0].status == IBV_WC_RETRY_EXC_ERR);
        CHECK(Q()->core.sq_state == SHIFT_SQ_FAILED);
    } else {
        printf("usage: fake_provider log|failover|unsafe|nobackup|latepeer|overflow|apperror|porterr|twosided\n");
        return 2;
    }
    if (Q()->my_key[0]) { /* published at RTR, removed at destroy: a later run must not read it */
        char key[160], val[256];
        snprintf(key, sizeof(key), "%s", Q()->my_key);
        CHECK(shift_kv_get(&cfg.kv, key, val, sizeof(val), 0) == 0);
        CHECK(ibv_destroy_qp(qp) == 0 && !qp_of(qp));
        CHECK(shift_kv_get(&cfg.kv, key, val, sizeof(val), 0) == -1);
    } else {
        CHECK(ibv_destroy_qp(qp) == 0 && !qp_of(qp));
    }
    printf("ok %s\n", s);
    return 0;
}
