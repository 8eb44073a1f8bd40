/* fakeverbs.c -- a fake libibverbs: an in-memory RC fabric behind the verbs API (tests and the benchmark).
 *
 * Why: this machine has no RDMA, and libshift must be tested as it is deployed -- a preloaded libshift.so
 * under a program that talks to "libibverbs.so.1" -- including dlopen/dlsym users and the extended posting API.
 * Built as csrc/fakeverbs/libibverbs.so.1 with the real library's symbol versions (fakeverbs.map), so any
 * program linked with -libverbs runs on it under LD_LIBRARY_PATH=csrc/fakeverbs.
 *
 * Model (see fakeverbs.h for the fault API): devices pair into links by name; every QP connected to a QP on
 * the other end of its link. A "wire" thread executes send queues in order, one WQE at a time, under one
 * fabric mutex: PSNs (a retransmitted request the responder already executed is acknowledged, not executed
 * again -- RC duplicate detection; a READ is re-executed; a PSN ahead of the expected one is NAKed and resent,
 * never executed), rkey/lkey checks against registered MRs,
 * the responder QP's access flags, receive-WQE consumption for SEND / WRITE_WITH_IMM (RNR: retried forever), retries every
 * FAKEVERBS_ATTEMPT_US (default 1000) up to retry_cnt+1 attempts (retry_cnt 7 retries forever, as rxe does),
 * then RETRY_EXC_ERR; a QP in error flushes every outstanding WQE (FLUSH_ERR, signaled or not, as rxe does).
 * RESET->RTR while the port is down fails with ENETUNREACH (RoCE resolves the route there).
 * FAKEVERBS_BENCH=1: no wire thread and no locks; post_send writes one 64-byte WQE per WR and completes
 * signaled WRs at once, as a stand-in provider for timing libshift's data path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fakeverbs.h"

#define EXPORT __attribute__((visibility("default")))
#define MAXDEV 8
#define MAXSGE 16

struct fdev {
    struct ibv_device dev;
    int idx;
    char link;
    int port_up;
    uint64_t guid;
    uint16_t lid;
};

struct fevent {
    enum ibv_event_type type;
    int port;
};

struct fctx {
    struct fdev *d;
    struct fevent ev[64];
    unsigned ev_head, ev_tail;
    int evpipe[2];
    struct fctx *next;
    struct verbs_context vctx; /* ends with struct ibv_context: must be last */
};

struct fmr {
    struct ibv_mr mr;
    unsigned access;
    struct fmr *next;
};

struct fchan {
    struct ibv_comp_channel ch;
    int pipe[2];
    struct fcq *queue[256];
    unsigned head, tail;
};

struct fcq {
    struct ibv_cq cq;
    struct ibv_wc *ring;
    unsigned head, tail, cap;
    struct fchan *chan;
    int armed;
};

struct fwqe {
    uint64_t wr_id;
    int opcode;
    int signaled;
    uint32_t imm;
    uint64_t raddr;
    uint32_t rkey;
    uint64_t cmp, swp;
    int nsge;
    struct ibv_sge sge[MAXSGE];
    uint32_t inl_len;
    int inline_data;
    uint32_t psn;
    int attempts;
    uint64_t atomic_orig;
    int atomic_done;
    uint8_t inl[256]; /* last: fill_wqe clears everything before it */
};

struct frwqe {
    uint64_t wr_id;
    int nsge;
    struct ibv_sge sge[MAXSGE];
};

struct fqp {
    struct ibv_qp_ex qpx; /* qp_base first: the application's struct ibv_qp */
    struct fctx *fc;
    int ex;
    int sig_all;
    struct ibv_qp_cap cap;
    uint8_t timeout, retry_cnt;
    unsigned access; /* qp_access_flags: what remote peers may do through this QP */
    uint32_t dest_qpn;
    union ibv_gid dgid;
    uint16_t dlid;
    uint32_t sq_psn, epsn;
    struct fwqe *sq;
    unsigned sq_head, sq_tail; /* ring of cap.max_send_wr entries */
    struct frwqe *rq;
    unsigned rq_head, rq_tail;
    uint64_t next_attempt_us;
    struct fwqe batch[64];
    int nbatch, batch_err;
    uint8_t bench_wqe[64 * 64];
    unsigned bench_head;
    struct fqp *next;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fdev devs[MAXDEV];
    struct ibv_device *list[MAXDEV + 1];
    int ndev;
    struct fctx *ctxs;
    struct fqp *qps;
    struct fmr *mrs;
    int fault[128];
    struct fakeverbs_stats stats;
    uint32_t next_qpn, next_key;
    int bench;
    int attempt_us;
    int wire_started;
    pthread_t wire;
} F = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .next_qpn = 0x100, .next_key = 0x1000};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void lock(void)
{
    if (!F.bench)
        pthread_mutex_lock(&F.mu);
}
static void unlock(void)
{
    if (!F.bench)
        pthread_mutex_unlock(&F.mu);
}

static void init_devices(void)
{
    const char *spec = getenv("FAKEVERBS_DEVICES");
    char buf[256], *save = NULL, *tok;
    snprintf(buf, sizeof(buf), "%s", spec && *spec ? spec : "fake_p0,fake_b0,fake_p1,fake_b1");
    F.bench = getenv("FAKEVERBS_BENCH") && atoi(getenv("FAKEVERBS_BENCH"));
    F.attempt_us = getenv("FAKEVERBS_ATTEMPT_US") ? atoi(getenv("FAKEVERBS_ATTEMPT_US")) : 1000;
    for (tok = strtok_r(buf, ",", &save); tok && F.ndev < MAXDEV; tok = strtok_r(NULL, ",", &save)) {
        struct fdev *d = &F.devs[F.ndev];
        snprintf(d->dev.name, sizeof(d->dev.name), "%s", tok);
        snprintf(d->dev.dev_name, sizeof(d->dev.dev_name), "uverbs%d", F.ndev);
        d->dev.node_type = IBV_NODE_CA;
        d->dev.transport_type = IBV_TRANSPORT_IB;
        d->idx = F.ndev;
        d->link = strlen(tok) > 5 ? tok[5] : 'x';
        d->port_up = 1;
        d->guid = 0x0200000000000000ull | (uint64_t)(F.ndev + 1);
        d->lid = (uint16_t)(F.ndev + 1);
        F.list[F.ndev] = &d->dev;
        F.ndev++;
    }
    F.list[F.ndev] = NULL;
}

static void init(void) { init_devices(); }

static struct fdev *dev_of(struct ibv_device *dev) { return (struct fdev *)dev; }
static struct fctx *fctx_of(struct ibv_context *ctx)
{
    return (struct fctx *)((char *)ctx - offsetof(struct fctx, vctx) - offsetof(struct verbs_context, context));
}
static struct fdev *dev_ctx(struct ibv_context *ctx) { return fctx_of(ctx)->d; }

