/* shift_interpose.c -- libshift.so: run unmodified verbs programs under SHIFT with LD_PRELOAD.
 *
 * ibv_post_send / ibv_post_recv / ibv_poll_cq are static inline in <infiniband/verbs.h> and jump through
 * context->ops, so preloading those symbols catches nothing. Like DMTCP's InfiniBand plugin we interpose the
 * exported control verbs and, in ibv_open_device, swap ops.post_send / ops.post_recv / ops.poll_cq for logging
 * versions (paper §4.1: SHIFTLib lives in the control *and* data verbs). Per protected RC QP:
 *  - every posted WR is logged in the C WR log (shift_wrlog.h) and retired by successful completions;
 *  - shadow resources (PD, MRs, CQs, QP) live on the backup device SHIFT_BACKUP_DEVICE (paper §4.2), with
 *    backup attributes exchanged through the KV store (shift_kv.h);
 *  - the first error completion (or IBV_EVENT_PORT_ERR read by the application) drives the *generated* state
 *    machine (shift_qpcore.h <- shift_machine_gen.h <- shift_core/shift/machine.py): ERROR_UNSAFE surfaces the
 *    error; ERROR_SAFE connects the backup QP, replays the outstanding WRs in posting order with MR keys
 *    rewritten (WQ rewind, §4.3.2), hides the failed QP's error/flush completions and serves the backup CQ's
 *    completions under the original QP number.
 * What it does NOT do (csrc/README.md "Limits"): the receive-counter handshake, probing and switch-back.
 * Never breaks the application: anything it cannot protect is passed through with one warning.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shift_ibv_log.h"
#include "shift_kv.h"
#include "shift_qpcore.h"

/* ---------------------------------------------------------------- configuration and logging */

static struct {
    char backup_device[64];
    int backup_port;
    int backup_gid_index; /* -1: same index as the application's sgid_index */
    int log_level;        /* 0 quiet, 1 warnings and failover events (default), 2 debug */
    int replay_two_sided; /* replay SEND / WRITE_WITH_IMM without the counter handshake (may duplicate) */
    struct shift_kv_config kv;
} cfg = {.backup_port = 1, .backup_gid_index = -1, .log_level = 1};

static void slog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void slog(int level, const char *fmt, ...)
{
    va_list ap;
    if (level > cfg.log_level)
        return;
    va_start(ap, fmt);
    fputs("libshift: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void set_option(const char *key, const char *val)
{
    if (!strcmp(key, "backup_device"))
        snprintf(cfg.backup_device, sizeof(cfg.backup_device), "%s", val);
    else if (!strcmp(key, "backup_port"))
        cfg.backup_port = atoi(val);
    else if (!strcmp(key, "backup_gid_index"))
        cfg.backup_gid_index = atoi(val);
    else if (!strcmp(key, "log"))
        cfg.log_level = atoi(val);
    else if (!strcmp(key, "kv_dir"))
        snprintf(cfg.kv.dir, sizeof(cfg.kv.dir), "%s", val);
    else if (!strcmp(key, "kv_redis"))
        snprintf(cfg.kv.redis, sizeof(cfg.kv.redis), "%s", val);
    else if (!strcmp(key, "kv_timeout_ms"))
        cfg.kv.timeout_ms = atoi(val);
    else if (!strcmp(key, "replay_two_sided"))
        cfg.replay_two_sided = atoi(val);
    else
        slog(1, "unknown option '%s' ignored (see csrc/README.md)", key);
}

/* SHIFT_CONFIG=file with "key = value" lines, then SHIFT_<KEY> environment variables (which win). */
static void load_config(void)
{
    static const char *keys[] = {"backup_device", "backup_port", "backup_gid_index", "log", "kv_dir", "kv_redis",
                                 "kv_timeout_ms", "replay_two_sided"};
    const char *path = getenv("SHIFT_CONFIG");
    char line[512], env[64];
    size_t i, j;
    snprintf(cfg.kv.dir, sizeof(cfg.kv.dir), "/tmp/shift-kv");
    cfg.kv.timeout_ms = 2000;
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f) {
            slog(1, "cannot read SHIFT_CONFIG=%s: %s (continuing with environment only)", path, strerror(errno));
        } else {
            while (fgets(line, sizeof(line), f)) {
                char *eq = strchr(line, '='), *k = line, *v, *end;
                if (line[0] == '#' || !eq)
                    continue;
                *eq = 0;
                v = eq + 1;
                while (*k == ' ' || *k == '\t')
                    k++;
                for (end = eq - 1; end >= k && (*end == ' ' || *end == '\t'); end--)
                    *end = 0;
                while (*v == ' ' || *v == '\t')
                    v++;
                v[strcspn(v, "\r\n")] = 0;
                set_option(k, v);
            }
            fclose(f);
        }
    }
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *val;
        snprintf(env, sizeof(env), "SHIFT_%s", keys[i]);
        for (j = 6; env[j]; j++)
            env[j] = (char)(env[j] >= 'a' && env[j] <= 'z' ? env[j] - 32 : env[j]);
        if ((val = getenv(env)))
            set_option(keys[i], val);
    }
}

/* ---------------------------------------------------------------- the real libibverbs */

static struct {
    struct ibv_device **(*get_device_list)(int *);
    void (*free_device_list)(struct ibv_device **);
    struct ibv_context *(*open_device)(struct ibv_device *);
    int (*close_device)(struct ibv_context *);
    struct ibv_pd *(*alloc_pd)(struct ibv_context *);
    int (*dealloc_pd)(struct ibv_pd *);
    struct ibv_mr *(*reg_mr)(struct ibv_pd *, void *, size_t, int);
    struct ibv_mr *(*reg_mr_iova)(struct ibv_pd *, void *, size_t, uint64_t, int);
    struct ibv_mr *(*reg_mr_iova2)(struct ibv_pd *, void *, size_t, uint64_t, unsigned int);
    int (*dereg_mr)(struct ibv_mr *);
    struct ibv_cq *(*create_cq)(struct ibv_context *, int, void *, struct ibv_comp_channel *, int);
    int (*destroy_cq)(struct ibv_cq *);
    struct ibv_qp *(*create_qp)(struct ibv_pd *, struct ibv_qp_init_attr *);
    int (*modify_qp)(struct ibv_qp *, struct ibv_qp_attr *, int);
    int (*destroy_qp)(struct ibv_qp *);
    int (*get_async_event)(struct ibv_context *, struct ibv_async_event *);
    int (*query_gid)(struct ibv_context *, uint8_t, int, union ibv_gid *);
} real;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_ok;

