/* shift_pair.c -- a verbs program that checks every message end to end, for SHIFT's failover tests.
 *
 * Two "hosts" A and B, each an RC QP on its own default device (A sends): in one process (--role both; the
 * fake provider, or the four rxe devices of the guest), or one host per process (--role a|b, connection
 * details exchanged through files in --exchange DIR, so the other end may be the Python SHIFT layer).
 * Workloads (A -> B):
 *   send      SEND of message seq (seq in the first 8 bytes, then a seq-dependent pattern); B checks order,
 *             duplicates, gaps and bytes, and reposts its RECV
 *   nccl      NCCL Simple: two unsignaled RDMA WRITEs fill slot seq % slots, a signaled WRITE_WITH_IMM
 *             (imm = seq + 1) notifies; B checks the slot and returns a credit with an RDMA WRITE into A's
 *             credit word (NCCL's CTS), and A reuses a slot only after its credit
 *   read      RDMA READ of B's slot seq % slots (static pattern), checked by A (B is passive)
 *   pingpong  A sends seq, B checks it and sends it back, A checks the echo (both sides send and receive)
 *   fadd      FETCH_AND_ADD of B's counter: SHIFT must surface the error of an atomic in flight, not retry it
 *   badrkey   RDMA WRITEs with a wrong rkey: the application's own error, surfaced, never failed over
 * A fault (--fault, at message --fault-at) and its repair (at --restore-at) are the fake provider's link
 * faults or shell commands (rxe: ip link / netem). --dlopen: every verb is resolved with
 * dlopen("libibverbs.so.1") + dlvsym(..., "IBVERBS_1.1") the way NCCL's ibvwrap does (build shift_pair_dl,
 * which does not link libibverbs). --ex: A's QP is created with ibv_create_qp_ex and posts with ibv_wr_*.
 * Output: one JSON line per host; exit 0 when every check passed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <infiniband/verbs.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#undef ibv_reg_mr
#undef ibv_query_port

/* ---------------------------------------------------------------- the verbs, linked or looked up */

static struct {
    struct ibv_device **(*get_device_list)(int *);
    void (*free_device_list)(struct ibv_device **);
    const char *(*get_device_name)(struct ibv_device *);
    struct ibv_context *(*open_device)(struct ibv_device *);
    int (*close_device)(struct ibv_context *);
    struct ibv_pd *(*alloc_pd)(struct ibv_context *);
    int (*dealloc_pd)(struct ibv_pd *);
    struct ibv_mr *(*reg_mr)(struct ibv_pd *, void *, size_t, int);
    int (*dereg_mr)(struct ibv_mr *);
    struct ibv_cq *(*create_cq)(struct ibv_context *, int, void *, struct ibv_comp_channel *, int);
    int (*destroy_cq)(struct ibv_cq *);
    struct ibv_qp *(*create_qp)(struct ibv_pd *, struct ibv_qp_init_attr *);
    int (*modify_qp)(struct ibv_qp *, struct ibv_qp_attr *, int);
    int (*destroy_qp)(struct ibv_qp *);
    int (*query_gid)(struct ibv_context *, uint8_t, int, union ibv_gid *);
    struct ibv_qp_ex *(*qp_to_qp_ex)(struct ibv_qp *);
    const char *(*wc_status_str)(enum ibv_wc_status);
    struct ibv_comp_channel *(*create_comp_channel)(struct ibv_context *);
    int (*get_cq_event)(struct ibv_comp_channel *, struct ibv_cq **, void **);
    void (*ack_cq_events)(struct ibv_cq *, unsigned int);
} V;