/* GID 0: link-local fe80::<dev>; GID 1: IPv4-mapped ::ffff:10.<link>.0.<dev> (as rxe's index 1) */
static void make_gid(const struct fdev *d, int index, union ibv_gid *gid)
{
    memset(gid, 0, sizeof(*gid));
    if (index == 0) {
        gid->raw[0] = 0xfe;
        gid->raw[1] = 0x80;
        gid->raw[15] = (uint8_t)(d->idx + 1);
    } else {
        gid->raw[10] = gid->raw[11] = 0xff;
        gid->raw[12] = 10;
        gid->raw[13] = (uint8_t)d->link;
        gid->raw[15] = (uint8_t)(d->idx + 1);
    }
}

/* ---------------------------------------------------------------- devices and contexts */

EXPORT struct ibv_device **ibv_get_device_list(int *num)
{
    pthread_once(&once, init);
    if (num)
        *num = F.ndev;
    return F.list;
}
EXPORT void ibv_free_device_list(struct ibv_device **list) { (void)list; }
EXPORT const char *ibv_get_device_name(struct ibv_device *dev) { return dev->name; }
EXPORT __be64 ibv_get_device_guid(struct ibv_device *dev) { return htobe64(dev_of(dev)->guid); }

static int f_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc);
static int f_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad);
static int f_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad);
static int f_req_notify(struct ibv_cq *cq, int solicited)
{
    (void)solicited;
    lock();
    ((struct fcq *)cq)->armed = 1;
    unlock();
    return 0;
}
static int f_query_port(struct ibv_context *ctx, uint8_t port, struct ibv_port_attr *attr, size_t len);
static struct ibv_qp *f_create_qp_ex(struct ibv_context *ctx, struct ibv_qp_init_attr_ex *attr);
static void *wire(void *unused);

EXPORT struct ibv_context *ibv_open_device(struct ibv_device *dev)
{
    struct fctx *fc = calloc(1, sizeof(*fc));
    struct ibv_context *ctx;
    if (!fc)
        return NULL;
    pthread_once(&once, init);
    fc->d = dev_of(dev);
    if (pipe(fc->evpipe)) {
        free(fc);
        return NULL;
    }
    ctx = &fc->vctx.context;
    ctx->device = dev;
    ctx->async_fd = fc->evpipe[0];
    ctx->cmd_fd = -1;
    ctx->num_comp_vectors = 1;
    ctx->abi_compat = __VERBS_ABI_IS_EXTENDED;
    pthread_mutex_init(&ctx->mutex, NULL);
    ctx->ops.poll_cq = f_poll_cq;
    ctx->ops.post_send = f_post_send;
    ctx->ops.post_recv = f_post_recv;
    ctx->ops.req_notify_cq = f_req_notify;
    fc->vctx.sz = sizeof(struct verbs_context);
    fc->vctx.query_port = f_query_port;
    fc->vctx.create_qp_ex = f_create_qp_ex;
    lock();
    fc->next = F.ctxs;
    F.ctxs = fc;
    if (!F.bench && !F.wire_started) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&F.wire, &a, wire, NULL) == 0)
            F.wire_started = 1;
        pthread_attr_destroy(&a);
    }
    unlock();
    return ctx;
}

EXPORT int ibv_close_device(struct ibv_context *ctx)
{
    struct fctx *fc = fctx_of(ctx), **p;
    lock();
    for (p = &F.ctxs; *p; p = &(*p)->next)
        if (*p == fc) {
            *p = fc->next;
            break;
        }
    unlock();
    close(fc->evpipe[0]);
    close(fc->evpipe[1]);
    free(fc);
    return 0;
}

static int f_query_port(struct ibv_context *ctx, uint8_t port, struct ibv_port_attr *attr, size_t len)
{
    struct fdev *d = dev_ctx(ctx);
    (void)len;
    if (port != 1)
        return EINVAL;
    memset(attr, 0, sizeof(*attr));
    lock();
    attr->state = d->port_up ? IBV_PORT_ACTIVE : IBV_PORT_DOWN;
    unlock();
    attr->max_mtu = attr->active_mtu = IBV_MTU_4096;
    attr->gid_tbl_len = 2;
    attr->lid = d->lid;
    attr->link_layer = IBV_LINK_LAYER_ETHERNET;
    attr->phys_state = d->port_up ? 5 : 3;
    return 0;
}

/* the exported (compat) entry point; <infiniband/verbs.h> calls verbs_context.query_port instead */
#undef ibv_query_port
EXPORT int ibv_query_port(struct ibv_context *ctx, uint8_t port, struct _compat_ibv_port_attr *attr)
{
    return f_query_port(ctx, port, (struct ibv_port_attr *)attr, sizeof(struct ibv_port_attr));
}

EXPORT int ibv_query_gid(struct ibv_context *ctx, uint8_t port, int index, union ibv_gid *gid)
{
    if (port != 1 || index < 0 || index > 1)
        return -1;
    make_gid(dev_ctx(ctx), index, gid);
    return 0;
}

EXPORT int ibv_query_device(struct ibv_context *ctx, struct ibv_device_attr *attr)
{
    memset(attr, 0, sizeof(*attr));
    attr->node_guid = htobe64(dev_ctx(ctx)->guid);
    attr->max_qp = 1 << 16;
    attr->max_qp_wr = 4096;
    attr->max_sge = MAXSGE;
    attr->max_cq = 1 << 16;
    attr->max_cqe = 1 << 20;
    attr->max_mr = 1 << 16;
    attr->max_pd = 1 << 16;
    attr->max_qp_rd_atom = attr->max_qp_init_rd_atom = 16;
    attr->phys_port_cnt = 1;
    attr->atomic_cap = IBV_ATOMIC_HCA;
    return 0;
}

EXPORT int ibv_get_async_event(struct ibv_context *ctx, struct ibv_async_event *event)
{
    struct fctx *fc = fctx_of(ctx);
    char c;
    if (read(fc->evpipe[0], &c, 1) != 1)
        return -1;
    lock();
    memset(event, 0, sizeof(*event));
    event->event_type = fc->ev[fc->ev_head % 64].type;
    event->element.port_num = fc->ev[fc->ev_head % 64].port;
    fc->ev_head++;
    unlock();
    return 0;
}
EXPORT void ibv_ack_async_event(struct ibv_async_event *event) { (void)event; }