#define RESOLVE(field, name)                                                                                           \
    do {                                                                                                               \
        *(void **)(&real.field) = dlsym(RTLD_NEXT, name);                                                              \
        if (!real.field) {                                                                                             \
            slog(0, "cannot find %s in libibverbs (%s); is this a verbs program?", name, dlerror());                   \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

static void init(void)
{
    load_config();
    RESOLVE(get_device_list, "ibv_get_device_list");
    RESOLVE(free_device_list, "ibv_free_device_list");
    RESOLVE(open_device, "ibv_open_device");
    RESOLVE(close_device, "ibv_close_device");
    RESOLVE(alloc_pd, "ibv_alloc_pd");
    RESOLVE(dealloc_pd, "ibv_dealloc_pd");
    RESOLVE(reg_mr, "ibv_reg_mr");
    RESOLVE(reg_mr_iova, "ibv_reg_mr_iova");
    RESOLVE(reg_mr_iova2, "ibv_reg_mr_iova2");
    RESOLVE(dereg_mr, "ibv_dereg_mr");
    RESOLVE(create_cq, "ibv_create_cq");
    RESOLVE(destroy_cq, "ibv_destroy_cq");
    RESOLVE(create_qp, "ibv_create_qp");
    RESOLVE(modify_qp, "ibv_modify_qp");
    RESOLVE(destroy_qp, "ibv_destroy_qp");
    RESOLVE(get_async_event, "ibv_get_async_event");
    RESOLVE(query_gid, "ibv_query_gid");
    init_ok = 1;
    slog(2, "loaded; state machine %s; backup device %s; kv %s%s", SHIFT_MACHINE_FINGERPRINT,
         cfg.backup_device[0] ? cfg.backup_device : "(none)", cfg.kv.redis[0] ? "redis " : "dir ",
         cfg.kv.redis[0] ? cfg.kv.redis : cfg.kv.dir);
}

static int ready(void)
{
    pthread_once(&init_once, init);
    return init_ok;
}

/* ---------------------------------------------------------------- tables (written under table_lock) */

typedef int (*post_send_fn)(struct ibv_qp *, struct ibv_send_wr *, struct ibv_send_wr **);
typedef int (*post_recv_fn)(struct ibv_qp *, struct ibv_recv_wr *, struct ibv_recv_wr **);
typedef int (*poll_cq_fn)(struct ibv_cq *, int, struct ibv_wc *);

struct shift_ctx {
    struct ibv_context *ctx;    /* the application's context (ops swapped) */
    struct ibv_context *backup; /* the backup device's context, or NULL */
    post_send_fn post_send;
    post_recv_fn post_recv;
    poll_cq_fn poll_cq;
    uint64_t guid; /* node GUID of the default device: names this host's MR keys in the KV store */
};

struct shift_qp {
    struct ibv_qp *qp;
    struct shift_ctx *sc;
    pthread_spinlock_t lock;
    struct shift_qp_core core;
    uint8_t *inline_arena;
    uint32_t inline_max;
    int sig_all;
    int protected; /* 0: pass-through (overflow, too many SGEs, wr_id mismatch) */
    int failed_over;
    struct ibv_qp *bqp; /* backup QP, or NULL */
    struct ibv_qp_attr rtr, rts;
    int rtr_mask, rts_mask, have_rtr, have_rts, bqp_rtr, bqp_rts; /* app's attrs seen; backup QP reached */
    char peer_key[160]; /* KV key of the peer's backup QP */
    char my_key[160];   /* KV key this QP published (removed at destroy, so a later run never reads it) */
    uint64_t peer_guid;
    uint8_t port; /* the application's port (from INIT), to match IBV_EVENT_PORT_ERR */
};

#define MAX_CTX 32
#define TABLE 4096 /* power of two: QPs, and the shadow maps below */

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shift_ctx ctxs[MAX_CTX];
static struct shift_qp *_Atomic qps[TABLE]; /* by qp pointer */
static atomic_int any_failover;

struct pmap {
    uint64_t key[TABLE];
    void *_Atomic val[TABLE];
};
static struct pmap shadow; /* PD / CQ -> backup PD / CQ; (ctx, lkey) and MR -> backup MR; backup qp_num -> QP */

static inline uint64_t hash64(uint64_t k) { return (k * 0x9E3779B97F4A7C15ull) >> 52; /* 12 bits */ }

static void pmap_put(struct pmap *m, uint64_t key, void *val)
{
    uint64_t i = hash64(key);
    for (int n = 0; n < TABLE; n++, i = (i + 1) & (TABLE - 1))
        if (m->key[i] == key || m->key[i] == 0 || atomic_load(&m->val[i]) == NULL) {
            m->key[i] = key;
            atomic_store(&m->val[i], val);
            return;
        }
    slog(1, "shadow table full (%d entries): resource left unprotected", TABLE);
}

static void *pmap_get(struct pmap *m, uint64_t key)
{
    uint64_t i = hash64(key);
    for (int n = 0; n < TABLE && m->key[i]; n++, i = (i + 1) & (TABLE - 1))
        if (m->key[i] == key)
            return atomic_load(&m->val[i]);
    return NULL;
}

#define PKEY(p) ((uint64_t)(uintptr_t)(p))
#define LKEY(sc, lkey) ((((uint64_t)((sc) - ctxs) + 1) << 40) | (1ull << 39) | (lkey))
#define BQPN(sc, qpn) ((((uint64_t)((sc) - ctxs) + 1) << 40) | (1ull << 38) | (qpn))
#define QPN(sc, qpn) ((((uint64_t)((sc) - ctxs) + 1) << 40) | (1ull << 37) | (qpn))

static struct shift_ctx *ctx_of(struct ibv_context *ctx)
{
    for (int i = 0; i < MAX_CTX; i++)
        if (ctxs[i].ctx == ctx)
            return &ctxs[i];
    return NULL;
}

/* The context's entry; the swapped ops are only installed on registered contexts, so a miss means the
 * application used a context after ibv_close_device: report it instead of jumping through NULL. */
static struct shift_ctx *passthrough(struct ibv_context *ctx)
{
    struct shift_ctx *sc = ctx_of(ctx);
    if (!sc) {
        slog(0, "data verb on a context libshift does not know (used after ibv_close_device?): aborting");
        abort();
    }
    return sc;
}

static inline struct shift_qp *qp_of(struct ibv_qp *qp)
{
    uint64_t i = hash64(PKEY(qp));
    for (int n = 0; n < TABLE; n++, i = (i + 1) & (TABLE - 1)) {
        struct shift_qp *q = atomic_load_explicit(&qps[i], memory_order_acquire);
        if (!q)
            return NULL;
        if (q->qp == qp)
            return q;
    }
    return NULL;
}

/* ---------------------------------------------------------------- failover (control path) */

static void gid_str(const union ibv_gid *gid, char *out, size_t len)
{
    snprintf(out, len, "%016" PRIx64 "%016" PRIx64, be64toh(gid->global.subnet_prefix),
             be64toh(gid->global.interface_id));
}

static int parse_gid(const char *s, union ibv_gid *gid)
{
    char hi[17] = {0};
    if (strlen(s) < 32)
        return -1;
    memcpy(hi, s, 16);
    gid->global.subnet_prefix = htobe64(strtoull(hi, NULL, 16));
    gid->global.interface_id = htobe64(strtoull(s + 16, NULL, 16));
    return 0;
}

/* Bring the backup QP as far as the application's QP got (RTR, then RTS) against the peer's backup QP, whose
 * attributes come from the KV store (waiting up to timeout_ms). 0 when the backup QP matches the app's QP. */
static int connect_backup(struct shift_qp *q, int timeout_ms)
{
    char val[256], bgid_s[40];
    struct ibv_qp_attr a;
    unsigned bqpn, blid;
    uint64_t guid;
    if (!q->bqp || !q->have_rtr)
        return -1;
    if (!q->bqp_rtr) {
        if (shift_kv_get(&cfg.kv, q->peer_key, val, sizeof(val), timeout_ms)) {
            if (timeout_ms)
                slog(1, "QP %u: peer's backup attributes '%s' not in the KV store (%s)", q->qp->qp_num, q->peer_key,
                     cfg.kv.redis[0] ? cfg.kv.redis : cfg.kv.dir);
            return -1;
        }
        if (sscanf(val, "%39s %u %u %" SCNx64, bgid_s, &bqpn, &blid, &guid) != 4) {
            slog(1, "QP %u: malformed KV value '%s' for '%s'", q->qp->qp_num, val, q->peer_key);
            return -1;
        }
        q->peer_guid = guid;
        a = q->rtr;
        a.dest_qp_num = bqpn;
        a.ah_attr.port_num = (uint8_t)cfg.backup_port;
        a.ah_attr.dlid = (uint16_t)blid;
        if (a.ah_attr.is_global) {
            parse_gid(bgid_s, &a.ah_attr.grh.dgid);
            if (cfg.backup_gid_index >= 0)
                a.ah_attr.grh.sgid_index = (uint8_t)cfg.backup_gid_index;
        }
        if (real.modify_qp(q->bqp, &a, q->rtr_mask)) {
            slog(1, "QP %u: Failed to modify backup QP %u to RTR: %s", q->qp->qp_num, q->bqp->qp_num,
                 strerror(errno));
            return -1;
        }
        q->bqp_rtr = 1;
        slog(2, "QP %u: backup QP %u at RTR against peer backup QP %u", q->qp->qp_num, q->bqp->qp_num, bqpn);
    }
    if (q->have_rts && !q->bqp_rts) {
        a = q->rts;
        if (real.modify_qp(q->bqp, &a, q->rts_mask)) {
            slog(1, "QP %u: Failed to modify backup QP to RTS: %s", q->qp->qp_num, strerror(errno));
            return -1;
        }
        q->bqp_rts = 1;
    }
    return 0;
}

static int backup_pending(const struct shift_qp *q)
{
    return q->qp && q->bqp && q->have_rtr && (!q->bqp_rtr || (q->have_rts && !q->bqp_rts));
}

/* Paper App. B: shadow verbs whose remote attributes are not ready are skipped and retried by a background
 * thread, so two hosts waiting on each other's QPs cannot deadlock. Runs while some backup QP is pending. */
static atomic_int rescan_running;

static void *rescan(void *unused)
{
    (void)unused;
    for (int round = 0;; round++) {
        int pending = 0;
        struct timespec ts = {0, (round < 100 ? 10 : 200) * 1000 * 1000}; /* 10 ms for 1 s, then 200 ms */
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&table_lock);
        for (int i = 0; i < TABLE; i++) {
            struct shift_qp *q = atomic_load(&qps[i]);
            if (!q || !backup_pending(q))
                continue;
            pthread_spin_lock(&q->lock);
            if (backup_pending(q) && q->core.sq_state == SHIFT_SQ_DEFAULT)
                connect_backup(q, 0);
            pending += backup_pending(q);
            pthread_spin_unlock(&q->lock);
        }
        if (!pending)
            atomic_store(&rescan_running, 0);
        pthread_mutex_unlock(&table_lock);
        if (!pending)
            return NULL;
    }
}

static void start_rescan(void)
{
    pthread_t t;
    int expected = 0;
    pthread_mutex_lock(&table_lock); /* orders us against the thread's "nothing pending, exit" decision */
    if (atomic_compare_exchange_strong(&rescan_running, &expected, 1)) {
        if (pthread_create(&t, NULL, rescan, NULL) == 0)
            pthread_detach(t);
        else
            atomic_store(&rescan_running, 0);
    }
    pthread_mutex_unlock(&table_lock);
}

static uint32_t backup_lkey(struct shift_qp *q, uint32_t lkey)
{
    struct ibv_mr *bmr = pmap_get(&shadow, LKEY(q->sc, lkey));
    return bmr ? bmr->lkey : lkey;
}

static int backup_rkey(struct shift_qp *q, uint32_t rkey, uint32_t *out)
{
    char key[64], val[32];
    snprintf(key, sizeof(key), "mr:%016" PRIx64 ":%u", q->peer_guid, rkey);
    if (shift_kv_get(&cfg.kv, key, val, sizeof(val), cfg.kv.timeout_ms))
        return -1;
    *out = (uint32_t)strtoul(val, NULL, 10);
    return 0;
}

/* Post one logged record on the backup QP with MR keys rewritten. */
static int post_record_backup(struct shift_qp *q, const struct shift_wr *r)
{
    struct ibv_sge sg[SHIFT_MAX_SGE];
    struct ibv_send_wr w, *bad;
    struct ibv_recv_wr rw, *rbad;
    for (int i = 0; i < r->num_sge; i++) {
        sg[i].addr = r->sg_list[i].addr;
        sg[i].length = r->sg_list[i].length;
        sg[i].lkey = backup_lkey(q, r->sg_list[i].lkey);
    }
    if (r->opcode == SHIFT_OP_RECV) {
        memset(&rw, 0, sizeof(rw));
        rw.wr_id = r->wr_id;
        rw.sg_list = sg;
        rw.num_sge = r->num_sge;
        return q->sc->backup->ops.post_recv(q->bqp, &rw, &rbad);
    }
    memset(&w, 0, sizeof(w));
    w.wr_id = r->wr_id;
    w.sg_list = sg;
    w.num_sge = r->num_sge;
    w.opcode = (enum ibv_wr_opcode)r->opcode;
    w.send_flags = r->send_flags;
    w.imm_data = r->imm_data;
    if (r->opcode == SHIFT_OP_RDMA_WRITE || r->opcode == SHIFT_OP_RDMA_WRITE_WITH_IMM ||
        r->opcode == SHIFT_OP_RDMA_READ) {
        w.wr.rdma.remote_addr = r->remote_addr;
        if (backup_rkey(q, r->rkey, &w.wr.rdma.rkey)) {
            slog(1, "QP %u: no backup rkey for the peer's rkey %u in the KV store", q->qp->qp_num, r->rkey);
            return -1;
        }
    }
    return q->sc->backup->ops.post_send(q->bqp, &w, &bad);
}

/* WQ rewind (paper §4.3.2 step 3): outstanding receives, then sends, in posting order, onto the backup QP. */
static int replay(struct shift_qp *q)
{
    struct shift_cursor cur;
    const struct shift_wr *r;
    struct shift_wrlog *logs[2] = {q->core.rq, q->core.sq};
    for (int l = 0; l < 2; l++) {
        shift_wrlog_replay_begin(logs[l], &cur);
        while ((r = shift_wrlog_replay_next(logs[l], &cur)))
            if (post_record_backup(q, r))
                return -1;
    }
    return 0;
}

/* Statuses a path failure produces (RC transport gave up, the QP was moved to error / flushed, the device
 * died). Anything else -- protection, length, remote access, RNR -- is the application's own error: replaying
 * it on the backup NIC would fail the same way, so it is surfaced (as ERROR_UNSAFE: no failover). */
static int network_status(enum ibv_wc_status st)
{
    return st == IBV_WC_RETRY_EXC_ERR || st == IBV_WC_WR_FLUSH_ERR || st == IBV_WC_LOC_QP_OP_ERR ||
           st == IBV_WC_FATAL_ERR || st == IBV_WC_RESP_TIMEOUT_ERR || st == IBV_WC_GENERAL_ERR;
}

/* An error on q (error completion or port error): drive the shared machine. Returns 1 when traffic moved to
 * the backup QP (the caller hides the error), 0 when the error goes to the application. Caller holds q->lock. */
static int on_error(struct shift_qp *q, int on_backup, int network, const char *why)
{
    int from = q->core.sq_state, ev = shift_core_error_event(&q->core, on_backup);
    if (!network && ev == SHIFT_SQ_EV_ERROR_SAFE)
        ev = SHIFT_SQ_EV_ERROR_UNSAFE;
    /* Without the receive-counter handshake (paper §4.3.2 step 4, not implemented here) a SEND whose ACK was
     * lost would be delivered twice (queue sliding, Lemma 2): fail closed unless told otherwise. */
    if (ev == SHIFT_SQ_EV_ERROR_SAFE && !cfg.replay_two_sided &&
        q->core.sq->two_sided_posted != q->core.sq->two_sided_retired) {
        slog(1, "QP %u: two-sided WRs outstanding and libshift has no counter handshake: failing closed "
                "(SHIFT_REPLAY_TWO_SIDED=1 replays them, risking duplicate delivery)", q->qp->qp_num);
        ev = SHIFT_SQ_EV_ERROR_UNSAFE;
    }
    int to = shift_core_sq_event(&q->core, ev);
    if (to == SHIFT_E_ILLEGAL) {
        slog(2, "QP %u: %s in %s: no transition on %s", q->qp->qp_num, why, shift_sq_state_names[from],
             shift_sq_event_names[ev]);
        return q->failed_over && !on_backup;
    }
    slog(1, "QP %u: %s: %s --%s--> %s (%" PRIu64 " send / %" PRIu64 " recv WRs outstanding)", q->qp->qp_num, why,
         shift_sq_state_names[from], shift_sq_event_names[ev], shift_sq_state_names[to],
         shift_wrlog_outstanding(q->core.sq), shift_wrlog_outstanding(q->core.rq));
    if (to == SHIFT_SQ_FAILED)
        shift_core_rq_event(&q->core, SHIFT_RQ_EV_SURFACED);
    if (to != SHIFT_SQ_FALLBACK)
        return 0;
    if (!q->bqp) {
        slog(1, "QP %u: no backup QP (set SHIFT_BACKUP_DEVICE to a second RDMA device)", q->qp->qp_num);
    } else if (connect_backup(q, cfg.kv.timeout_ms) == 0 && replay(q) == 0) {
        shift_core_rq_event(&q->core, SHIFT_RQ_EV_HANDSHAKE);
        q->failed_over = 1;
        atomic_store(&any_failover, 1);
        slog(1, "QP %u: failed over to backup QP %u on %s", q->qp->qp_num, q->bqp->qp_num, cfg.backup_device);
        return 1;
    }
    to = shift_core_sq_event(&q->core, SHIFT_SQ_EV_SECOND_FAILURE);
    shift_core_rq_event(&q->core, SHIFT_RQ_EV_SURFACED);
    slog(1, "QP %u: failover impossible: FALLBACK --SECOND_FAILURE--> %s; the error goes to the application",
         q->qp->qp_num, to >= 0 ? shift_sq_state_names[to] : "?");
    return 0;
}

static void unprotect(struct shift_qp *q, const char *why)
{
    if (q->protected)
        slog(1, "QP %u: %s; this QP is no longer protected by SHIFT", q->qp->qp_num, why);
    q->protected = 0;
}

/* ---------------------------------------------------------------- the swapped data verbs */

static int shift_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad_wr)
{
    struct shift_qp *q = qp_of(qp);
    const struct ibv_send_wr *w;
    uint64_t head0;
    int ret, n = 0;
    if (!q)
        return passthrough(qp->context)->post_send(qp, wr, bad_wr);
    pthread_spin_lock(&q->lock);
    if (!q->protected) {
        pthread_spin_unlock(&q->lock);
        return q->sc->post_send(qp, wr, bad_wr);
    }
    head0 = q->core.sq->head;
    for (w = wr; w; w = w->next) {
        int rc = shift_log_send_wr(q->core.sq, w, q->sig_all, q->inline_arena, q->inline_max);
        if (rc) {
            shift_wrlog_truncate(q->core.sq, head0);
            unprotect(q, rc == SHIFT_E_OVERFLOW ? "WR log full" : "WR with more SGEs than SHIFT_MAX_SGE");
            pthread_spin_unlock(&q->lock);
            return q->sc->post_send(qp, wr, bad_wr);
        }
    }
    if (q->failed_over) {
        struct shift_cursor cur = {head0};
        const struct shift_wr *r;
        ret = 0;
        for (w = wr; (r = shift_wrlog_replay_next(q->core.sq, &cur)); w = w->next, n++)
            if ((ret = post_record_backup(q, r)))
                break;
        if (ret) {
            *bad_wr = (struct ibv_send_wr *)w;
            shift_wrlog_truncate(q->core.sq, head0 + (uint64_t)n);
        }
    } else {
        ret = q->sc->post_send(qp, wr, bad_wr);
        if (ret) {
            for (w = wr; w && w != *bad_wr; w = w->next)
                n++;
            shift_wrlog_truncate(q->core.sq, head0 + (uint64_t)n);
        }
    }
    pthread_spin_unlock(&q->lock);
    return ret;
}