#ifdef SHIFT_PAIR_DLOPEN
/* NCCL's ibvwrap: dlopen the library, then every symbol by name and version */
static int load_verbs(void)
{
    void *h = dlopen("libibverbs.so", RTLD_NOW);
    if (!h)
        h = dlopen("libibverbs.so.1", RTLD_NOW);
    if (!h) {
        fprintf(stderr, "shift_pair: cannot dlopen libibverbs: %s\n", dlerror());
        return -1;
    }
#define L(field, name, ver)                                                                                            \
    do {                                                                                                               \
        *(void **)&V.field = dlvsym(h, name, ver);                                                                     \
        if (!V.field) {                                                                                                \
            fprintf(stderr, "shift_pair: dlvsym(%s, %s) failed\n", name, ver);                                         \
            return -1;                                                                                                 \
        }                                                                                                              \
    } while (0)
    L(get_device_list, "ibv_get_device_list", "IBVERBS_1.1");
    L(free_device_list, "ibv_free_device_list", "IBVERBS_1.1");
    L(get_device_name, "ibv_get_device_name", "IBVERBS_1.1");
    L(open_device, "ibv_open_device", "IBVERBS_1.1");
    L(close_device, "ibv_close_device", "IBVERBS_1.1");
    L(alloc_pd, "ibv_alloc_pd", "IBVERBS_1.1");
    L(dealloc_pd, "ibv_dealloc_pd", "IBVERBS_1.1");
    L(reg_mr, "ibv_reg_mr", "IBVERBS_1.1");
    L(dereg_mr, "ibv_dereg_mr", "IBVERBS_1.1");
    L(create_cq, "ibv_create_cq", "IBVERBS_1.1");
    L(destroy_cq, "ibv_destroy_cq", "IBVERBS_1.1");
    L(create_qp, "ibv_create_qp", "IBVERBS_1.1");
    L(modify_qp, "ibv_modify_qp", "IBVERBS_1.1");
    L(destroy_qp, "ibv_destroy_qp", "IBVERBS_1.1");
    L(query_gid, "ibv_query_gid", "IBVERBS_1.1");
    L(qp_to_qp_ex, "ibv_qp_to_qp_ex", "IBVERBS_1.6");
    L(wc_status_str, "ibv_wc_status_str", "IBVERBS_1.1");
    L(create_comp_channel, "ibv_create_comp_channel", "IBVERBS_1.0");
    L(get_cq_event, "ibv_get_cq_event", "IBVERBS_1.1");
    L(ack_cq_events, "ibv_ack_cq_events", "IBVERBS_1.1");
#undef L
    {   /* say where the verbs came from: libshift's wrappers when SHIFT interposes the lookups */
        Dl_info info;
        if (dladdr((void *)V.open_device, &info) && info.dli_fname)
            fprintf(stderr, "shift_pair: ibv_open_device resolved to %s\n", info.dli_fname);
    }
    return 0;
}
#else
static int load_verbs(void)
{
    V.get_device_list = ibv_get_device_list;
    V.free_device_list = ibv_free_device_list;
    V.get_device_name = ibv_get_device_name;
    V.open_device = ibv_open_device;
    V.close_device = ibv_close_device;
    V.alloc_pd = ibv_alloc_pd;
    V.dealloc_pd = ibv_dealloc_pd;
    V.reg_mr = (ibv_reg_mr);
    V.dereg_mr = ibv_dereg_mr;
    V.create_cq = ibv_create_cq;
    V.destroy_cq = ibv_destroy_cq;
    V.create_qp = ibv_create_qp;
    V.modify_qp = ibv_modify_qp;
    V.destroy_qp = ibv_destroy_qp;
    V.query_gid = ibv_query_gid;
    V.qp_to_qp_ex = ibv_qp_to_qp_ex;
    V.wc_status_str = ibv_wc_status_str;
    V.create_comp_channel = ibv_create_comp_channel;
    V.get_cq_event = ibv_get_cq_event;
    V.ack_cq_events = ibv_ack_cq_events;
    return 0;
}
#endif

/* ---------------------------------------------------------------- options */

static struct {
    char role[8], devs[2][64], workload[16], fault[256], restore[256], exchange[256];
    int gid_index, n, size, slots, pace_us, timeout, retry, ex, ex_extra, wait_s, give_up_s, qp_access, events;
    int fault_at[8], restore_at[8], nfault, nrestore, nat;
    int at[8];
    char at_action[8][128];
    double at_s[8], duration_s;
    char at_s_action[8][160];
    int nat_s;
} opt = {.role = "both", .devs = {"fake_p0", "fake_p1"}, .workload = "send", .gid_index = 1, .n = 2000,
         .size = 4096, .slots = 8, .timeout = 14, .retry = 6, .give_up_s = 60, .qp_access = -1};

static int parse_list(const char *v, int *out)
{
    int n = 0;
    for (const char *p = v; *p && n < 8; n++) {
        out[n] = atoi(p);
        p = strchr(p, ',');
        if (!p)
            return n + 1;
        p++;
    }
    return n;
}

static int listed(const int *l, int n, uint64_t s)
{
    for (int i = 0; i < n; i++)
        if ((uint64_t)l[i] == s)
            return 1;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
static double t_start;

/* a fault or a repair: "fake:<link>:<down|blackhole|ackloss|up>" or "cmd:<shell command>" */
static void act(const char *what)
{
    if (!strncmp(what, "fake:", 5)) {
        int (*set_link)(char, int) = (int (*)(char, int))dlsym(RTLD_DEFAULT, "fakeverbs_set_link");
        void *h;
        if (!set_link && (h = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_NOLOAD))) /* dlopen'ed, not global */
            set_link = (int (*)(char, int))dlsym(h, "fakeverbs_set_link");
        const char *kind = what + 7;
        int f = !strcmp(kind, "down") ? 1 : !strcmp(kind, "blackhole") ? 2 : !strcmp(kind, "ackloss") ? 3 : 0;
        if (!set_link || set_link(what[5], f)) {
            fprintf(stderr, "shift_pair: %s needs the fake provider (LD_LIBRARY_PATH=csrc/fakeverbs)\n", what);
            exit(2);
        }
    } else if (!strncmp(what, "cmd:", 4)) {
        if (system(what + 4) != 0)
            fprintf(stderr, "shift_pair: '%s' failed\n", what + 4);
    }
    fprintf(stderr, "shift_pair: %.3f %s\n", now_s(), what);
}