EXPORT const char *ibv_wc_status_str(enum ibv_wc_status status)
{
    static const char *const s[] = {"success", "local length error", "local QP operation error",
                                    "local EE context operation error", "local protection error",
                                    "Work Request Flushed Error", "memory management operation error",
                                    "bad response error", "local access error", "remote invalid request error",
                                    "remote access error", "remote operation error",
                                    "transport retry counter exceeded", "RNR retry counter exceeded"};
    return (unsigned)status < sizeof(s) / sizeof(s[0]) ? s[status] : "unknown";
}
EXPORT const char *ibv_event_type_str(enum ibv_event_type e)
{
    return e == IBV_EVENT_PORT_ERR ? "port error" : e == IBV_EVENT_PORT_ACTIVE ? "port active" : "event";
}
EXPORT int ibv_fork_init(void) { return 0; }

/* ---------------------------------------------------------------- PD, MR, CQ */

EXPORT struct ibv_pd *ibv_alloc_pd(struct ibv_context *ctx)
{
    struct ibv_pd *pd = calloc(1, sizeof(*pd));
    if (pd) {
        pd->context = ctx;
        pd->handle = 1;
    }
    return pd;
}
EXPORT int ibv_dealloc_pd(struct ibv_pd *pd)
{
    free(pd);
    return 0;
}

EXPORT struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length, uint64_t iova,
                                       unsigned int access)
{
    struct fmr *m = calloc(1, sizeof(*m));
    (void)iova;
    if (!m)
        return NULL;
    m->mr.context = pd->context;
    m->mr.pd = pd;
    m->mr.addr = addr;
    m->mr.length = length;
    m->access = access;
    lock();
    m->mr.lkey = F.next_key++;
    m->mr.rkey = F.next_key++;
    m->next = F.mrs;
    F.mrs = m;
    unlock();
    return &m->mr;
}
#undef ibv_reg_mr
#undef ibv_reg_mr_iova
EXPORT struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access)
{
    return ibv_reg_mr_iova2(pd, addr, length, (uintptr_t)addr, (unsigned)access);
}
EXPORT struct ibv_mr *ibv_reg_mr_iova(struct ibv_pd *pd, void *addr, size_t length, uint64_t iova, int access)
{
    return ibv_reg_mr_iova2(pd, addr, length, iova, (unsigned)access);
}
EXPORT int ibv_dereg_mr(struct ibv_mr *mr)
{
    struct fmr **p;
    lock();
    for (p = &F.mrs; *p; p = &(*p)->next)
        if (&(*p)->mr == mr) {
            struct fmr *m = *p;
            *p = m->next;
            free(m);
            break;
        }
    unlock();
    return 0;
}

/* an MR of device d with key (lkey or rkey) covering [addr, addr+len) and granting `need` */
static struct fmr *find_mr(const struct fdev *d, uint32_t key, int remote, uint64_t addr, uint64_t len,
                           unsigned need)
{
    for (struct fmr *m = F.mrs; m; m = m->next) {
        if (dev_ctx(m->mr.context) != d || (remote ? m->mr.rkey : m->mr.lkey) != key)
            continue;
        if (addr < (uintptr_t)m->mr.addr || addr + len > (uintptr_t)m->mr.addr + m->mr.length)
            return NULL;
        return (m->access & need) == need ? m : NULL;
    }
    return NULL;
}

EXPORT struct ibv_cq *ibv_create_cq(struct ibv_context *ctx, int cqe, void *cq_context,
                                    struct ibv_comp_channel *channel, int comp_vector)
{
    struct fcq *c = calloc(1, sizeof(*c));
    (void)channel, (void)comp_vector;
    if (!c)
        return NULL;
    c->cap = (unsigned)(cqe < 16 ? 16 : cqe) * 4;
    c->ring = calloc(c->cap, sizeof(*c->ring));
    if (!c->ring) {
        free(c);
        return NULL;
    }
    c->cq.context = ctx;
    c->cq.cq_context = cq_context;
    c->cq.cqe = cqe;
    c->cq.channel = channel;
    c->chan = (struct fchan *)channel;
    return &c->cq;
}

/* completion channels: an armed CQ's next completion queues one event and writes a byte to the channel's pipe */
EXPORT struct ibv_comp_channel *ibv_create_comp_channel(struct ibv_context *ctx)
{
    struct fchan *c = calloc(1, sizeof(*c));
    if (!c || pipe(c->pipe)) {
        free(c);
        return NULL;
    }
    c->ch.context = ctx;
    c->ch.fd = c->pipe[0];
    return &c->ch;
}
EXPORT int ibv_destroy_comp_channel(struct ibv_comp_channel *ch)
{
    struct fchan *c = (struct fchan *)ch;
    close(c->pipe[0]);
    close(c->pipe[1]);
    free(c);
    return 0;
}
EXPORT int ibv_get_cq_event(struct ibv_comp_channel *ch, struct ibv_cq **cq, void **cq_context)
{
    struct fchan *c = (struct fchan *)ch;
    char b;
    if (read(c->pipe[0], &b, 1) != 1)
        return -1;
    lock();
    *cq = &c->queue[c->head++ % 256]->cq;
    unlock();
    *cq_context = (*cq)->cq_context;
    return 0;
}
EXPORT void ibv_ack_cq_events(struct ibv_cq *cq, unsigned int n) { (void)cq, (void)n; }
EXPORT int ibv_destroy_cq(struct ibv_cq *cq)
{
    struct fcq *c = (struct fcq *)cq;
    free(c->ring);
    free(c);
    return 0;
}

static void push_wc(struct ibv_cq *cq, const struct ibv_wc *wc)
{
    struct fcq *c = (struct fcq *)cq;
    if (c->tail - c->head >= c->cap) {
        fprintf(stderr, "fakeverbs: CQ overrun (%u entries): completion dropped\n", c->cap);
        return;
    }
    c->ring[c->tail++ % c->cap] = *wc;
    if (c->armed && c->chan) {
        c->armed = 0;
        c->chan->queue[c->chan->tail++ % 256] = c;
        if (write(c->chan->pipe[1], "e", 1) != 1)
            fprintf(stderr, "fakeverbs: completion event lost\n");
    }
}

static int f_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
    struct fcq *c = (struct fcq *)cq;
    int got = 0;
    lock();
    while (got < n && c->head != c->tail)
        wc[got++] = c->ring[c->head++ % c->cap];
    unlock();
    return got;
}

/* ---------------------------------------------------------------- QPs */

static struct fqp *fqp_of(struct ibv_qp *qp) { return (struct fqp *)qp; }