static int shift_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad_wr)
{
    struct shift_qp *q = qp_of(qp);
    const struct ibv_recv_wr *w;
    uint64_t head0;
    int ret, n = 0;
    if (!q)
        return passthrough(qp->context)->post_recv(qp, wr, bad_wr);
    pthread_spin_lock(&q->lock);
    if (!q->protected) {
        pthread_spin_unlock(&q->lock);
        return q->sc->post_recv(qp, wr, bad_wr);
    }
    head0 = q->core.rq->head;
    for (w = wr; w; w = w->next) {
        int rc = shift_log_recv_wr(q->core.rq, w);
        if (rc) {
            shift_wrlog_truncate(q->core.rq, head0);
            unprotect(q, rc == SHIFT_E_OVERFLOW ? "receive log full" : "RECV with more SGEs than SHIFT_MAX_SGE");
            pthread_spin_unlock(&q->lock);
            return q->sc->post_recv(qp, wr, bad_wr);
        }
    }
    if (q->failed_over) {
        struct shift_cursor cur = {head0};
        const struct shift_wr *r;
        ret = 0;
        for (w = wr; (r = shift_wrlog_replay_next(q->core.rq, &cur)); w = w->next, n++)
            if ((ret = post_record_backup(q, r)))
                break;
        if (ret) {
            *bad_wr = (struct ibv_recv_wr *)w;
            shift_wrlog_truncate(q->core.rq, head0 + (uint64_t)n);
        }
    } else {
        ret = q->sc->post_recv(qp, wr, bad_wr);
        if (ret) {
            for (w = wr; w && w != *bad_wr; w = w->next)
                n++;
            shift_wrlog_truncate(q->core.rq, head0 + (uint64_t)n);
        }
    }
    pthread_spin_unlock(&q->lock);
    return ret;
}