/* ---------------------------------------------------------------- one host */

struct host {
    char name;
    struct ibv_context *ctx;
    struct ibv_pd *pd;
    struct ibv_cq *cq;
    struct ibv_comp_channel *channel;
    struct ibv_qp *qp;
    struct ibv_qp_ex *qpx;
    struct ibv_mr *mr;
    uint8_t *buf; /* slots receive/read area | slots send area | credit word | fadd counter */
    union ibv_gid gid;
    struct {
        union ibv_gid gid;
        uint32_t qpn, rkey;
        uint64_t addr;
    } peer;
    /* progress */
    uint64_t next_send, next_expect, done, outstanding, credit_seen;
    uint64_t delivered, duplicates, gaps, corrupt, errors;
    char error_status[64];
};

static size_t buf_len(void) { return (size_t)opt.slots * opt.size * 2 + 64; }
static uint8_t *rx_slot(struct host *h, uint64_t i) { return h->buf + (i % (uint64_t)opt.slots) * opt.size; }
static uint8_t *tx_slot(struct host *h, uint64_t i)
{
    return h->buf + ((uint64_t)opt.slots + i % (uint64_t)opt.slots) * opt.size;
}
static uint64_t *credit_word(struct host *h) { return (uint64_t *)(h->buf + (size_t)opt.slots * opt.size * 2); }
static uint64_t credit_off(void) { return (uint64_t)opt.slots * opt.size * 2; }

static void pattern(uint64_t seq, uint8_t *p, int n)
{
    memcpy(p, &seq, 8);
    for (int i = 8; i < n; i++)
        p[i] = (uint8_t)(seq * 131 + (uint64_t)i);
}
static int check(uint64_t seq, const uint8_t *p, int n)
{
    uint64_t got;
    memcpy(&got, p, 8);
    if (got != seq)
        return 0;
    for (int i = 8; i < n; i++)
        if (p[i] != (uint8_t)(seq * 131 + (uint64_t)i))
            return 0;
    return 1;
}