static void sq_complete(struct fqp *q, struct fwqe *w, enum ibv_wc_status st)
{
    struct ibv_wc wc;
    static const enum ibv_wc_opcode op[] = {
        [IBV_WR_RDMA_WRITE] = IBV_WC_RDMA_WRITE,  [IBV_WR_RDMA_WRITE_WITH_IMM] = IBV_WC_RDMA_WRITE,
        [IBV_WR_SEND] = IBV_WC_SEND,              [IBV_WR_SEND_WITH_IMM] = IBV_WC_SEND,
        [IBV_WR_RDMA_READ] = IBV_WC_RDMA_READ,    [IBV_WR_ATOMIC_CMP_AND_SWP] = IBV_WC_COMP_SWAP,
        [IBV_WR_ATOMIC_FETCH_AND_ADD] = IBV_WC_FETCH_ADD};
    if (st == IBV_WC_SUCCESS && !w->signaled && !q->sig_all)
        return;
    memset(&wc, 0, sizeof(wc));
    wc.wr_id = w->wr_id;
    wc.status = st;
    wc.opcode = (unsigned)w->opcode < sizeof(op) / sizeof(op[0]) ? op[w->opcode] : IBV_WC_SEND;
    wc.qp_num = q->qpx.qp_base.qp_num;
    if (w->opcode == IBV_WR_RDMA_READ)
        for (int i = 0; i < w->nsge; i++)
            wc.byte_len += w->sge[i].length;
    push_wc(q->qpx.qp_base.send_cq, &wc);
}

static void to_error(struct fqp *q)
{
    struct ibv_wc wc;
    q->qpx.qp_base.state = IBV_QPS_ERR;
    while (q->sq_tail != q->sq_head)
        sq_complete(q, &q->sq[q->sq_tail++ % q->cap.max_send_wr], IBV_WC_WR_FLUSH_ERR);
    while (q->rq_tail != q->rq_head) {
        memset(&wc, 0, sizeof(wc));
        wc.wr_id = q->rq[q->rq_tail++ % q->cap.max_recv_wr].wr_id;
        wc.status = IBV_WC_WR_FLUSH_ERR;
        wc.opcode = IBV_WC_RECV;
        wc.qp_num = q->qpx.qp_base.qp_num;
        push_wc(q->qpx.qp_base.recv_cq, &wc);
    }
}

static struct ibv_qp *create(struct ibv_pd *pd, struct ibv_qp_init_attr_ex *a, int ex)
{
    struct fqp *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    if (a->qp_type != IBV_QPT_RC || a->cap.max_send_wr == 0 || a->cap.max_send_wr > 4096 ||
        a->cap.max_recv_wr > 4096 || a->cap.max_send_sge > MAXSGE || a->cap.max_recv_sge > MAXSGE) {
        free(q);
        errno = EINVAL;
        return NULL;
    }
    q->cap = a->cap;
    if (q->cap.max_recv_wr == 0)
        q->cap.max_recv_wr = 1;
    if (q->cap.max_inline_data > 256) {
        free(q);
        errno = EINVAL;
        return NULL;
    }
    q->sq = calloc(q->cap.max_send_wr, sizeof(*q->sq));
    q->rq = calloc(q->cap.max_recv_wr, sizeof(*q->rq));
    if (!q->sq || !q->rq) {
        free(q->sq);
        free(q->rq);
        free(q);
        errno = ENOMEM;
        return NULL;
    }
    q->fc = fctx_of(pd->context);
    q->ex = ex;
    q->sig_all = a->sq_sig_all;
    q->qpx.qp_base.context = pd->context;
    q->qpx.qp_base.pd = pd;
    q->qpx.qp_base.send_cq = a->send_cq;
    q->qpx.qp_base.recv_cq = a->recv_cq;
    q->qpx.qp_base.qp_context = a->qp_context;
    q->qpx.qp_base.qp_type = a->qp_type;
    q->qpx.qp_base.state = IBV_QPS_RESET;
    lock();
    q->qpx.qp_base.qp_num = F.next_qpn++;
    q->next = F.qps;
    F.qps = q;
    unlock();
    return &q->qpx.qp_base;
}

EXPORT struct ibv_qp *ibv_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
    struct ibv_qp_init_attr_ex a;
    memset(&a, 0, sizeof(a));
    memcpy(&a, attr, sizeof(*attr));
    return create(pd, &a, 0);
}

EXPORT int ibv_destroy_qp(struct ibv_qp *qp)
{
    struct fqp *q = fqp_of(qp), **p;
    lock();
    for (p = &F.qps; *p; p = &(*p)->next)
        if (*p == q) {
            *p = q->next;
            break;
        }
    unlock();
    free(q->sq);
    free(q->rq);
    free(q);
    return 0;
}

EXPORT int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask)
{
    struct fqp *q = fqp_of(qp);
    int rc = 0;
    lock();
    if (mask & IBV_QP_STATE) {
        switch (attr->qp_state) {
        case IBV_QPS_RESET:
            q->sq_head = q->sq_tail = q->rq_head = q->rq_tail = 0;
            qp->state = IBV_QPS_RESET;
            break;
        case IBV_QPS_INIT:
            if (mask & IBV_QP_ACCESS_FLAGS)
                q->access = attr->qp_access_flags;
            qp->state = IBV_QPS_INIT;
            break;
        case IBV_QPS_RTR:
            if (!q->fc->d->port_up && (mask & IBV_QP_AV)) {
                rc = ENETUNREACH;
                break;
            }
            if (mask & IBV_QP_DEST_QPN)
                q->dest_qpn = attr->dest_qp_num;
            if (mask & IBV_QP_AV) {
                q->dgid = attr->ah_attr.grh.dgid;
                q->dlid = attr->ah_attr.dlid;
            }
            q->epsn = (mask & IBV_QP_RQ_PSN) ? attr->rq_psn : 0;
            qp->state = IBV_QPS_RTR;
            break;
        case IBV_QPS_RTS:
            q->timeout = (mask & IBV_QP_TIMEOUT) ? attr->timeout : 14;
            q->retry_cnt = (mask & IBV_QP_RETRY_CNT) ? attr->retry_cnt : 7;
            q->sq_psn = (mask & IBV_QP_SQ_PSN) ? attr->sq_psn : 0;
            qp->state = IBV_QPS_RTS;
            break;
        case IBV_QPS_ERR:
            to_error(q);
            break;
        default:
            qp->state = attr->qp_state;
        }
    }
    unlock();
    if (!rc && !F.bench)
        pthread_cond_broadcast(&F.cv);
    return rc;
}