/* Retire a successful completion; returns 1 to keep the WC, 0 to hide it. */
static int on_completion(struct shift_qp *q, struct ibv_wc *wc, int from_backup)
{
    int keep = 1;
    pthread_spin_lock(&q->lock);
    if (q->protected) {
        if (wc->status == IBV_WC_SUCCESS) {
            struct shift_wrlog *log = (wc->opcode & IBV_WC_RECV) ? q->core.rq : q->core.sq;
            if (shift_wrlog_complete(log, wc->wr_id) < 0)
                unprotect(q, "completion does not match the log (WRs posted outside ops.post_send?)");
        } else if (q->failed_over && !from_backup) {
            keep = 0; /* the dead default QP's error and flush completions: their WRs were replayed */
        } else {
            char why[64];
            snprintf(why, sizeof(why), "%s completion %s", from_backup ? "backup" : "error",
                     ibv_wc_status_str(wc->status));
            keep = !on_error(q, from_backup, network_status(wc->status), why);
        }
    }
    if (from_backup)
        wc->qp_num = q->qp->qp_num;
    pthread_spin_unlock(&q->lock);
    return keep;
}

static int shift_poll_cq(struct ibv_cq *cq, int num_entries, struct ibv_wc *wc)
{
    struct shift_ctx *sc = passthrough(cq->context);
    int got = sc->poll_cq(cq, num_entries, wc), kept = 0, i;
    struct ibv_cq *bcq;
    for (i = 0; i < got; i++) {
        struct shift_qp *q = pmap_get(&shadow, QPN(sc, wc[i].qp_num));
        if (!q || on_completion(q, &wc[i], 0))
            wc[kept++] = wc[i];
    }
    if (got < 0 || !atomic_load_explicit(&any_failover, memory_order_relaxed) || kept == num_entries ||
        !(bcq = pmap_get(&shadow, PKEY(cq))))
        return got < 0 ? got : kept;
    got = sc->backup->ops.poll_cq(bcq, num_entries - kept, wc + kept);
    for (i = 0; i < got; i++) {
        struct shift_qp *q = pmap_get(&shadow, BQPN(sc, wc[kept].qp_num));
        if (!q || on_completion(q, &wc[kept], 1))
            kept++;
        else if (i + 1 < got)
            memmove(&wc[kept], &wc[kept + 1], (size_t)(got - i - 1) * sizeof(*wc));
    }
    return kept;
}