static void die(const char *what)
{
    fprintf(stderr, "shift_pair: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void open_host(struct host *h, const char *dev)
{
    int n;
    struct ibv_device **l = V.get_device_list(&n);
    struct ibv_qp_init_attr ia;
    int i;
    for (i = 0; l && i < n; i++)
        if (!strcmp(V.get_device_name(l[i]), dev))
            break;
    if (!l || i == n) {
        fprintf(stderr, "shift_pair: device %s not found\n", dev);
        exit(2);
    }
    if (!(h->ctx = V.open_device(l[i])))
        die("open_device");
    V.free_device_list(l);
    if (!(h->pd = V.alloc_pd(h->ctx)))
        die("alloc_pd");
    h->buf = aligned_alloc(4096, (buf_len() + 4095) / 4096 * 4096);
    memset(h->buf, 0, buf_len());
    if (!(h->mr = V.reg_mr(h->pd, h->buf, buf_len(), IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
                                                         IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC)))
        die("reg_mr");
    if (opt.events && !(h->channel = V.create_comp_channel(h->ctx)))
        die("create_comp_channel");
    if (!(h->cq = V.create_cq(h->ctx, 4 * opt.slots + 16, NULL, h->channel, 0)))
        die("create_cq");
    memset(&ia, 0, sizeof(ia));
    ia.send_cq = ia.recv_cq = h->cq;
    ia.qp_type = IBV_QPT_RC;
    ia.cap.max_send_wr = 4 * (uint32_t)opt.slots;
    ia.cap.max_recv_wr = 2 * (uint32_t)opt.slots;
    ia.cap.max_send_sge = ia.cap.max_recv_sge = 1;
    if (opt.ex && h->name == 'A') {
        struct ibv_qp_init_attr_ex x;
        memset(&x, 0, sizeof(x));
        memcpy(&x, &ia, sizeof(ia));
        x.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
        x.pd = h->pd;
        x.send_ops_flags = IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM |
                           IBV_QP_EX_WITH_RDMA_READ | IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD |
                           (opt.ex_extra ? IBV_QP_EX_WITH_LOCAL_INV : 0);
        if (!(h->qp = ibv_create_qp_ex(h->ctx, &x)) || !(h->qpx = V.qp_to_qp_ex(h->qp)))
            die("create_qp_ex");
    } else if (!(h->qp = V.create_qp(h->pd, &ia))) {
        die("create_qp");
    }
    if (V.query_gid(h->ctx, 1, opt.gid_index, &h->gid))
        die("query_gid");
}

static void connect_host(struct host *h)
{
    struct ibv_qp_attr a;
    memset(&a, 0, sizeof(a));
    a.qp_state = IBV_QPS_INIT;
    a.port_num = 1;
    a.qp_access_flags = opt.qp_access >= 0 ? (unsigned)opt.qp_access
                                           : IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
                                                 IBV_ACCESS_REMOTE_ATOMIC;
    if (V.modify_qp(h->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
        die("modify INIT");
    memset(&a, 0, sizeof(a));
    a.qp_state = IBV_QPS_RTR;
    a.path_mtu = IBV_MTU_1024;
    a.dest_qp_num = h->peer.qpn;
    a.max_dest_rd_atomic = 4;
    a.min_rnr_timer = 12;
    a.ah_attr.is_global = 1;
    a.ah_attr.grh.dgid = h->peer.gid;
    a.ah_attr.grh.sgid_index = (uint8_t)opt.gid_index;
    a.ah_attr.grh.hop_limit = 64;
    a.ah_attr.port_num = 1;
    if (V.modify_qp(h->qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                                   IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
        die("modify RTR");
    memset(&a, 0, sizeof(a));
    a.qp_state = IBV_QPS_RTS;
    a.timeout = (uint8_t)opt.timeout;
    a.retry_cnt = (uint8_t)opt.retry;
    a.rnr_retry = 7;
    a.max_rd_atomic = 4;
    if (V.modify_qp(h->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
                                   IBV_QP_MAX_QP_RD_ATOMIC))
        die("modify RTS");
}

static void gid_hex(const union ibv_gid *g, char *out)
{
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", g->raw[i]);
}
static void gid_unhex(const char *s, union ibv_gid *g)
{
    for (int i = 0; i < 16; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        g->raw[i] = (uint8_t)v;
    }
}

/* --role a|b: publish ours in DIR/<role>.json, wait for the peer's (the same format the Python end uses) */
static void exchange(struct host *h, const char *mine, const char *theirs)
{
    char path[512], tmp[540], hex[33], line[512];
    FILE *f;
    double t0 = now_s();
    gid_hex(&h->gid, hex);
    snprintf(path, sizeof(path), "%s/%s.json", opt.exchange, mine);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f)
        die("exchange file");
    fprintf(f, "{\"gid\": \"%s\", \"qpn\": %u, \"rkey\": %u, \"addr\": %" PRIu64 "}\n", hex, h->qp->qp_num,
            h->mr->rkey, (uint64_t)(uintptr_t)h->buf);
    fclose(f);
    rename(tmp, path);
    snprintf(path, sizeof(path), "%s/%s.json", opt.exchange, theirs);
    while (!(f = fopen(path, "r"))) {
        if (now_s() - t0 > opt.give_up_s) {
            fprintf(stderr, "shift_pair: no %s within %d s\n", path, opt.give_up_s);
            exit(2);
        }
        usleep(10000);
    }
    if (!fgets(line, sizeof(line), f)) {
        fclose(f);
        die("exchange read");
    }
    fclose(f);
    {
        char g[40];
        unsigned qpn, rkey;
        uint64_t addr;
        if (sscanf(line, "{\"gid\": \"%32[0-9a-f]\", \"qpn\": %u, \"rkey\": %u, \"addr\": %" SCNu64, g, &qpn, &rkey,
                   &addr) != 4) {
            fprintf(stderr, "shift_pair: malformed %s: %s\n", path, line);
            exit(2);
        }
        gid_unhex(g, &h->peer.gid);
        h->peer.qpn = qpn;
        h->peer.rkey = rkey;
        h->peer.addr = addr;
    }
}

static void link_pair(struct host *a, struct host *b)
{
    a->peer.gid = b->gid;
    a->peer.qpn = b->qp->qp_num;
    a->peer.rkey = b->mr->rkey;
    a->peer.addr = (uintptr_t)b->buf;
    b->peer.gid = a->gid;
    b->peer.qpn = a->qp->qp_num;
    b->peer.rkey = a->mr->rkey;
    b->peer.addr = (uintptr_t)a->buf;
}

/* ---------------------------------------------------------------- posting */

static void post_recv(struct host *h, uint64_t slot)
{
    struct ibv_sge s = {.addr = (uintptr_t)rx_slot(h, slot), .length = (uint32_t)opt.size, .lkey = h->mr->lkey};
    struct ibv_recv_wr w = {.wr_id = slot % (uint64_t)opt.slots, .sg_list = &s, .num_sge = 1}, *bad;
    if (ibv_post_recv(h->qp, &w, &bad))
        die("post_recv");
}

/* one send WR through ibv_post_send, or through ibv_wr_* on an extended QP */
static void post_one(struct host *h, uint64_t wr_id, enum ibv_wr_opcode op, int signaled, uint8_t *local,
                     uint32_t len, uint64_t raddr, uint32_t imm, uint64_t add)
{
    struct ibv_sge s = {.addr = (uintptr_t)local, .length = len, .lkey = h->mr->lkey};
    struct ibv_send_wr w, *bad;
    if (h->qpx) {
        struct ibv_qp_ex *x = h->qpx;
        ibv_wr_start(x);
        x->wr_id = wr_id;
        x->wr_flags = signaled ? IBV_SEND_SIGNALED : 0;
        switch (op) {
        case IBV_WR_SEND:
            ibv_wr_send(x);
            break;
        case IBV_WR_RDMA_WRITE:
            ibv_wr_rdma_write(x, h->peer.rkey, raddr);
            break;
        case IBV_WR_RDMA_WRITE_WITH_IMM:
            ibv_wr_rdma_write_imm(x, h->peer.rkey, raddr, imm);
            break;
        case IBV_WR_RDMA_READ:
            ibv_wr_rdma_read(x, h->peer.rkey, raddr);
            break;
        default:
            ibv_wr_atomic_fetch_add(x, h->peer.rkey, raddr, add);
        }
        if (len)
            ibv_wr_set_sge(x, h->mr->lkey, (uintptr_t)local, len);
        else
            ibv_wr_set_sge_list(x, 0, NULL);
        if (ibv_wr_complete(x))
            die("ibv_wr_complete");
        return;
    }
    memset(&w, 0, sizeof(w));
    w.wr_id = wr_id;
    w.opcode = op;
    w.send_flags = signaled ? IBV_SEND_SIGNALED : 0;
    w.sg_list = len ? &s : NULL;
    w.num_sge = len ? 1 : 0;
    w.imm_data = imm;
    if (op == IBV_WR_ATOMIC_FETCH_AND_ADD) {
        w.wr.atomic.remote_addr = raddr;
        w.wr.atomic.rkey = h->peer.rkey;
        w.wr.atomic.compare_add = add;
    } else {
        w.wr.rdma.remote_addr = raddr;
        w.wr.rdma.rkey = h->peer.rkey;
    }
    if (ibv_post_send(h->qp, &w, &bad))
        die("post_send");
}

/* ---------------------------------------------------------------- the workloads */

static int is(const char *w) { return !strcmp(opt.workload, w); }

static void note_error(struct host *h, const struct ibv_wc *wc)
{
    if (!h->errors++)
        snprintf(h->error_status, sizeof(h->error_status), "%s", V.wc_status_str(wc->status));
}

static void on_receive(struct host *h, uint64_t seq, const uint8_t *data, int n)
{
    if (seq < h->next_expect)
        h->duplicates++;
    else if (seq > h->next_expect)
        h->gaps += seq - h->next_expect;
    if (data && !check(seq, data, n))
        h->corrupt++;
    if (seq >= h->next_expect)
        h->next_expect = seq + 1;
    h->delivered++;
}

/* A: post what the workload allows now, poll its CQ */
static int step_a(struct host *a)
{
    struct ibv_wc wc[16];
    int got, handled = 0;
    uint64_t window = (uint64_t)opt.slots;
    while (!a->errors && a->next_send < (uint64_t)opt.n && a->outstanding < window) {
        uint64_t s = a->next_send;
        if (is("nccl") && s - *(volatile uint64_t *)credit_word(a) >= window)
            break;
        if (is("pingpong") && a->next_expect < s)
            break; /* wait for the echo of the previous message */
        if (opt.pace_us && opt.nrestore && s >= (uint64_t)opt.restore_at[0])
            usleep((useconds_t)opt.pace_us); /* after the first repair: time for probe and switch-back */
        if (listed(opt.fault_at, opt.nfault, s) && opt.fault[0])
            act(opt.fault);
        if (listed(opt.restore_at, opt.nrestore, s) && opt.restore[0])
            act(opt.restore);
        for (int i = 0; i < opt.nat; i++)
            if ((uint64_t)opt.at[i] == s)
                act(opt.at_action[i]);
        for (int i = 0; i < opt.nat_s; i++) /* time-based actions (rxe: the speed is not known in advance) */
            if (opt.at_s[i] >= 0 && now_s() - t_start >= opt.at_s[i]) {
                act(opt.at_s_action[i]);
                opt.at_s[i] = -1;
            }
        if (opt.duration_s > 0 && now_s() - t_start >= opt.duration_s)
            opt.n = (int)s; /* time is up: this is the last message */
        if (s >= (uint64_t)opt.n)
            break;
        if (is("badrkey")) { /* the application's own bug: a wrong rkey (surfaced, never failed over) */
            a->peer.rkey ^= 0x5a5a;
            post_one(a, s, IBV_WR_RDMA_WRITE, 1, tx_slot(a, s), (uint32_t)opt.size, a->peer.addr, 0, 0);
            a->peer.rkey ^= 0x5a5a;
        } else if (is("send") || is("pingpong")) {
            pattern(s, tx_slot(a, s), opt.size);
            post_one(a, s, IBV_WR_SEND, 1, tx_slot(a, s), (uint32_t)opt.size, 0, 0, 0);
        } else if (is("nccl")) {
            uint32_t half = (uint32_t)opt.size / 2;
            uint64_t dst = a->peer.addr + (s % window) * (uint64_t)opt.size;
            pattern(s, tx_slot(a, s), opt.size);
            post_one(a, 1000000 + 2 * s, IBV_WR_RDMA_WRITE, 0, tx_slot(a, s), half, dst, 0, 0);
            post_one(a, 1000001 + 2 * s, IBV_WR_RDMA_WRITE, 0, tx_slot(a, s) + half, half, dst + half, 0, 0);
            post_one(a, s, IBV_WR_RDMA_WRITE_WITH_IMM, 1, NULL, 0, a->peer.addr, htonl((uint32_t)s + 1), 0);
        } else if (is("read")) {
            post_one(a, s, IBV_WR_RDMA_READ, 1, rx_slot(a, s), (uint32_t)opt.size,
                     a->peer.addr + (s % window) * (uint64_t)opt.size, 0, 0);
        } else if (is("fadd")) {
            post_one(a, s, IBV_WR_ATOMIC_FETCH_AND_ADD, 1, tx_slot(a, 0), 8, a->peer.addr + credit_off() + 8, 0, 1);
        }
        a->next_send++;
        a->outstanding++;
    }
    while ((got = ibv_poll_cq(a->cq, 16, wc)) > 0)
        for (int i = 0; i < got; i++, handled++) {
            if (wc[i].status != IBV_WC_SUCCESS) {
                note_error(a, &wc[i]);
                continue;
            }
            if (wc[i].opcode == IBV_WC_RECV) { /* pingpong echo */
                uint64_t seq;
                memcpy(&seq, rx_slot(a, wc[i].wr_id), 8);
                on_receive(a, seq, rx_slot(a, wc[i].wr_id), opt.size);
                post_recv(a, wc[i].wr_id);
                continue;
            }
            a->outstanding--;
            a->done++;
            if (is("read")) {
                uint64_t s = wc[i].wr_id;
                on_receive(a, s, NULL, 0);
                if (!check(s % (uint64_t)opt.slots, rx_slot(a, s), opt.size))
                    a->corrupt++;
            }
        }
    if (got < 0)
        die("poll_cq");
    return handled;
}

/* B: poll its CQ, check, repost, answer (credit / echo) */
static int step_b(struct host *b)
{
    struct ibv_wc wc[16];
    int got, handled = 0;
    while ((got = ibv_poll_cq(b->cq, 16, wc)) > 0)
        for (int i = 0; i < got; i++, handled++) {
            uint64_t slot = wc[i].wr_id, seq;
            if (wc[i].status != IBV_WC_SUCCESS) {
                note_error(b, &wc[i]);
                continue;
            }
            if (!(wc[i].opcode & IBV_WC_RECV))
                continue; /* B's own credit write / echo completed */
            if (is("nccl")) {
                seq = ntohl(wc[i].imm_data) - 1;
                on_receive(b, seq, rx_slot(b, seq), opt.size);
                *credit_word(b) = b->next_expect; /* the credit: every step up to next_expect is consumed */
                post_one(b, 2000000 + seq, IBV_WR_RDMA_WRITE, 1, (uint8_t *)credit_word(b), 8,
                         b->peer.addr + credit_off(), 0, 0);
            } else {
                memcpy(&seq, rx_slot(b, slot), 8);
                on_receive(b, seq, rx_slot(b, slot), opt.size);
                if (is("pingpong")) {
                    memcpy(tx_slot(b, slot), rx_slot(b, slot), (size_t)opt.size);
                    post_one(b, 3000000 + seq, IBV_WR_SEND, 1, tx_slot(b, slot), (uint32_t)opt.size, 0, 0, 0);
                }
            }
            post_recv(b, slot);
        }
    if (got < 0)
        die("poll_cq");
    return handled;
}

static int a_finished(const struct host *a)
{
    if (a->errors)
        return 1;
    if (is("pingpong"))
        return a->next_expect >= (uint64_t)opt.n;
    return a->done >= (uint64_t)opt.n;
}
static uint64_t peer_sent; /* --role b: the count A reported in a.done */
static int b_finished(const struct host *b)
{
    if (b->errors)
        return 1;
    return is("read") || is("fadd") || is("badrkey") || b->next_expect >= (uint64_t)opt.n ||
           (peer_sent && b->next_expect >= peer_sent);
}

static void report(const struct host *h, int sender)
{
    int ok = !h->errors && !h->duplicates && !h->gaps && !h->corrupt;
    printf("{\"host\": \"%c\", \"workload\": \"%s\", \"role\": \"%s\", \"messages\": %d, \"sent\": %" PRIu64
           ", \"completed\": %" PRIu64 ", \"delivered\": %" PRIu64 ", \"duplicates\": %" PRIu64 ", \"gaps\": %" PRIu64
           ", \"corrupt\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"error_status\": \"%s\", \"ok\": %s}\n",
           h->name, opt.workload, sender ? "sender" : "receiver", opt.n, h->next_send, h->done, h->delivered,
           h->duplicates, h->gaps, h->corrupt, h->errors, h->error_status, ok ? "true" : "false");
    fflush(stdout);
}

/* --events: each host in its own thread, asleep in ibv_get_cq_event whenever its CQ is empty (the way
 * ibv_rc_pingpong waits): a failover must wake it although the completions come from the backup CQ */
struct ev_arg {
    struct host *h;
    int sender;
};
static volatile int ev_stop;
static void *event_loop(void *p)
{
    struct ev_arg *e = p;
    struct host *h = e->h;
    while (!ev_stop) {
        int n = e->sender ? step_a(h) : step_b(h), done = e->sender ? a_finished(h) : b_finished(h);
        struct ibv_cq *cq;
        void *ctx;
        if (done)
            break;
        if (n || (e->sender && h->outstanding < (uint64_t)opt.slots && h->next_send < (uint64_t)opt.n))
            continue;
        if (ibv_req_notify_cq(h->cq, 0))
            die("req_notify_cq");
        if ((e->sender ? step_a(h) : step_b(h)) > 0) /* completions that raced the arming */
            continue;
        if (V.get_cq_event(h->channel, &cq, &ctx))
            die("get_cq_event");
        V.ack_cq_events(cq, 1);
    }
    return NULL;
}

static void usage(void)
{
    fputs("usage: shift_pair [--role both|a|b] [--devs A,B] [--workload send|nccl|read|pingpong|fadd] [--n N]\n"
          "  [--size B] [--slots S] [--fault fake:p:down|cmd:...] [--fault-at K,K2..] [--restore fake:p:up|cmd:...]\n"
          "  [--restore-at K,K2..] [--at K:ACTION].. [--pace-us U] [--timeout T] [--retry R] [--gid-index I] [--qp-access F] [--ex|--ex-extra] [--events]\n"
          "  [--exchange DIR] [--wait-s S] [--give-up-s S]\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    struct host A = {.name = 'A'}, B = {.name = 'B'};
    int both, ok;
    double t0, t_end = 0;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--ex")) {
            opt.ex = 1;
            continue;
        }
        if (!strcmp(k, "--events")) { /* sleep in ibv_get_cq_event between completions (one thread per host) */
            opt.events = 1;
            continue;
        }
        if (!strcmp(k, "--ex-extra")) { /* also ask for an operation SHIFT cannot log: the QP is refused */
            opt.ex = opt.ex_extra = 1;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(k, "--role"))
            snprintf(opt.role, sizeof(opt.role), "%s", v);
        else if (!strcmp(k, "--devs")) {
            const char *c = strchr(v, ',');
            if (!c)
                usage();
            snprintf(opt.devs[0], sizeof(opt.devs[0]), "%.*s", (int)(c - v), v);
            snprintf(opt.devs[1], sizeof(opt.devs[1]), "%s", c + 1);
        } else if (!strcmp(k, "--workload"))
            snprintf(opt.workload, sizeof(opt.workload), "%s", v);
        else if (!strcmp(k, "--n"))
            opt.n = atoi(v);
        else if (!strcmp(k, "--size"))
            opt.size = atoi(v);
        else if (!strcmp(k, "--slots"))
            opt.slots = atoi(v);
        else if (!strcmp(k, "--fault"))
            snprintf(opt.fault, sizeof(opt.fault), "%s", v);
        else if (!strcmp(k, "--fault-at"))
            opt.nfault = parse_list(v, opt.fault_at);
        else if (!strcmp(k, "--restore"))
            snprintf(opt.restore, sizeof(opt.restore), "%s", v);
        else if (!strcmp(k, "--restore-at"))
            opt.nrestore = parse_list(v, opt.restore_at);
        else if (!strcmp(k, "--at") && strchr(v, ':') && opt.nat < 8) { /* --at K:ACTION, any number */
            opt.at[opt.nat] = atoi(v);
            snprintf(opt.at_action[opt.nat++], sizeof(opt.at_action[0]), "%s", strchr(v, ':') + 1);
        } else if (!strcmp(k, "--at-s") && strchr(v, ':') && opt.nat_s < 8) { /* --at-s SECONDS:ACTION */
            opt.at_s[opt.nat_s] = atof(v);
            snprintf(opt.at_s_action[opt.nat_s++], sizeof(opt.at_s_action[0]), "%s", strchr(v, ':') + 1);
        } else if (!strcmp(k, "--duration-s")) {
            opt.duration_s = atof(v);
            opt.n = 1 << 30; /* until the time is up */
        } else if (!strcmp(k, "--pace-us"))
            opt.pace_us = atoi(v);
        else if (!strcmp(k, "--timeout"))
            opt.timeout = atoi(v);
        else if (!strcmp(k, "--retry"))
            opt.retry = atoi(v);
        else if (!strcmp(k, "--qp-access")) /* e.g. 0, as ibv_rc_pingpong sets for SEND/RECV */
            opt.qp_access = atoi(v);
        else if (!strcmp(k, "--gid-index"))
            opt.gid_index = atoi(v);
        else if (!strcmp(k, "--exchange"))
            snprintf(opt.exchange, sizeof(opt.exchange), "%s", v);
        else if (!strcmp(k, "--wait-s"))
            opt.wait_s = atoi(v);
        else if (!strcmp(k, "--give-up-s"))
            opt.give_up_s = atoi(v);
        else
            usage();
    }
    if (opt.size < 16 || opt.slots < 1 || opt.n < 1 || (strcmp(opt.role, "both") && !opt.exchange[0]))
        usage();
    if (load_verbs())
        return 2;
    both = !strcmp(opt.role, "both");
    if (both || !strcmp(opt.role, "a"))
        open_host(&A, opt.devs[0]);
    if (both || !strcmp(opt.role, "b"))
        open_host(&B, opt.devs[1]);
    for (uint64_t s = 0; s < (uint64_t)opt.slots; s++) { /* B's read slots carry a static pattern */
        if (B.buf)
            pattern(s, rx_slot(&B, s), opt.size);
    }
    if (both)
        link_pair(&A, &B);
    else if (!strcmp(opt.role, "a"))
        exchange(&A, "a", "b");
    else
        exchange(&B, "b", "a");
    if (A.qp)
        connect_host(&A);
    if (B.qp)
        connect_host(&B);
    for (uint64_t s = 0; s < (uint64_t)opt.slots; s++) {
        if (B.qp)
            post_recv(&B, s);
        if (A.qp && is("pingpong"))
            post_recv(&A, s);
    }
    if (!both)
        usleep(200000); /* the peer's receive WQEs are posted before traffic starts */
    t0 = t_start = now_s();
    if (opt.events) {
        pthread_t ta, tb;
        struct ev_arg ea = {&A, 1}, eb = {&B, 0};
        if (!both)
            usage();
        pthread_create(&ta, NULL, event_loop, &ea);
        pthread_create(&tb, NULL, event_loop, &eb);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
    }
    for (; !opt.events;) {
        int a_done = !A.qp || a_finished(&A), b_done = !B.qp || b_finished(&B);
        if (A.qp)
            step_a(&A);
        if (B.qp)
            step_b(&B);
        if (!both && B.qp && !peer_sent) { /* how many messages A sent, once it is done */
            char path[512];
            FILE *f;
            snprintf(path, sizeof(path), "%s/a.done", opt.exchange);
            if ((f = fopen(path, "r"))) {
                unsigned long long v;
                if (fscanf(f, "{\"sent\": %llu", &v) == 1)
                    peer_sent = v;
                fclose(f);
            }
        }
        if (both && (A.errors || B.errors) && !t_end)
            a_done = b_done = 1; /* one end saw an error: the run is over (as perftest's would be) */
        if (a_done && b_done) {
            if (!t_end)
                t_end = now_s();
            if (now_s() - t_end >= opt.wait_s)
                break;
            usleep(1000);
        }
        if (now_s() - t0 > opt.give_up_s) {
            fprintf(stderr, "shift_pair: gave up after %d s (A sent %" PRIu64 " done %" PRIu64 ", B got %" PRIu64 ")\n",
                    opt.give_up_s, A.next_send, A.done, B.next_expect);
            break;
        }
    }
    ok = 1;
    if (A.qp) {
        report(&A, 1);
        ok &= !A.errors && !A.duplicates && !A.gaps && !A.corrupt && a_finished(&A);
    }
    if (B.qp) {
        report(&B, 0);
        ok &= !B.errors && !B.duplicates && !B.gaps && !B.corrupt && b_finished(&B);
    }
    if (!both) { /* stay connected until the peer is done too */
        char path[512], tmp[540];
        FILE *f;
        snprintf(path, sizeof(path), "%s/%s.done", opt.exchange, opt.role);
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        if ((f = fopen(tmp, "w"))) {
            fprintf(f, "{\"sent\": %" PRIu64 ", \"delivered\": %" PRIu64 "}\n", A.qp ? A.next_send : 0,
                    B.qp ? B.delivered : 0);
            fclose(f);
            rename(tmp, path);
        }
        snprintf(path, sizeof(path), "%s/%s.done", opt.exchange, !strcmp(opt.role, "a") ? "b" : "a");
        for (double t = now_s(); access(path, F_OK) && now_s() - t < opt.give_up_s;) {
            if (A.qp)
                step_a(&A);
            if (B.qp)
                step_b(&B);
            usleep(1000);
        }
    }
    for (struct host *h = &A; h; h = h == &A ? &B : NULL)
        if (h->qp) {
            V.destroy_qp(h->qp);
            V.destroy_cq(h->cq);
            V.dereg_mr(h->mr);
            V.dealloc_pd(h->pd);
            V.close_device(h->ctx);
        }
    return ok ? 0 : 1;
}