EXPORT int ibv_query_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask, struct ibv_qp_init_attr *init)
{
    struct fqp *q = fqp_of(qp);
    (void)mask;
    memset(attr, 0, sizeof(*attr));
    lock();
    attr->qp_state = attr->cur_qp_state = qp->state;
    attr->dest_qp_num = q->dest_qpn;
    attr->timeout = q->timeout;
    attr->retry_cnt = q->retry_cnt;
    attr->cap = q->cap;
    unlock();
    if (init) {
        memset(init, 0, sizeof(*init));
        init->send_cq = qp->send_cq;
        init->recv_cq = qp->recv_cq;
        init->cap = q->cap;
        init->qp_type = qp->qp_type;
        init->sq_sig_all = q->sig_all;
    }
    return 0;
}

/* Queue one WQE (fabric lock held). ENOMEM when the send queue is full. */
static int enqueue(struct fqp *q, const struct fwqe *w)
{
    struct fwqe *slot;
    if (q->sq_head - q->sq_tail >= q->cap.max_send_wr)
        return ENOMEM;
    slot = &q->sq[q->sq_head++ % q->cap.max_send_wr];
    *slot = *w;
    slot->psn = q->sq_psn++;
    slot->attempts = 0;
    slot->atomic_done = 0;
    if (q->qpx.qp_base.state == IBV_QPS_ERR)
        to_error(q);
    return 0;
}

static int fill_wqe(struct fqp *q, const struct ibv_send_wr *wr, struct fwqe *w)
{
    memset(w, 0, offsetof(struct fwqe, inl));
    w->wr_id = wr->wr_id;
    w->opcode = wr->opcode;
    w->signaled = !!(wr->send_flags & IBV_SEND_SIGNALED);
    w->imm = wr->imm_data;
    if (wr->opcode == IBV_WR_ATOMIC_CMP_AND_SWP || wr->opcode == IBV_WR_ATOMIC_FETCH_AND_ADD) {
        w->raddr = wr->wr.atomic.remote_addr;
        w->rkey = wr->wr.atomic.rkey;
        w->cmp = wr->wr.atomic.compare_add;
        w->swp = wr->wr.atomic.swap;
    } else {
        w->raddr = wr->wr.rdma.remote_addr;
        w->rkey = wr->wr.rdma.rkey;
    }
    if (wr->num_sge < 0 || (unsigned)wr->num_sge > q->cap.max_send_sge + ((wr->send_flags & IBV_SEND_INLINE) ? MAXSGE : 0))
        return EINVAL;
    if (wr->send_flags & IBV_SEND_INLINE) {
        uint32_t n = 0;
        for (int i = 0; i < wr->num_sge; i++) {
            if (n + wr->sg_list[i].length > q->cap.max_inline_data || n + wr->sg_list[i].length > sizeof(w->inl))
                return EINVAL;
            memcpy(w->inl + n, (void *)(uintptr_t)wr->sg_list[i].addr, wr->sg_list[i].length);
            n += wr->sg_list[i].length;
        }
        w->inl_len = n;
        w->inline_data = 1;
    } else {
        w->nsge = wr->num_sge;
        memcpy(w->sge, wr->sg_list, (size_t)wr->num_sge * sizeof(*w->sge));
    }
    return 0;
}

/* bench mode: one 64-byte WQE per WR, signaled ones complete at once (no locks, no wire) */
static int bench_post_send(struct fqp *q, struct ibv_send_wr *wr)
{
    for (; wr; wr = wr->next) {
        uint64_t *wqe = (uint64_t *)&q->bench_wqe[(q->bench_head++ & 63) * 64];
        wqe[0] = wr->wr_id;
        wqe[1] = wr->wr.rdma.remote_addr;
        wqe[2] = ((uint64_t)wr->wr.rdma.rkey << 32) | (uint32_t)wr->opcode;
        wqe[3] = wr->num_sge ? wr->sg_list[0].addr : 0;
        wqe[4] = wr->num_sge ? ((uint64_t)wr->sg_list[0].lkey << 32 | wr->sg_list[0].length) : 0;
        wqe[5] = ((uint64_t)wr->send_flags << 32) | wr->imm_data;
        if ((wr->send_flags & IBV_SEND_SIGNALED) || q->sig_all) {
            struct fcq *c = (struct fcq *)q->qpx.qp_base.send_cq;
            struct ibv_wc *wc = &c->ring[c->tail++ % c->cap];
            wc->wr_id = wr->wr_id;
            wc->status = IBV_WC_SUCCESS;
            wc->opcode = IBV_WC_RDMA_WRITE;
            wc->qp_num = q->qpx.qp_base.qp_num;
        }
    }
    return 0;
}

static int f_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
    struct fqp *q = fqp_of(qp);
    struct fwqe w;
    int rc = 0;
    if (F.bench)
        return bench_post_send(q, wr);
    lock();
    if (qp->state != IBV_QPS_RTS && qp->state != IBV_QPS_ERR && qp->state != IBV_QPS_SQD)
        rc = EINVAL;
    for (; wr && !rc; wr = wr->next)
        if ((rc = fill_wqe(q, wr, &w)) == 0)
            rc = enqueue(q, &w);
    if (rc && bad)
        *bad = wr;
    unlock();
    pthread_cond_broadcast(&F.cv);
    return rc;
}

static int f_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
    struct fqp *q = fqp_of(qp);
    int rc = 0;
    if (F.bench) {
        for (; wr; wr = wr->next) {
            struct fcq *c = (struct fcq *)qp->recv_cq;
            struct ibv_wc *wc = &c->ring[c->tail++ % c->cap];
            uint64_t *wqe = (uint64_t *)&q->bench_wqe[(q->bench_head++ & 63) * 64];
            wqe[0] = wr->wr_id;
            wqe[1] = wr->num_sge ? wr->sg_list[0].addr : 0;
            wqe[2] = wr->num_sge ? ((uint64_t)wr->sg_list[0].lkey << 32 | wr->sg_list[0].length) : 0;
            wc->wr_id = wr->wr_id;
            wc->status = IBV_WC_SUCCESS;
            wc->opcode = IBV_WC_RECV;
            wc->qp_num = qp->qp_num;
        }
        return 0;
    }
    lock();
    if (qp->state == IBV_QPS_RESET)
        rc = EINVAL;
    for (; wr && !rc; wr = wr->next) {
        struct frwqe *r;
        if (q->rq_head - q->rq_tail >= q->cap.max_recv_wr) {
            rc = ENOMEM;
            break;
        }
        if (wr->num_sge < 0 || (unsigned)wr->num_sge > q->cap.max_recv_sge) {
            rc = EINVAL;
            break;
        }
        r = &q->rq[q->rq_head++ % q->cap.max_recv_wr];
        r->wr_id = wr->wr_id;
        r->nsge = wr->num_sge;
        memcpy(r->sge, wr->sg_list, (size_t)wr->num_sge * sizeof(*r->sge));
        if (qp->state == IBV_QPS_ERR)
            to_error(q);
    }
    if (rc && bad)
        *bad = wr;
    unlock();
    pthread_cond_broadcast(&F.cv);
    return rc;
}