/* ---------------------------------------------------------------- the interposed control verbs */

struct ibv_device **ibv_get_device_list(int *num_devices)
{
    struct ibv_device **list;
    int n = 0;
    if (!ready())
        return NULL;
    list = real.get_device_list(&n);
    if (num_devices)
        *num_devices = n;
    if (!list || n == 0) {
        int err = errno;
        slog(1, "no RDMA device found (%s); SHIFT is inactive: load rdma_rxe or run on a host with RDMA NICs",
             list ? "empty device list" : strerror(err));
        errno = err;
    }
    return list;
}

static struct ibv_context *open_backup(struct ibv_device *primary)
{
    struct ibv_device **list;
    struct ibv_context *b = NULL;
    int n = 0;
    if (!cfg.backup_device[0] || !strcmp(cfg.backup_device, ibv_get_device_name(primary)))
        return NULL;
    list = real.get_device_list(&n);
    for (int i = 0; list && i < n; i++)
        if (!strcmp(ibv_get_device_name(list[i]), cfg.backup_device))
            b = real.open_device(list[i]);
    if (list)
        real.free_device_list(list);
    if (!b)
        slog(1, "backup device '%s' not found or cannot be opened (%s); %s runs without failover",
             cfg.backup_device, strerror(errno), ibv_get_device_name(primary));
    return b;
}

struct ibv_context *ibv_open_device(struct ibv_device *device)
{
    struct ibv_context *ctx;
    struct shift_ctx *sc = NULL;
    if (!ready())
        return NULL;
    ctx = real.open_device(device);
    if (!ctx)
        return NULL;
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < MAX_CTX && !sc; i++)
        if (!ctxs[i].ctx)
            sc = &ctxs[i];
    if (!sc) {
        pthread_mutex_unlock(&table_lock);
        slog(1, "more than %d open devices: %s is not protected", MAX_CTX, ibv_get_device_name(device));
        return ctx;
    }
    sc->post_send = ctx->ops.post_send;
    sc->post_recv = ctx->ops.post_recv;
    sc->poll_cq = ctx->ops.poll_cq;
    sc->guid = be64toh(ibv_get_device_guid(device));
    sc->backup = open_backup(device);
    sc->ctx = ctx;
    ctx->ops.post_send = shift_post_send;
    ctx->ops.post_recv = shift_post_recv;
    ctx->ops.poll_cq = shift_poll_cq;
    pthread_mutex_unlock(&table_lock);
    slog(2, "%s opened: data verbs swapped; backup %s", ibv_get_device_name(device),
         sc->backup ? cfg.backup_device : "none");
    return ctx;
}

int ibv_close_device(struct ibv_context *ctx)
{
    struct shift_ctx *sc;
    if (!ready())
        return EINVAL;
    pthread_mutex_lock(&table_lock);
    if ((sc = ctx_of(ctx))) {
        ctx->ops.post_send = sc->post_send;
        ctx->ops.post_recv = sc->post_recv;
        ctx->ops.poll_cq = sc->poll_cq;
        if (sc->backup)
            real.close_device(sc->backup);
        memset(sc, 0, sizeof(*sc));
    }
    pthread_mutex_unlock(&table_lock);
    return real.close_device(ctx);
}

struct ibv_pd *ibv_alloc_pd(struct ibv_context *ctx)
{
    struct ibv_pd *pd;
    struct shift_ctx *sc;
    if (!ready())
        return NULL;
    pd = real.alloc_pd(ctx);
    if (pd && (sc = ctx_of(ctx)) && sc->backup) {
        struct ibv_pd *bpd = real.alloc_pd(sc->backup);
        if (bpd)
            pmap_put(&shadow, PKEY(pd), bpd);
        else
            slog(1, "Failed to alloc backup PD on %s: %s", cfg.backup_device, strerror(errno));
    }
    return pd;
}

int ibv_dealloc_pd(struct ibv_pd *pd)
{
    struct ibv_pd *bpd;
    if (!ready())
        return EINVAL;
    if ((bpd = pmap_get(&shadow, PKEY(pd)))) {
        pmap_put(&shadow, PKEY(pd), NULL);
        real.dealloc_pd(bpd);
    }
    return real.dealloc_pd(pd);
}

/* Shadow MR (paper §4.2): the same memory registered on the backup PD; publish rkey -> backup rkey. */
static struct ibv_mr *shadow_mr(struct ibv_mr *mr, void *addr, size_t length, uint64_t iova, unsigned access)
{
    struct ibv_pd *bpd;
    struct shift_ctx *sc;
    struct ibv_mr *bmr;
    char key[64], val[32];
    if (!mr || !(bpd = pmap_get(&shadow, PKEY(mr->pd))) || !(sc = ctx_of(mr->context)))
        return mr;
    bmr = real.reg_mr_iova2(bpd, addr, length, iova, access);
    if (!bmr) {
        slog(1, "Failed to register backup MR on %s: %s", cfg.backup_device, strerror(errno));
        return mr;
    }
    pmap_put(&shadow, PKEY(mr), bmr);
    pmap_put(&shadow, LKEY(sc, mr->lkey), bmr);
    snprintf(key, sizeof(key), "mr:%016" PRIx64 ":%u", sc->guid, mr->rkey);
    snprintf(val, sizeof(val), "%u", bmr->rkey);
    if (shift_kv_put(&cfg.kv, key, val))
        slog(1, "Failed to publish %s to the KV store: %s", key, strerror(errno));
    return mr;
}