/* ---------------------------------------------------------------- extended QPs (ibv_wr_*) */

static struct fqp *fqp_x(struct ibv_qp_ex *qpx) { return (struct fqp *)qpx; }

static struct fwqe *batch_new(struct ibv_qp_ex *qpx, int opcode)
{
    struct fqp *q = fqp_x(qpx);
    struct fwqe *w;
    if (q->nbatch >= 64) {
        q->batch_err = ENOMEM;
        return &q->batch[63];
    }
    w = &q->batch[q->nbatch++];
    memset(w, 0, offsetof(struct fwqe, inl));
    w->wr_id = qpx->wr_id;
    w->opcode = opcode;
    w->signaled = !!(qpx->wr_flags & IBV_SEND_SIGNALED);
    return w;
}
static struct fwqe *batch_cur(struct ibv_qp_ex *qpx)
{
    struct fqp *q = fqp_x(qpx);
    return q->nbatch ? &q->batch[q->nbatch - 1] : NULL;
}

static void x_start(struct ibv_qp_ex *qpx)
{
    lock();
    fqp_x(qpx)->nbatch = 0;
    fqp_x(qpx)->batch_err = 0;
}
static int x_complete(struct ibv_qp_ex *qpx)
{
    struct fqp *q = fqp_x(qpx);
    int rc = q->batch_err;
    if (!rc && q->sq_head - q->sq_tail + (unsigned)q->nbatch > q->cap.max_send_wr)
        rc = ENOMEM;
    for (int i = 0; !rc && i < q->nbatch; i++)
        rc = enqueue(q, &q->batch[i]);
    q->nbatch = 0;
    unlock();
    pthread_cond_broadcast(&F.cv);
    return rc;
}
static void x_abort(struct ibv_qp_ex *qpx)
{
    fqp_x(qpx)->nbatch = 0;
    unlock();
}
static void x_rdma_write(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr)
{
    struct fwqe *w = batch_new(qpx, IBV_WR_RDMA_WRITE);
    w->rkey = rkey;
    w->raddr = raddr;
}
static void x_rdma_write_imm(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr, __be32 imm)
{
    struct fwqe *w = batch_new(qpx, IBV_WR_RDMA_WRITE_WITH_IMM);
    w->rkey = rkey;
    w->raddr = raddr;
    w->imm = imm;
}
static void x_rdma_read(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr)
{
    struct fwqe *w = batch_new(qpx, IBV_WR_RDMA_READ);
    w->rkey = rkey;
    w->raddr = raddr;
}
static void x_send(struct ibv_qp_ex *qpx) { batch_new(qpx, IBV_WR_SEND); }
static void x_send_imm(struct ibv_qp_ex *qpx, __be32 imm) { batch_new(qpx, IBV_WR_SEND_WITH_IMM)->imm = imm; }
static void x_fetch_add(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr, uint64_t add)
{
    struct fwqe *w = batch_new(qpx, IBV_WR_ATOMIC_FETCH_AND_ADD);
    w->rkey = rkey;
    w->raddr = raddr;
    w->cmp = add;
}
static void x_cmp_swp(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr, uint64_t cmp, uint64_t swp)
{
    struct fwqe *w = batch_new(qpx, IBV_WR_ATOMIC_CMP_AND_SWP);
    w->rkey = rkey;
    w->raddr = raddr;
    w->cmp = cmp;
    w->swp = swp;
}
static void x_set_sge(struct ibv_qp_ex *qpx, uint32_t lkey, uint64_t addr, uint32_t length)
{
    struct fwqe *w = batch_cur(qpx);
    if (w) {
        w->nsge = 1;
        w->sge[0] = (struct ibv_sge){.addr = addr, .length = length, .lkey = lkey};
    }
}
static void x_set_sge_list(struct ibv_qp_ex *qpx, size_t n, const struct ibv_sge *sg)
{
    struct fwqe *w = batch_cur(qpx);
    if (!w)
        return;
    if (n > MAXSGE) {
        fqp_x(qpx)->batch_err = EINVAL;
        return;
    }
    w->nsge = (int)n;
    memcpy(w->sge, sg, n * sizeof(*sg));
}
static void x_set_inline_data_list(struct ibv_qp_ex *qpx, size_t n, const struct ibv_data_buf *buf)
{
    struct fwqe *w = batch_cur(qpx);
    uint32_t len = 0;
    if (!w)
        return;
    for (size_t i = 0; i < n; i++) {
        if (len + buf[i].length > sizeof(w->inl) || len + buf[i].length > fqp_x(qpx)->cap.max_inline_data) {
            fqp_x(qpx)->batch_err = EINVAL;
            return;
        }
        memcpy(w->inl + len, buf[i].addr, buf[i].length);
        len += (uint32_t)buf[i].length;
    }
    w->inl_len = len;
    w->inline_data = 1;
}
static void x_set_inline_data(struct ibv_qp_ex *qpx, void *addr, size_t length)
{
    struct ibv_data_buf b = {.addr = addr, .length = length};
    x_set_inline_data_list(qpx, 1, &b);
}

static struct ibv_qp *f_create_qp_ex(struct ibv_context *ctx, struct ibv_qp_init_attr_ex *a)
{
    struct ibv_qp *qp;
    struct ibv_qp_ex *x;
    (void)ctx;
    if (!(a->comp_mask & IBV_QP_INIT_ATTR_PD) || !a->pd) {
        errno = EINVAL;
        return NULL;
    }
    qp = create(a->pd, a, !!(a->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS));
    if (!qp || !(a->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS))
        return qp;
    x = &fqp_of(qp)->qpx;
    x->wr_start = x_start;
    x->wr_complete = x_complete;
    x->wr_abort = x_abort;
    x->wr_set_sge = x_set_sge;
    x->wr_set_sge_list = x_set_sge_list;
    x->wr_set_inline_data = x_set_inline_data;
    x->wr_set_inline_data_list = x_set_inline_data_list;
    if (a->send_ops_flags & IBV_QP_EX_WITH_RDMA_WRITE)
        x->wr_rdma_write = x_rdma_write;
    if (a->send_ops_flags & IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM)
        x->wr_rdma_write_imm = x_rdma_write_imm;
    if (a->send_ops_flags & IBV_QP_EX_WITH_RDMA_READ)
        x->wr_rdma_read = x_rdma_read;
    if (a->send_ops_flags & IBV_QP_EX_WITH_SEND)
        x->wr_send = x_send;
    if (a->send_ops_flags & IBV_QP_EX_WITH_SEND_WITH_IMM)
        x->wr_send_imm = x_send_imm;
    if (a->send_ops_flags & IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD)
        x->wr_atomic_fetch_add = x_fetch_add;
    if (a->send_ops_flags & IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP)
        x->wr_atomic_cmp_swp = x_cmp_swp;
    return qp;
}