/* verbs.h turns these two names into inline dispatchers; we define the exported functions themselves */
#undef ibv_reg_mr
#undef ibv_reg_mr_iova

struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access)
{
    if (!ready())
        return NULL;
    return shadow_mr(real.reg_mr(pd, addr, length, access), addr, length, (uintptr_t)addr, (unsigned)access);
}

struct ibv_mr *ibv_reg_mr_iova(struct ibv_pd *pd, void *addr, size_t length, uint64_t iova, int access)
{
    if (!ready())
        return NULL;
    return shadow_mr(real.reg_mr_iova(pd, addr, length, iova, access), addr, length, iova, (unsigned)access);
}

struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length, uint64_t iova, unsigned int access)
{
    if (!ready())
        return NULL;
    return shadow_mr(real.reg_mr_iova2(pd, addr, length, iova, access), addr, length, iova, access);
}

int ibv_dereg_mr(struct ibv_mr *mr)
{
    struct ibv_mr *bmr;
    struct shift_ctx *sc;
    if (!ready())
        return EINVAL;
    if ((bmr = pmap_get(&shadow, PKEY(mr)))) {
        pmap_put(&shadow, PKEY(mr), NULL);
        if ((sc = ctx_of(mr->context))) {
            char key[64];
            pmap_put(&shadow, LKEY(sc, mr->lkey), NULL);
            snprintf(key, sizeof(key), "mr:%016" PRIx64 ":%u", sc->guid, mr->rkey);
            shift_kv_del(&cfg.kv, key);
        }
        real.dereg_mr(bmr);
    }
    return real.dereg_mr(mr);
}

struct ibv_cq *ibv_create_cq(struct ibv_context *ctx, int cqe, void *cq_context, struct ibv_comp_channel *channel,
                             int comp_vector)
{
    struct ibv_cq *cq;
    struct shift_ctx *sc;
    if (!ready())
        return NULL;
    cq = real.create_cq(ctx, cqe, cq_context, channel, comp_vector);
    if (cq && (sc = ctx_of(ctx)) && sc->backup) {
        struct ibv_cq *bcq = real.create_cq(sc->backup, cqe, NULL, NULL, 0);
        if (bcq)
            pmap_put(&shadow, PKEY(cq), bcq);
        else
            slog(1, "Failed to create backup CQ on %s: %s", cfg.backup_device, strerror(errno));
    }
    return cq;
}

int ibv_destroy_cq(struct ibv_cq *cq)
{
    struct ibv_cq *bcq;
    if (!ready())
        return EINVAL;
    if ((bcq = pmap_get(&shadow, PKEY(cq)))) {
        pmap_put(&shadow, PKEY(cq), NULL);
        real.destroy_cq(bcq);
    }
    return real.destroy_cq(cq);
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t c = 1;
    while (c < n && c < (1u << 24))
        c <<= 1;
    return c;
}

static struct ibv_qp *shadow_qp(struct shift_ctx *sc, struct ibv_pd *pd, const struct ibv_qp_init_attr *attr)
{
    struct ibv_qp_init_attr b = *attr;
    struct ibv_qp *bqp;
    b.send_cq = pmap_get(&shadow, PKEY(attr->send_cq));
    b.recv_cq = pmap_get(&shadow, PKEY(attr->recv_cq));
    if (!sc->backup || !b.send_cq || !b.recv_cq || !pmap_get(&shadow, PKEY(pd)))
        return NULL;
    b.qp_context = NULL;
    bqp = real.create_qp(pmap_get(&shadow, PKEY(pd)), &b);
    if (!bqp)
        slog(1, "Failed to create backup QP on %s: %s", cfg.backup_device, strerror(errno));
    return bqp;
}

struct ibv_qp *ibv_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
    struct ibv_qp *qp;
    struct shift_ctx *sc;
    struct shift_qp *q;
    uint64_t i;
    if (!ready())
        return NULL;
    qp = real.create_qp(pd, attr);
    if (!qp || attr->qp_type != IBV_QPT_RC || attr->srq || !(sc = ctx_of(pd->context)))
        return qp; /* only RC QPs without SRQ are protected */
    q = calloc(1, sizeof(*q));
    if (!q)
        return qp;
    q->qp = qp;
    q->sc = sc;
    q->sig_all = attr->sq_sig_all;
    q->protected = 1;
    q->inline_max = attr->cap.max_inline_data;
    pthread_spin_init(&q->lock, PTHREAD_PROCESS_PRIVATE);
    /* 2x the queue depth: an unsignaled WR stays in the log until a later signaled one completes */
    q->core.sq = shift_wrlog_create(pow2_at_least(2 * attr->cap.max_send_wr + 2));
    q->core.rq = shift_wrlog_create(pow2_at_least(2 * attr->cap.max_recv_wr + 2));
    if (q->inline_max)
        q->inline_arena = malloc(shift_wrlog_capacity(q->core.sq) * q->inline_max);
    if (!q->core.sq || !q->core.rq || (q->inline_max && !q->inline_arena)) {
        slog(1, "QP %u: no memory for the WR log: not protected", qp->qp_num);
        shift_wrlog_destroy(q->core.sq);
        shift_wrlog_destroy(q->core.rq);
        free(q->inline_arena);
        free(q);
        return qp;
    }
    q->bqp = shadow_qp(sc, pd, attr);
    pthread_mutex_lock(&table_lock);
    for (i = hash64(PKEY(qp));; i = (i + 1) & (TABLE - 1)) {
        struct shift_qp *cur = atomic_load(&qps[i]);
        if (!cur || cur->qp == NULL) {
            atomic_store_explicit(&qps[i], q, memory_order_release);
            break;
        }
    }
    pmap_put(&shadow, QPN(sc, qp->qp_num), q);
    if (q->bqp)
        pmap_put(&shadow, BQPN(sc, q->bqp->qp_num), q);
    pthread_mutex_unlock(&table_lock);
    slog(2, "QP %u protected (log %" PRIu64 "/%" PRIu64 " records, backup QP %d)", qp->qp_num,
         shift_wrlog_capacity(q->core.sq), shift_wrlog_capacity(q->core.rq), q->bqp ? (int)q->bqp->qp_num : -1);
    return qp;
}