EXPORT struct ibv_qp_ex *ibv_qp_to_qp_ex(struct ibv_qp *qp)
{
    struct fqp *q = fqp_of(qp);
    return q->ex ? &q->qpx : NULL;
}

/* ---------------------------------------------------------------- the wire */

static struct fqp *dest_of(struct fqp *q)
{
    for (struct fqp *d = F.qps; d; d = d->next)
        if (d->qpx.qp_base.qp_num == q->dest_qpn)
            return d->fc->d->link == q->fc->d->link ? d : NULL;
    return NULL;
}

/* copy between the WQE's local side and remote memory; 0 or an error status */
static enum ibv_wc_status copy_local(struct fqp *q, struct fwqe *w, uint8_t *remote, int to_remote)
{
    if (w->inline_data) {
        if (to_remote)
            memcpy(remote, w->inl, w->inl_len);
        return IBV_WC_SUCCESS;
    }
    for (int i = 0; i < w->nsge; i++) {
        if (!w->sge[i].length)
            continue;
        if (!find_mr(q->fc->d, w->sge[i].lkey, 0, w->sge[i].addr, w->sge[i].length,
                     to_remote ? 0 : IBV_ACCESS_LOCAL_WRITE))
            return IBV_WC_LOC_PROT_ERR;
        if (to_remote)
            memcpy(remote, (void *)(uintptr_t)w->sge[i].addr, w->sge[i].length);
        else
            memcpy((void *)(uintptr_t)w->sge[i].addr, remote, w->sge[i].length);
        remote += w->sge[i].length;
    }
    return IBV_WC_SUCCESS;
}

static uint32_t wqe_len(const struct fwqe *w)
{
    uint32_t n = w->inline_data ? w->inl_len : 0;
    for (int i = 0; !w->inline_data && i < w->nsge; i++)
        n += w->sge[i].length;
    return n;
}

enum { EXEC_OK, EXEC_RNR, EXEC_ERR };

/* Execute w of q at the responder d. EXEC_ERR sets *st. */
static int execute(struct fqp *q, struct fqp *d, struct fwqe *w, enum ibv_wc_status *st)
{
    uint32_t len = wqe_len(w);
    uint8_t tmp[1 << 16];
    int consumes = w->opcode == IBV_WR_SEND || w->opcode == IBV_WR_SEND_WITH_IMM ||
                   w->opcode == IBV_WR_RDMA_WRITE_WITH_IMM;
    struct ibv_wc wc;
    if (consumes && d->rq_head == d->rq_tail)
        return EXEC_RNR;
    if (((w->opcode == IBV_WR_RDMA_WRITE || w->opcode == IBV_WR_RDMA_WRITE_WITH_IMM) &&
         !(d->access & IBV_ACCESS_REMOTE_WRITE)) ||
        (w->opcode == IBV_WR_RDMA_READ && !(d->access & IBV_ACCESS_REMOTE_READ)) ||
        ((w->opcode == IBV_WR_ATOMIC_FETCH_AND_ADD || w->opcode == IBV_WR_ATOMIC_CMP_AND_SWP) &&
         !(d->access & IBV_ACCESS_REMOTE_ATOMIC))) {
        *st = IBV_WC_REM_INV_REQ_ERR; /* the responder QP does not allow the operation (as rxe answers) */
        return EXEC_ERR;
    }
    switch (w->opcode) {
    case IBV_WR_RDMA_WRITE:
    case IBV_WR_RDMA_WRITE_WITH_IMM:
        if (len && !find_mr(d->fc->d, w->rkey, 1, w->raddr, len, IBV_ACCESS_REMOTE_WRITE)) {
            *st = IBV_WC_REM_ACCESS_ERR;
            return EXEC_ERR;
        }
        if ((*st = copy_local(q, w, (uint8_t *)(uintptr_t)w->raddr, 1)) != IBV_WC_SUCCESS)
            return EXEC_ERR;
        break;
    case IBV_WR_RDMA_READ:
        if (len && !find_mr(d->fc->d, w->rkey, 1, w->raddr, len, IBV_ACCESS_REMOTE_READ)) {
            *st = IBV_WC_REM_ACCESS_ERR;
            return EXEC_ERR;
        }
        if ((*st = copy_local(q, w, (uint8_t *)(uintptr_t)w->raddr, 0)) != IBV_WC_SUCCESS)
            return EXEC_ERR;
        break;
    case IBV_WR_ATOMIC_FETCH_AND_ADD:
    case IBV_WR_ATOMIC_CMP_AND_SWP: {
        uint64_t *p = (uint64_t *)(uintptr_t)w->raddr;
        if (!find_mr(d->fc->d, w->rkey, 1, w->raddr, 8, IBV_ACCESS_REMOTE_ATOMIC)) {
            *st = IBV_WC_REM_ACCESS_ERR;
            return EXEC_ERR;
        }
        w->atomic_orig = *p;
        w->atomic_done = 1;
        if (w->opcode == IBV_WR_ATOMIC_FETCH_AND_ADD)
            *p += w->cmp;
        else if (*p == w->cmp)
            *p = w->swp;
        break;
    }
    case IBV_WR_SEND:
    case IBV_WR_SEND_WITH_IMM:
        if (len > sizeof(tmp)) {
            *st = IBV_WC_LOC_LEN_ERR;
            return EXEC_ERR;
        }
        if ((*st = copy_local(q, w, tmp, 1)) != IBV_WC_SUCCESS)
            return EXEC_ERR;
        break;
    default:
        *st = IBV_WC_REM_INV_REQ_ERR;
        return EXEC_ERR;
    }
    if (consumes) {
        struct frwqe *r = &d->rq[d->rq_tail % d->cap.max_recv_wr];
        uint32_t room = 0, off = 0;
        for (int i = 0; i < r->nsge; i++)
            room += r->sge[i].length;
        if (w->opcode != IBV_WR_RDMA_WRITE_WITH_IMM) {
            if (len > room) {
                *st = IBV_WC_REM_INV_REQ_ERR;
                return EXEC_ERR;
            }
            for (int i = 0; i < r->nsge && off < len; i++) {
                uint32_t n = len - off < r->sge[i].length ? len - off : r->sge[i].length;
                if (!find_mr(d->fc->d, r->sge[i].lkey, 0, r->sge[i].addr, n, IBV_ACCESS_LOCAL_WRITE)) {
                    *st = IBV_WC_REM_OP_ERR;
                    return EXEC_ERR;
                }
                memcpy((void *)(uintptr_t)r->sge[i].addr, tmp + off, n);
                off += n;
            }
        }
        d->rq_tail++;
        memset(&wc, 0, sizeof(wc));
        wc.wr_id = r->wr_id;
        wc.status = IBV_WC_SUCCESS;
        wc.opcode = w->opcode == IBV_WR_RDMA_WRITE_WITH_IMM ? IBV_WC_RECV_RDMA_WITH_IMM : IBV_WC_RECV;
        wc.byte_len = len;
        wc.qp_num = d->qpx.qp_base.qp_num;
        wc.src_qp = q->qpx.qp_base.qp_num;
        if (w->opcode != IBV_WR_SEND) {
            wc.wc_flags = IBV_WC_WITH_IMM;
            wc.imm_data = w->imm;
        }
        push_wc(d->qpx.qp_base.recv_cq, &wc);
    }
    return EXEC_OK;
}