/* Mirror the application's QP transitions onto the backup QP; publish / look up backup attributes at RTR. */
static void shadow_modify(struct shift_qp *q, const struct ibv_qp_attr *attr, int mask)
{
    struct ibv_qp_attr a = *attr;
    if ((mask & IBV_QP_STATE) && attr->qp_state == IBV_QPS_INIT && (mask & IBV_QP_PORT))
        q->port = attr->port_num;
    if (!(mask & IBV_QP_STATE) || !q->bqp)
        return;
    if (attr->qp_state == IBV_QPS_INIT) {
        a.port_num = (uint8_t)cfg.backup_port;
        if (real.modify_qp(q->bqp, &a, mask))
            slog(1, "QP %u: Failed to modify backup QP to INIT: %s", q->qp->qp_num, strerror(errno));
    } else if (attr->qp_state == IBV_QPS_RTR) {
        union ibv_gid mine, bgid;
        struct ibv_port_attr bport;
        char my_s[40], b_s[40], peer_s[40], key[160], val[160];
        int bidx = cfg.backup_gid_index >= 0 ? cfg.backup_gid_index : attr->ah_attr.grh.sgid_index;
        q->rtr = *attr;
        q->rtr_mask = mask;
        q->have_rtr = 1;
        memset(&mine, 0, sizeof(mine));
        memset(&bgid, 0, sizeof(bgid));
        if (attr->ah_attr.is_global) {
            real.query_gid(q->qp->context, attr->ah_attr.port_num, attr->ah_attr.grh.sgid_index, &mine);
            real.query_gid(q->sc->backup, (uint8_t)cfg.backup_port, bidx, &bgid);
        }
        memset(&bport, 0, sizeof(bport));
        ibv_query_port(q->sc->backup, (uint8_t)cfg.backup_port, &bport);
        gid_str(&mine, my_s, sizeof(my_s));
        gid_str(&bgid, b_s, sizeof(b_s));
        gid_str(&attr->ah_attr.grh.dgid, peer_s, sizeof(peer_s));
        /* key: this QP's default identity as the peer knows it (GID, or LID without GRH, + QPN) */
        if (attr->ah_attr.is_global)
            snprintf(key, sizeof(key), "qp:%s:%u", my_s, q->qp->qp_num);
        else {
            struct ibv_port_attr p;
            ibv_query_port(q->qp->context, attr->ah_attr.port_num, &p);
            snprintf(key, sizeof(key), "qp:lid%u:%u", p.lid, q->qp->qp_num);
        }
        snprintf(val, sizeof(val), "%s %u %u %016" PRIx64, b_s, q->bqp->qp_num, bport.lid, q->sc->guid);
        if (shift_kv_put(&cfg.kv, key, val))
            slog(1, "Failed to publish %s to the KV store: %s", key, strerror(errno));
        snprintf(q->my_key, sizeof(q->my_key), "%s", key);
        if (attr->ah_attr.is_global)
            snprintf(q->peer_key, sizeof(q->peer_key), "qp:%s:%u", peer_s, attr->dest_qp_num);
        else
            snprintf(q->peer_key, sizeof(q->peer_key), "qp:lid%u:%u", attr->ah_attr.dlid, attr->dest_qp_num);
        connect_backup(q, 0); /* best effort now; else the rescan thread retries, and failover waits */
    } else if (attr->qp_state == IBV_QPS_RTS) {
        q->rts = *attr;
        q->rts_mask = mask;
        q->have_rts = 1;
        connect_backup(q, 0);
    }
}

int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int attr_mask)
{
    int ret;
    struct shift_qp *q;
    if (!ready())
        return EINVAL;
    ret = real.modify_qp(qp, attr, attr_mask);
    if (ret == 0 && (q = qp_of(qp))) {
        int pending;
        pthread_spin_lock(&q->lock);
        shadow_modify(q, attr, attr_mask);
        pending = backup_pending(q);
        pthread_spin_unlock(&q->lock);
        if (pending)
            start_rescan();
    }
    return ret;
}

int ibv_destroy_qp(struct ibv_qp *qp)
{
    struct shift_qp *q;
    if (!ready())
        return EINVAL;
    pthread_mutex_lock(&table_lock);
    if ((q = qp_of(qp))) {
        pmap_put(&shadow, QPN(q->sc, qp->qp_num), NULL);
        if (q->bqp) {
            pmap_put(&shadow, BQPN(q->sc, q->bqp->qp_num), NULL);
            real.destroy_qp(q->bqp);
        }
        if (q->my_key[0])
            shift_kv_del(&cfg.kv, q->my_key);
        q->qp = NULL; /* a tombstone: the slot keeps probe chains intact; the record is never freed */
        shift_wrlog_destroy(q->core.sq);
        shift_wrlog_destroy(q->core.rq);
        free(q->inline_arena);
        q->core.sq = q->core.rq = NULL;
        q->protected = 0;
    }
    pthread_mutex_unlock(&table_lock);
    return real.destroy_qp(qp);
}

/* Port errors the application reads (paper: PORT_ERR precedes RETRY_EXC_ERR when the peer link dies). */
int ibv_get_async_event(struct ibv_context *ctx, struct ibv_async_event *event)
{
    int ret;
    if (!ready())
        return -1;
    ret = real.get_async_event(ctx, event);
    if (ret == 0 && event->event_type == IBV_EVENT_PORT_ERR) {
        for (int i = 0; i < TABLE; i++) {
            struct shift_qp *q = atomic_load(&qps[i]);
            if (!q || !q->qp || q->qp->context != ctx || !q->protected || q->port != event->element.port_num)
                continue;
            pthread_spin_lock(&q->lock);
            if (q->core.sq_state == SHIFT_SQ_DEFAULT)
                on_error(q, 0, 1, "port error event");
            pthread_spin_unlock(&q->lock);
        }
    }
    return ret;
}