static void attempt_failed(struct fqp *q, struct fwqe *w, uint64_t now)
{
    w->attempts++;
    if (q->retry_cnt != 7 && w->attempts > q->retry_cnt) {
        q->sq_tail++;
        sq_complete(q, w, IBV_WC_RETRY_EXC_ERR);
        to_error(q);
        return;
    }
    q->next_attempt_us = now + (uint64_t)F.attempt_us;
}

/* One pass over every send queue: execute (at most) the head WQE of each. Returns the earliest retry time. */
static uint64_t wire_pass(uint64_t now, int *progress)
{
    uint64_t next = now + 100000;
    for (struct fqp *q = F.qps; q; q = q->next) {
        struct fwqe *w;
        struct fqp *d;
        enum ibv_wc_status st = IBV_WC_SUCCESS;
        int fault;
        if (q->qpx.qp_base.state != IBV_QPS_RTS || q->sq_head == q->sq_tail)
            continue;
        if (q->next_attempt_us > now) {
            next = q->next_attempt_us < next ? q->next_attempt_us : next;
            continue;
        }
        w = &q->sq[q->sq_tail % q->cap.max_send_wr];
        *progress = 1;
        if (!q->fc->d->port_up) { /* local port down: the send fails at once */
            q->sq_tail++;
            sq_complete(q, w, IBV_WC_LOC_QP_OP_ERR);
            to_error(q);
            continue;
        }
        fault = F.fault[(unsigned char)q->fc->d->link];
        d = dest_of(q);
        if (fault == FAKEVERBS_BLACKHOLE || fault == FAKEVERBS_DOWN || !d ||
            (d->qpx.qp_base.state != IBV_QPS_RTR && d->qpx.qp_base.state != IBV_QPS_RTS)) {
            F.stats.dropped++;
            attempt_failed(q, w, now);
            continue;
        }
        if (w->psn > d->epsn) {
            /* a PSN beyond the one the responder expects (it was reset to an earlier PSN): RC answers with a
             * sequence-error NAK and the requester resends the same PSN, so the request never executes */
            F.stats.out_of_sequence++;
            attempt_failed(q, w, now);
            continue;
        }
        if (w->psn < d->epsn && w->opcode != IBV_WR_RDMA_READ) {
            F.stats.duplicates++; /* RC duplicate: acknowledged again, not executed again */
        } else {
            int r = execute(q, d, w, &st);
            if (r == EXEC_RNR) {
                F.stats.rnr++;
                q->next_attempt_us = now + (uint64_t)F.attempt_us / 4;
                continue;
            }
            if (r == EXEC_ERR) {
                q->sq_tail++;
                sq_complete(q, w, st);
                to_error(q);
                continue;
            }
            if (w->psn >= d->epsn)
                d->epsn = w->psn + 1;
            F.stats.executed++;
        }
        if (fault == FAKEVERBS_ACKLOSS) {
            attempt_failed(q, w, now);
            continue;
        }
        if (w->atomic_done && w->nsge)
            memcpy((void *)(uintptr_t)w->sge[0].addr, &w->atomic_orig, 8);
        q->sq_tail++;
        sq_complete(q, w, IBV_WC_SUCCESS);
    }
    return next;
}

static void *wire(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&F.mu);
    for (;;) {
        int progress = 0;
        uint64_t now = now_us(), next = wire_pass(now, &progress);
        if (!progress) {
            struct timespec ts;
            uint64_t wait = next > now ? next - now : 0;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)(wait % 1000000u) * 1000;
            ts.tv_sec += (time_t)(wait / 1000000u) + ts.tv_nsec / 1000000000;
            ts.tv_nsec %= 1000000000;
            pthread_cond_timedwait(&F.cv, &F.mu, &ts);
        } else {
            /* let posters and pollers in between passes */
            pthread_mutex_unlock(&F.mu);
            sched_yield();
            pthread_mutex_lock(&F.mu);
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- control API (fakeverbs.h) */

static void post_event(struct fdev *d, enum ibv_event_type type)
{
    for (struct fctx *fc = F.ctxs; fc; fc = fc->next)
        if (fc->d == d && fc->ev_tail - fc->ev_head < 64) {
            fc->ev[fc->ev_tail % 64] = (struct fevent){type, 1};
            fc->ev_tail++;
            if (write(fc->evpipe[1], "e", 1) != 1)
                fprintf(stderr, "fakeverbs: async event lost\n");
        }
}

EXPORT int fakeverbs_set_link(char link, int fault)
{
    int found = 0;
    pthread_once(&once, init);
    lock();
    F.fault[(unsigned char)link] = fault;
    for (int i = 0; i < F.ndev; i++) {
        struct fdev *d = &F.devs[i];
        int up = fault != FAKEVERBS_DOWN;
        if (d->link != link)
            continue;
        found = 1;
        if (d->port_up != up) {
            d->port_up = up;
            post_event(d, up ? IBV_EVENT_PORT_ACTIVE : IBV_EVENT_PORT_ERR);
        }
    }
    unlock();
    pthread_cond_broadcast(&F.cv);
    return found ? 0 : -1;
}

EXPORT void fakeverbs_get_stats(struct fakeverbs_stats *out)
{
    lock();
    *out = F.stats;
    unlock();
}

EXPORT void fakeverbs_provider_ops(fakeverbs_post_send_fn *ps, fakeverbs_post_recv_fn *pr, fakeverbs_poll_cq_fn *pc)
{
    *ps = (fakeverbs_post_send_fn)(void (*)(void))f_post_send;
    *pr = (fakeverbs_post_recv_fn)(void (*)(void))f_post_recv;
    *pc = (fakeverbs_poll_cq_fn)(void (*)(void))f_poll_cq;
}
