/* shift_interpose.c -- libshift.so's control verbs: run unmodified verbs programs under SHIFT (LD_PRELOAD).
 *
 * ibv_post_send / ibv_post_recv / ibv_poll_cq and ibv_create_qp_ex are static inline in <infiniband/verbs.h>
 * and jump through context->ops / verbs_context, so preloading those names catches nothing. Like DMTCP's
 * InfiniBand plugin we interpose the exported control verbs and, in ibv_open_device, swap ops.post_send /
 * ops.post_recv / ops.poll_cq and verbs_context.create_qp_ex for libshift's (shift_datapath.c). The control
 * verbs also build SHIFT's shadow resources on the backup device (paper §4.2): PD, MRs (same memory), CQs,
 * QPs, connected from the KV store; and they publish this host's side (shift_wire.h's schema, shared with
 * the Python layer). Failover, handshake, probe and switch-back run in the control thread (shift_failover.c).
 * Anything libshift cannot protect is passed through with one warning naming it: the application is never
 * broken by the shim.
 */
#include "shift_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>

/* ---------------------------------------------------------------- configuration and logging */

struct shift_config shift_cfg = {.backup_port = 1, .backup_gid_index = -1, .log_level = 1, .probe_ms = 100,
                                 .poll_us = 1000, .port_poll_ms = 20, .biased_locks = 1};
struct shift_real shift_real;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void shift_log(int level, const char *fmt, ...)
{
    va_list ap;
    char line[1024];
    int n;
    if (level > shift_cfg.log_level)
        return;
    va_start(ap, fmt);
    n = snprintf(line, sizeof(line), "libshift: ");
    vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    strcat(line, "\n");
    pthread_mutex_lock(&log_lock);
    fputs(line, stderr);
    pthread_mutex_unlock(&log_lock);
}

uint64_t shift_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void shift_trace(uint32_t qpn, const char *fmt, ...)
{
    static FILE *f;
    char body[512];
    va_list ap;
    if (!shift_cfg.trace[0])
        return;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    if (!f && !(f = fopen(shift_cfg.trace, "a")))
        shift_cfg.trace[0] = 0;
    if (f) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        fprintf(f, "{\"t\": %.6f, \"pid\": %d, \"qpn\": %u, %s}\n", (double)ts.tv_sec + ts.tv_nsec / 1e9,
                (int)getpid(), qpn, body);
        fflush(f);
    }
    pthread_mutex_unlock(&log_lock);
}

static void set_option(const char *key, const char *val)
{
    if (!strcmp(key, "backup_device"))
        snprintf(shift_cfg.backup, sizeof(shift_cfg.backup), "%s", val);
    else if (!strcmp(key, "backup_port"))
        shift_cfg.backup_port = atoi(val);
    else if (!strcmp(key, "backup_gid_index"))
        shift_cfg.backup_gid_index = atoi(val);
    else if (!strcmp(key, "log"))
        shift_cfg.log_level = atoi(val);
    else if (!strcmp(key, "kv_dir"))
        snprintf(shift_cfg.kv.dir, sizeof(shift_cfg.kv.dir), "%s", val);
    else if (!strcmp(key, "kv_redis"))
        snprintf(shift_cfg.kv.redis, sizeof(shift_cfg.kv.redis), "%s", val);
    else if (!strcmp(key, "kv_timeout_ms"))
        shift_cfg.kv.timeout_ms = atoi(val);
    else if (!strcmp(key, "probe_ms"))
        shift_cfg.probe_ms = atoi(val) > 0 ? atoi(val) : 100;
    else if (!strcmp(key, "poll_us"))
        shift_cfg.poll_us = atoi(val) > 0 ? atoi(val) : 1000;
    else if (!strcmp(key, "port_poll_ms"))
        shift_cfg.port_poll_ms = atoi(val) > 0 ? atoi(val) : 20;
    else if (!strcmp(key, "biased_locks"))
        shift_cfg.biased_locks = atoi(val);
    else if (!strcmp(key, "trace"))
        snprintf(shift_cfg.trace, sizeof(shift_cfg.trace), "%s", val);
    else
        shift_log(1, "unknown option '%s' ignored (see csrc/README.md)", key);
}

/* SHIFT_CONFIG=file with "key = value" lines, then SHIFT_<KEY> environment variables (which win). */
static void load_config(void)
{
    static const char *keys[] = {"backup_device", "backup_port", "backup_gid_index", "log", "kv_dir", "kv_redis",
                                 "kv_timeout_ms", "probe_ms", "poll_us", "port_poll_ms", "biased_locks", "trace"};
    const char *path = getenv("SHIFT_CONFIG");
    char line[768], env[64];
    size_t i, j;
    snprintf(shift_cfg.kv.dir, sizeof(shift_cfg.kv.dir), "/tmp/shift-kv");
    shift_cfg.kv.timeout_ms = 2000;
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f) {
            shift_log(1, "cannot read SHIFT_CONFIG=%s: %s (continuing with environment only)", path, strerror(errno));
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
    if (getenv("SHIFT_REPLAY_TWO_SIDED"))
        shift_log(1, "SHIFT_REPLAY_TWO_SIDED is gone: two-sided WRs fail over through the receive-counter "
                     "handshake (csrc/README.md)");
}

/* The backup device of `dev` from backup_device: a single name (every device), or "dev:bak,dev2:bak2". */
static int backup_for(const char *dev, char *out, size_t len)
{
    const char *p = shift_cfg.backup;
    if (!*p)
        return -1;
    if (!strchr(p, ':')) {
        snprintf(out, len, "%.63s", p);
        return strcmp(p, dev) ? 0 : -1;
    }
    while (*p) {
        const char *colon = strchr(p, ':'), *comma = strchr(p, ',');
        size_t n = (size_t)(colon - p);
        if (!colon)
            return -1;
        if (!comma)
            comma = p + strlen(p);
        if (n == strlen(dev) && !strncmp(p, dev, n)) {
            snprintf(out, len, "%.*s", (int)(comma - colon - 1), colon + 1);
            return 0;
        }
        p = *comma ? comma + 1 : comma;
    }
    return -1;
}

/* ---------------------------------------------------------------- the real libibverbs */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_ok;

#define RESOLVE(field, name, required)                                                                                 \
    do {                                                                                                               \
        *(void **)(&shift_real.field) = shift_libc_dlsym(RTLD_NEXT, name);                                            \
        if (!shift_real.field && (required)) {                                                                         \
            shift_log(0, "cannot find %s in libibverbs (%s); is this a verbs program?", name, dlerror());              \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

static void init(void)
{
    load_config();
    RESOLVE(get_device_list, "ibv_get_device_list", 1);
    RESOLVE(free_device_list, "ibv_free_device_list", 1);
    RESOLVE(open_device, "ibv_open_device", 1);
    RESOLVE(close_device, "ibv_close_device", 1);
    RESOLVE(alloc_pd, "ibv_alloc_pd", 1);
    RESOLVE(dealloc_pd, "ibv_dealloc_pd", 1);
    RESOLVE(reg_mr, "ibv_reg_mr", 1);
    RESOLVE(reg_mr_iova, "ibv_reg_mr_iova", 1);
    RESOLVE(reg_mr_iova2, "ibv_reg_mr_iova2", 1);
    RESOLVE(reg_dmabuf_mr, "ibv_reg_dmabuf_mr", 0);
    RESOLVE(dereg_mr, "ibv_dereg_mr", 1);
    RESOLVE(create_cq, "ibv_create_cq", 1);
    RESOLVE(destroy_cq, "ibv_destroy_cq", 1);
    RESOLVE(create_qp, "ibv_create_qp", 1);
    RESOLVE(modify_qp, "ibv_modify_qp", 1);
    RESOLVE(destroy_qp, "ibv_destroy_qp", 1);
    RESOLVE(get_async_event, "ibv_get_async_event", 1);
    RESOLVE(get_cq_event, "ibv_get_cq_event", 1);
    RESOLVE(ack_cq_events, "ibv_ack_cq_events", 1);
    RESOLVE(query_gid, "ibv_query_gid", 1);
    RESOLVE(qp_to_qp_ex, "ibv_qp_to_qp_ex", 0);
    shift_dlsym_map_init();
    shift_blk_global_init(shift_cfg.biased_locks);
    init_ok = 1;
    shift_log(2, "loaded; state machine %s; backup device %s; kv %s%s; biased locks %s", SHIFT_MACHINE_FINGERPRINT,
              shift_cfg.backup[0] ? shift_cfg.backup : "(none)", shift_cfg.kv.redis[0] ? "redis " : "dir ",
              shift_cfg.kv.redis[0] ? shift_cfg.kv.redis : shift_cfg.kv.dir, shift_blk_enabled ? "on" : "off");
}

int shift_ready(void)
{
    pthread_once(&init_once, init);
    return init_ok;
}

/* ---------------------------------------------------------------- tables (written under table_lock) */

#define MAX_CTX 32
#define TABLE SHIFT_TABLE

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shift_ctx ctxs[MAX_CTX];
struct shift_qp *_Atomic shift_qps[SHIFT_TABLE]; /* by ibv_qp pointer; records are never freed (tombstones) */
_Atomic unsigned shift_qp_gen;
#define qps shift_qps
/* PD/CQ/MR pointer -> shadow; (ctx, lkey) -> backup MR; (ctx, QPN) and (ctx, backup QPN) -> QP */
struct shift_pmap shift_shadow;
#define shadow shift_shadow
#define hash64 shift_hash
#define pmap_get shift_pmap_get

/* A slot is reused for its own key, a free slot, or a deleted entry (NULL value); lookups compare keys, so
 * probe chains stay intact. Key first, then value: a racing reader sees a miss, never another key's value. */
static void pmap_put(struct shift_pmap *m, uint64_t key, void *val)
{
    uint64_t i = hash64(key);
    for (int n = 0; n < TABLE; n++, i = (i + 1) & (TABLE - 1)) {
        uint64_t k = atomic_load_explicit(&m->key[i], memory_order_relaxed);
        if (k == key || k == 0 || (val && !atomic_load_explicit(&m->val[i], memory_order_relaxed))) {
            if (k != key)
                atomic_store_explicit(&m->val[i], NULL, memory_order_release);
            atomic_store_explicit(&m->key[i], key, memory_order_release);
            atomic_store_explicit(&m->val[i], val, memory_order_release);
            return;
        }
    }
    shift_log(1, "shadow table full (%d entries): resource left unprotected", TABLE);
}

#define PKEY(p) ((uint64_t)(uintptr_t)(p))
#define LKEY(sc, lkey) SHIFT_KEY_LKEY(sc, lkey)
#define BQPN(sc, qpn) SHIFT_KEY_BQPN(sc, qpn)
#define QPN(sc, qpn) SHIFT_KEY_QPN(sc, qpn)

struct shift_ctx *shift_ctx_of(struct ibv_context *ctx)
{
    for (int i = 0; i < MAX_CTX; i++)
        if (ctxs[i].ctx == ctx)
            return &ctxs[i];
    return NULL;
}





int shift_qps_snapshot(struct shift_qp **out, int max)
{
    int n = 0;
    for (int i = 0; i < TABLE && n < max; i++) {
        struct shift_qp *q = atomic_load_explicit(&qps[i], memory_order_acquire);
        if (q && __atomic_load_n(&q->qp, __ATOMIC_ACQUIRE)) /* NULL: destroyed (ibv_destroy_qp) */
            out[n++] = q;
    }
    return n;
}

/* MRs of a context, to publish under every default GID its QPs use (the KV key names the GID) */
struct mr_rec {
    struct ibv_mr *mr, *bmr;
    struct shift_ctx *sc;
    struct mr_rec *next;
};
static struct mr_rec *mr_list;

static void publish_mr(const struct mr_rec *m, const char *gid)
{
    char key[96], val[64];
    snprintf(key, sizeof(key), "mr:%s:%u", gid, m->mr->rkey);
    snprintf(val, sizeof(val), "{\"rkey\": %u}", m->bmr->rkey);
    if (shift_kv_put(&shift_cfg.kv, key, val))
        shift_log(1, "Failed to publish %s to the KV store: %s", key, strerror(errno));
}

/* (table_lock held) */
void shift_publish_mrs(struct shift_ctx *sc, const char *gid)
{
    for (int i = 0; i < sc->ngids; i++)
        if (!strcmp(sc->gids[i], gid))
            return;
    if (sc->ngids < 4)
        snprintf(sc->gids[sc->ngids++], SHIFT_GID_STR, "%s", gid);
    for (struct mr_rec *m = mr_list; m; m = m->next)
        if (m->sc == sc)
            publish_mr(m, gid);
}

/* ---------------------------------------------------------------- backup connection (paper §4.2) */

/* Bring the backup QP as far as the application's QP got (RTR, then RTS) against the peer's backup QP, whose
 * attributes come from the KV store (waiting up to timeout_ms). 0 when the backup QP matches the app's QP. */
int shift_connect_backup(struct shift_qp *q, int timeout_ms)
{
    char key[96], val[256], bgid[SHIFT_GID_STR];
    struct ibv_qp_attr a;
    uint64_t bqpn, blid = 0, psn;
    if (!q->bqp || !q->have_rtr)
        return -1;
    if (!q->bqp_rtr) {
        if (q->rtr.ah_attr.is_global)
            snprintf(key, sizeof(key), "qp:%s:%u", q->peer_gid, q->rtr.dest_qp_num);
        else
            snprintf(key, sizeof(key), "qp:lid%u:%u", q->rtr.ah_attr.dlid, q->rtr.dest_qp_num);
        if (shift_kv_get(&shift_cfg.kv, key, val, sizeof(val), timeout_ms)) {
            if (timeout_ms)
                shift_log(1, "QP %u: peer's backup attributes '%s' not in the KV store (%s)", q->qp->qp_num, key,
                          shift_cfg.kv.redis[0] ? shift_cfg.kv.redis : shift_cfg.kv.dir);
            return -1;
        }
        if (shift_json_u64(val, "qpn", &bqpn) || (q->rtr.ah_attr.is_global && shift_json_str(val, "gid", bgid,
                                                                                             sizeof(bgid)))) {
            shift_log(1, "QP %u: malformed KV value '%s' for '%s'", q->qp->qp_num, val, key);
            return -1;
        }
        shift_json_u64(val, "lid", &blid);
        if (!shift_json_u64(val, "rq_psn", &psn))
            q->peer_rq_psn = (uint32_t)psn;
        a = q->rtr;
        a.dest_qp_num = (uint32_t)bqpn;
        a.ah_attr.port_num = (uint8_t)shift_cfg.backup_port;
        a.ah_attr.dlid = (uint16_t)blid;
        if (a.ah_attr.is_global) {
            shift_gid_parse(bgid, a.ah_attr.grh.dgid.raw);
            if (shift_cfg.backup_gid_index >= 0)
                a.ah_attr.grh.sgid_index = (uint8_t)shift_cfg.backup_gid_index;
        }
        if (shift_real.modify_qp(q->bqp, &a, q->rtr_mask)) {
            shift_log(1, "QP %u: Failed to modify backup QP %u to RTR: %s", q->qp->qp_num, q->bqp->qp_num,
                      strerror(errno));
            return -1;
        }
        q->bqp_rtr = 1;
        shift_log(2, "QP %u: backup QP %u at RTR against peer backup QP %" PRIu64, q->qp->qp_num, q->bqp->qp_num,
                  bqpn);
    }
    if (!q->bqp_rts && (q->have_rts || timeout_ms)) {
        int mask;
        shift_rts_attr(q, &a, &mask); /* a passive QP the application left at RTR still needs RTS for SHIFT */
        if (shift_real.modify_qp(q->bqp, &a, mask)) {
            shift_log(1, "QP %u: Failed to modify backup QP to RTS: %s", q->qp->qp_num, strerror(errno));
            return -1;
        }
        q->bqp_rts = 1;
    }
    return 0;
}

/* The application's RTS attributes, or -- for a QP it only brought to RTR (a passive responder) -- RTS for
 * SHIFT's own WRs (handshake answers, probes, notifications), starting at the PSN the peer expects. */
void shift_rts_attr(const struct shift_qp *q, struct ibv_qp_attr *a, int *mask)
{
    if (q->have_rts) {
        *a = q->rts;
        *mask = q->rts_mask;
        return;
    }
    memset(a, 0, sizeof(*a));
    a->qp_state = IBV_QPS_RTS;
    a->timeout = 14;
    a->retry_cnt = 6;
    a->rnr_retry = 7;
    a->sq_psn = q->peer_rq_psn;
    a->max_rd_atomic = 1;
    *mask = IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
            IBV_QP_MAX_QP_RD_ATOMIC;
}

int shift_backup_pending(const struct shift_qp *q)
{
    return q->qp && q->bqp && q->have_rtr && (!q->bqp_rtr || (q->have_rts && !q->bqp_rts));
}

/* ---------------------------------------------------------------- the interposed control verbs */

struct ibv_device **ibv_get_device_list(int *num_devices)
{
    struct ibv_device **list;
    int n = 0;
    if (!shift_ready())
        return NULL;
    list = shift_real.get_device_list(&n);
    if (num_devices)
        *num_devices = n;
    if (!list || n == 0) {
        int err = errno;
        shift_log(1, "no RDMA device found (%s); SHIFT is inactive: load rdma_rxe or run on a host with RDMA NICs",
                  list ? "empty device list" : strerror(err));
        errno = err;
    }
    return list;
}

static struct ibv_context *open_backup(struct ibv_device *primary, char *name, size_t len)
{
    struct ibv_device **list;
    struct ibv_context *b = NULL;
    int n = 0;
    if (backup_for(ibv_get_device_name(primary), name, len))
        return NULL;
    list = shift_real.get_device_list(&n);
    for (int i = 0; list && i < n; i++)
        if (!strcmp(ibv_get_device_name(list[i]), name))
            b = shift_real.open_device(list[i]);
    if (list)
        shift_real.free_device_list(list);
    if (!b)
        shift_log(1, "backup device '%s' not found or cannot be opened (%s); %s runs without failover", name,
                  strerror(errno), ibv_get_device_name(primary));
    return b;
}

struct ibv_context *ibv_open_device(struct ibv_device *device)
{
    struct ibv_context *ctx;
    struct shift_ctx *sc = NULL;
    struct verbs_context *vctx;
    if (!shift_ready())
        return NULL;
    ctx = shift_real.open_device(device);
    if (!ctx)
        return NULL;
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < MAX_CTX && !sc; i++)
        if (!ctxs[i].ctx)
            sc = &ctxs[i];
    if (!sc) {
        pthread_mutex_unlock(&table_lock);
        shift_log(1, "more than %d open devices: %s is not protected", MAX_CTX, ibv_get_device_name(device));
        return ctx;
    }
    memset(sc, 0, sizeof(*sc));
    sc->kbase = ((uint64_t)(sc - ctxs) + 1) << 40;
    snprintf(sc->name, sizeof(sc->name), "%s", ibv_get_device_name(device));
    sc->post_send = ctx->ops.post_send;
    sc->post_recv = ctx->ops.post_recv;
    sc->poll_cq = ctx->ops.poll_cq;
    sc->req_notify_cq = ctx->ops.req_notify_cq;
    sc->backup = open_backup(device, sc->backup_name, sizeof(sc->backup_name));
    if ((vctx = verbs_get_ctx_op(ctx, create_qp_ex))) {
        sc->create_qp_ex = vctx->create_qp_ex;
        vctx->create_qp_ex = shift_create_qp_ex;
    }
    sc->ctx = ctx;
    ctx->ops.post_send = shift_post_send;
    ctx->ops.post_recv = shift_post_recv;
    ctx->ops.poll_cq = shift_poll_cq;
    ctx->ops.req_notify_cq = shift_req_notify_cq;
    pthread_mutex_unlock(&table_lock);
    shift_log(2, "%s opened: data verbs swapped; backup %s", sc->name, sc->backup ? sc->backup_name : "none");
    return ctx;
}

int ibv_close_device(struct ibv_context *ctx)
{
    struct shift_ctx *sc;
    if (!shift_ready())
        return EINVAL;
    pthread_mutex_lock(&table_lock);
    if ((sc = shift_ctx_of(ctx))) {
        struct verbs_context *vctx = verbs_get_ctx_op(ctx, create_qp_ex);
        ctx->ops.post_send = sc->post_send;
        ctx->ops.post_recv = sc->post_recv;
        ctx->ops.poll_cq = sc->poll_cq;
        ctx->ops.req_notify_cq = sc->req_notify_cq;
        if (vctx && sc->create_qp_ex)
            vctx->create_qp_ex = sc->create_qp_ex;
        if (sc->backup)
            shift_real.close_device(sc->backup);
        sc->ctx = NULL;
        sc->backup = NULL;
    }
    pthread_mutex_unlock(&table_lock);
    return shift_real.close_device(ctx);
}

struct ibv_pd *ibv_alloc_pd(struct ibv_context *ctx)
{
    struct ibv_pd *pd;
    struct shift_ctx *sc;
    if (!shift_ready())
        return NULL;
    pd = shift_real.alloc_pd(ctx);
    if (pd && (sc = shift_ctx_of(ctx)) && sc->backup) {
        struct ibv_pd *bpd = shift_real.alloc_pd(sc->backup);
        if (bpd) {
            pthread_mutex_lock(&table_lock);
            pmap_put(&shadow, PKEY(pd), bpd);
            pthread_mutex_unlock(&table_lock);
        } else {
            shift_log(1, "Failed to alloc backup PD on %s: %s", sc->backup_name, strerror(errno));
        }
    }
    return pd;
}

int ibv_dealloc_pd(struct ibv_pd *pd)
{
    struct ibv_pd *bpd;
    if (!shift_ready())
        return EINVAL;
    if ((bpd = pmap_get(&shadow, PKEY(pd)))) {
        pthread_mutex_lock(&table_lock);
        pmap_put(&shadow, PKEY(pd), NULL);
        pthread_mutex_unlock(&table_lock);
        shift_real.dealloc_pd(bpd);
    }
    return shift_real.dealloc_pd(pd);
}

/* Shadow MR (paper §4.2): the same memory registered on the backup PD; published rkey -> backup rkey. */
static struct ibv_mr *shadow_mr(struct ibv_mr *mr, struct ibv_mr *bmr)
{
    struct shift_ctx *sc;
    struct mr_rec *m;
    if (!mr || !bmr || !(sc = shift_ctx_of(mr->context)) || !(m = calloc(1, sizeof(*m)))) {
        if (bmr)
            shift_real.dereg_mr(bmr);
        return mr;
    }
    m->mr = mr;
    m->bmr = bmr;
    m->sc = sc;
    pthread_mutex_lock(&table_lock);
    pmap_put(&shadow, PKEY(mr), m);
    pmap_put(&shadow, LKEY(sc, mr->lkey), bmr);
    m->next = mr_list;
    mr_list = m;
    for (int i = 0; i < sc->ngids; i++)
        publish_mr(m, sc->gids[i]);
    pthread_mutex_unlock(&table_lock);
    return mr;
}

static struct ibv_pd *backup_pd(struct ibv_mr *mr) { return mr ? pmap_get(&shadow, PKEY(mr->pd)) : NULL; }

static struct ibv_mr *backup_reg(struct ibv_mr *mr, void *addr, size_t length, uint64_t iova, unsigned access)
{
    struct ibv_pd *bpd = backup_pd(mr);
    struct ibv_mr *bmr;
    if (!bpd)
        return NULL;
    bmr = shift_real.reg_mr_iova2(bpd, addr, length, iova, access);
    if (!bmr)
        shift_log(1, "Failed to register backup MR: %s", strerror(errno));
    return bmr;
}

/* verbs.h turns these two names into inline dispatchers; we define the exported functions themselves */
#undef ibv_reg_mr
#undef ibv_reg_mr_iova

struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access)
{
    struct ibv_mr *mr;
    if (!shift_ready())
        return NULL;
    mr = shift_real.reg_mr(pd, addr, length, access);
    return shadow_mr(mr, backup_reg(mr, addr, length, (uintptr_t)addr, (unsigned)access));
}

struct ibv_mr *ibv_reg_mr_iova(struct ibv_pd *pd, void *addr, size_t length, uint64_t iova, int access)
{
    struct ibv_mr *mr;
    if (!shift_ready())
        return NULL;
    mr = shift_real.reg_mr_iova(pd, addr, length, iova, access);
    return shadow_mr(mr, backup_reg(mr, addr, length, iova, (unsigned)access));
}

struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length, uint64_t iova, unsigned int access)
{
    struct ibv_mr *mr;
    if (!shift_ready())
        return NULL;
    mr = shift_real.reg_mr_iova2(pd, addr, length, iova, access);
    return shadow_mr(mr, backup_reg(mr, addr, length, iova, access));
}

/* dma-buf MRs (GPU memory): the shadow registers the same dma-buf on the backup device */
struct ibv_mr *ibv_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset, size_t length, uint64_t iova, int fd,
                                 int access)
{
    struct ibv_mr *mr, *bmr = NULL;
    struct ibv_pd *bpd;
    if (!shift_ready() || !shift_real.reg_dmabuf_mr) {
        errno = EOPNOTSUPP;
        return NULL;
    }
    mr = shift_real.reg_dmabuf_mr(pd, offset, length, iova, fd, access);
    if (mr && (bpd = backup_pd(mr)) && !(bmr = shift_real.reg_dmabuf_mr(bpd, offset, length, iova, fd, access)))
        shift_log(1, "Failed to register backup dma-buf MR: %s", strerror(errno));
    return shadow_mr(mr, bmr);
}

int ibv_dereg_mr(struct ibv_mr *mr)
{
    struct mr_rec *m, **p;
    if (!shift_ready())
        return EINVAL;
    pthread_mutex_lock(&table_lock);
    if ((m = pmap_get(&shadow, PKEY(mr)))) {
        char key[96];
        pmap_put(&shadow, PKEY(mr), NULL);
        pmap_put(&shadow, LKEY(m->sc, mr->lkey), NULL);
        for (p = &mr_list; *p; p = &(*p)->next)
            if (*p == m) {
                *p = m->next;
                break;
            }
        for (int i = 0; i < m->sc->ngids; i++) {
            snprintf(key, sizeof(key), "mr:%s:%u", m->sc->gids[i], mr->rkey);
            shift_kv_del(&shift_cfg.kv, key);
        }
    }
    pthread_mutex_unlock(&table_lock);
    if (m) {
        shift_real.dereg_mr(m->bmr);
        free(m);
    }
    return shift_real.dereg_mr(mr);
}

/* ---------------------------------------------------------------- completion channels */

/* One eventfd per completion channel: libshift's own wake-up for completions the kernel never reports (those
 * of the backup CQ and of the WC buffer), watched by the interposed ibv_get_cq_event beside the channel's fd. */
#define CHANNEL_CQS 16
static struct {
    struct ibv_comp_channel *ch;
    int efd;
    struct shift_cq *_Atomic cqs[CHANNEL_CQS];
} channels[64];

static int channel_efd(struct ibv_comp_channel *ch, struct shift_cq *c)
{
    int i, efd = -1;
    pthread_mutex_lock(&table_lock);
    for (i = 0; i < 64 && channels[i].ch; i++)
        if (channels[i].ch == ch) {
            efd = channels[i].efd;
            break;
        }
    if (efd < 0 && i < 64 && (efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) >= 0) {
        channels[i].efd = efd;
        __atomic_store_n(&channels[i].ch, ch, __ATOMIC_RELEASE); /* ibv_get_cq_event reads without the lock */
    }
    if (efd >= 0) {
        int k;
        for (k = 0; k < CHANNEL_CQS && atomic_load(&channels[i].cqs[k]); k++)
            ;
        if (k < CHANNEL_CQS)
            atomic_store(&channels[i].cqs[k], c);
        else
            efd = -1;
    }
    pthread_mutex_unlock(&table_lock);
    if (efd < 0)
        shift_log(1, "no eventfd for a completion channel: an event-driven program may sleep through a failover");
    return efd;
}

int ibv_get_cq_event(struct ibv_comp_channel *channel, struct ibv_cq **cq, void **cq_context)
{
    int efd = -1, nonblock, slot = -1;
    if (!shift_ready())
        return -1;
    for (int i = 0; i < 64; i++) {
        struct ibv_comp_channel *ch = __atomic_load_n(&channels[i].ch, __ATOMIC_ACQUIRE);
        if (!ch)
            break;
        if (ch == channel) {
            efd = channels[i].efd;
            slot = i;
            break;
        }
    }
    if (efd < 0)
        return shift_real.get_cq_event(channel, cq, cq_context);
    nonblock = (fcntl(channel->fd, F_GETFL) & O_NONBLOCK) != 0;
    for (;;) {
        struct pollfd fds[2] = {{.fd = channel->fd, .events = POLLIN}, {.fd = efd, .events = POLLIN}};
        uint64_t n;
        int r = poll(fds, 2, nonblock ? 0 : -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            errno = r == 0 ? EAGAIN : errno;
            return -1;
        }
        if (fds[0].revents)
            return shift_real.get_cq_event(channel, cq, cq_context);
        if (read(efd, &n, sizeof(n)) != sizeof(n))
            continue; /* another thread took it */
        for (int k = 0; k < CHANNEL_CQS; k++) { /* the CQ of this channel with completions waiting */
            struct shift_cq *c = atomic_load(&channels[slot].cqs[k]);
            int fast, pending;
            if (!c)
                continue;
            fast = shift_blk_lock(&c->lock);
            pending = c->bhead != c->btail || c->nfo;
            shift_blk_unlock(&c->lock, fast);
            if (pending) {
                atomic_fetch_add(&c->fabricated, 1);
                *cq = c->cq;
                *cq_context = c->cq->cq_context;
                return 0;
            }
        }
    }
}

void ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
    struct shift_cq *c;
    if (!shift_ready())
        return;
    if ((c = shift_cq_of(cq))) { /* the events libshift made up are not the kernel's to count */
        unsigned f = atomic_load(&c->fabricated), m;
        do
            m = f < nevents ? f : nevents;
        while (m && !atomic_compare_exchange_weak(&c->fabricated, &f, f - m));
        nevents -= m;
    }
    if (nevents)
        shift_real.ack_cq_events(cq, nevents);
}

struct ibv_cq *ibv_create_cq(struct ibv_context *ctx, int cqe, void *cq_context, struct ibv_comp_channel *channel,
                             int comp_vector)
{
    struct ibv_cq *cq;
    struct shift_ctx *sc;
    struct shift_cq *c;
    if (!shift_ready())
        return NULL;
    cq = shift_real.create_cq(ctx, cqe, cq_context, channel, comp_vector);
    if (!cq || !(sc = shift_ctx_of(ctx)) || !(c = calloc(1, sizeof(*c))))
        return cq;
    c->cq = cq;
    c->sc = sc;
    c->channel = channel;
    c->efd = channel ? channel_efd(channel, c) : -1;
    shift_blk_init(&c->lock);
    c->bcap = (uint32_t)(cqe > 0 ? cqe : 1) * 2 + 64;
    c->buf = calloc(c->bcap, sizeof(*c->buf));
    if (sc->backup && !(c->bcq = shift_real.create_cq(sc->backup, cqe, NULL, NULL, 0)))
        shift_log(1, "Failed to create backup CQ on %s: %s", sc->backup_name, strerror(errno));
    if (!c->buf) {
        if (c->bcq)
            shift_real.destroy_cq(c->bcq);
        free(c);
        return cq;
    }
    pthread_mutex_lock(&table_lock);
    pmap_put(&shadow, PKEY(cq), c);
    pthread_mutex_unlock(&table_lock);
    return cq;
}

int ibv_destroy_cq(struct ibv_cq *cq)
{
    struct shift_cq *c;
    if (!shift_ready())
        return EINVAL;
    pthread_mutex_lock(&table_lock);
    if ((c = pmap_get(&shadow, PKEY(cq)))) {
        pmap_put(&shadow, PKEY(cq), NULL);
        for (int i = 0; i < 64 && channels[i].ch; i++)
            for (int k = 0; k < CHANNEL_CQS; k++)
                if (atomic_load(&channels[i].cqs[k]) == c)
                    atomic_store(&channels[i].cqs[k], NULL);
    }
    pthread_mutex_unlock(&table_lock);
    if (c) {
        if (c->bcq)
            shift_real.destroy_cq(c->bcq);
        /* the record stays allocated: a racing poll (an application bug) reads a dead CQ, not freed memory */
        c->bcq = NULL;
    }
    return shift_real.destroy_cq(cq);
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t c = 1;
    while (c < n && c < (1u << 24))
        c <<= 1;
    return c;
}

/* The backup QP: the application's attributes plus room for SHIFT's own WRs (handshake, fillers: unsignaled
 * sends; stale receive WQEs left by a switch-back) and inline data for the 32-byte handshake. */
static struct ibv_qp *shadow_qp(struct shift_ctx *sc, struct ibv_pd *pd, const struct ibv_qp_init_attr *attr,
                                struct shift_cq *scq, struct shift_cq *rcq)
{
    struct ibv_qp_init_attr b = *attr;
    struct ibv_pd *bpd = pmap_get(&shadow, PKEY(pd));
    struct ibv_qp *bqp;
    if (!sc->backup || !bpd || !scq->bcq || !rcq->bcq)
        return NULL;
    b.send_cq = scq->bcq;
    b.recv_cq = rcq->bcq;
    b.qp_context = NULL;
    b.srq = NULL;
    b.cap.max_send_wr = attr->cap.max_send_wr + 16;
    b.cap.max_recv_wr = 2 * attr->cap.max_recv_wr + 2;
    if (b.cap.max_inline_data < 64)
        b.cap.max_inline_data = 64;
    bqp = shift_real.create_qp(bpd, &b);
    if (!bqp)
        shift_log(1, "Failed to create backup QP on %s: %s", sc->backup_name, strerror(errno));
    return bqp;
}

/* Protect a new RC QP: WR logs, shadow QP, layer region (mailbox + scratch) on both devices. NULL when the QP
 * stays a plain pass-through QP (with the reason logged once). */
static struct shift_qp *protect(struct ibv_qp *qp, struct ibv_pd *pd, const struct ibv_qp_init_attr *attr)
{
    struct shift_ctx *sc = shift_ctx_of(pd->context);
    struct shift_cq *scq = shift_cq_of(attr->send_cq), *rcq = shift_cq_of(attr->recv_cq);
    struct ibv_pd *bpd = pmap_get(&shadow, PKEY(pd));
    struct shift_qp *q;
    uint64_t i;
    const int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
    if (attr->qp_type != IBV_QPT_RC || attr->srq || !sc)
        return NULL; /* only RC QPs without SRQ are protected */
    if (!scq || !rcq) {
        shift_log(1, "QP %u: a CQ libshift did not create (ibv_create_cq_ex?): not protected", qp->qp_num);
        return NULL;
    }
    q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->qp = qp;
    q->sc = sc;
    q->scq = scq;
    q->rcq = rcq;
    q->sig_all = attr->sq_sig_all;
    q->inline_max = attr->cap.max_inline_data;
    shift_blk_init(&q->lock);
    /* 2x the queue depth: an unsignaled WR stays in the log until a later signaled one completes */
    q->core.sq = shift_wrlog_create(pow2_at_least(2 * attr->cap.max_send_wr + 2));
    q->core.rq = shift_wrlog_create(pow2_at_least(2 * attr->cap.max_recv_wr + 2));
    if (q->inline_max)
        q->inline_arena = malloc(shift_wrlog_capacity(q->core.sq) * q->inline_max);
    if (posix_memalign((void **)&q->region, 64, 128))
        q->region = NULL;
    if (!q->core.sq || !q->core.rq || (q->inline_max && !q->inline_arena) || !q->region) {
        shift_log(1, "QP %u: no memory for the WR log: not protected", qp->qp_num);
        goto fail;
    }
    memset(q->region, 0, 128);
    q->bqp = shadow_qp(sc, pd, attr, scq, rcq);
    if (q->bqp) {
        q->rmr = shift_real.reg_mr(pd, q->region, 128, access);
        q->brmr = bpd ? shift_real.reg_mr(bpd, q->region, 128, access) : NULL;
        if (!q->rmr || !q->brmr) {
            shift_log(1, "QP %u: cannot register SHIFT's mailbox: no failover for this QP", qp->qp_num);
            if (q->rmr)
                shift_real.dereg_mr(q->rmr);
            if (q->brmr)
                shift_real.dereg_mr(q->brmr);
            q->rmr = q->brmr = NULL;
            shift_real.destroy_qp(q->bqp);
            q->bqp = NULL;
        }
    }
    atomic_init(&q->mode, SHIFT_MODE_DEFAULT);
    q->port_active = 1;
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
    atomic_fetch_add_explicit(&shift_qp_gen, 1, memory_order_release);
    pthread_mutex_unlock(&table_lock);
    shift_log(2, "QP %u protected (log %" PRIu64 "/%" PRIu64 " records, backup QP %d)", qp->qp_num,
              shift_wrlog_capacity(q->core.sq), shift_wrlog_capacity(q->core.rq), q->bqp ? (int)q->bqp->qp_num : -1);
    shift_control_start();
    return q;
fail:
    shift_wrlog_destroy(q->core.sq);
    shift_wrlog_destroy(q->core.rq);
    free(q->inline_arena);
    free(q->region);
    free(q);
    return NULL;
}

struct ibv_qp *ibv_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
    struct ibv_qp *qp;
    if (!shift_ready())
        return NULL;
    qp = shift_real.create_qp(pd, attr);
    if (qp)
        protect(qp, pd, attr);
    return qp;
}

/* ibv_create_qp_ex's provider call, swapped in verbs_context (shift_datapath.c installs the ibv_wr_* wrappers) */
struct ibv_qp *shift_create_qp_ex(struct ibv_context *ctx, struct ibv_qp_init_attr_ex *attr)
{
    struct shift_ctx *sc = shift_ctx_of(ctx);
    const uint32_t known = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
    struct ibv_qp *qp;
    struct shift_qp *q;
    if (!sc || !sc->create_qp_ex) {
        errno = EOPNOTSUPP;
        return NULL;
    }
    qp = sc->create_qp_ex(ctx, attr);
    if (!qp || attr->qp_type != IBV_QPT_RC || attr->srq)
        return qp;
    if (attr->comp_mask & ~known) {
        shift_log(1, "QP %u: ibv_create_qp_ex with comp_mask 0x%x (beyond PD and send_ops_flags): not protected",
                  qp->qp_num, attr->comp_mask);
        return qp;
    }
    q = protect(qp, attr->pd, (const struct ibv_qp_init_attr *)attr);
    if (q && (attr->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS) && shift_qpx_protect(q, attr))
        shift_unprotect(q, "its ibv_wr_* posting cannot be logged");
    return qp;
}

/* Mirror the application's QP transitions onto the backup QP; publish this side at RTR. (q->lock held) */
static void shadow_modify(struct shift_qp *q, const struct ibv_qp_attr *attr, int mask)
{
    struct ibv_qp_attr a = *attr;
    if (!(mask & IBV_QP_STATE))
        return;
    if (attr->qp_state == IBV_QPS_INIT) {
        q->init_attr = *attr;
        q->init_mask = mask;
        q->have_init = 1;
        if (mask & IBV_QP_PORT) /* the control thread reads it without the QP's locks (its port poll) */
            __atomic_store_n(&q->port, attr->port_num, __ATOMIC_RELAXED);
        if (!q->bqp)
            return;
        a.port_num = (uint8_t)shift_cfg.backup_port;
        a.qp_access_flags |= IBV_ACCESS_REMOTE_WRITE; /* the peer's handshake lands in our mailbox */
        if (shift_real.modify_qp(q->bqp, &a, mask | IBV_QP_ACCESS_FLAGS))
            shift_log(1, "QP %u: Failed to modify backup QP to INIT: %s", q->qp->qp_num, strerror(errno));
    } else if (attr->qp_state == IBV_QPS_RTR) {
        union ibv_gid mine, bgid;
        struct ibv_port_attr bport;
        char b_s[SHIFT_GID_STR], key[96], val[256];
        int bidx = shift_cfg.backup_gid_index >= 0 ? shift_cfg.backup_gid_index : attr->ah_attr.grh.sgid_index;
        q->rtr = *attr;
        q->rtr_mask = mask;
        q->have_rtr = 1;
        if (!q->bqp)
            return;
        memset(&mine, 0, sizeof(mine));
        memset(&bgid, 0, sizeof(bgid));
        if (attr->ah_attr.is_global) {
            shift_real.query_gid(q->qp->context, attr->ah_attr.port_num, attr->ah_attr.grh.sgid_index, &mine);
            shift_real.query_gid(q->sc->backup, (uint8_t)shift_cfg.backup_port, bidx, &bgid);
        }
        memset(&bport, 0, sizeof(bport));
        ibv_query_port(q->sc->backup, (uint8_t)shift_cfg.backup_port, &bport);
        shift_gid_str(mine.raw, q->my_gid);
        shift_gid_str(bgid.raw, b_s);
        shift_gid_str(attr->ah_attr.grh.dgid.raw, q->peer_gid);
        /* this QP's default identity as the peer knows it: GID (or LID without GRH) + QPN */
        if (attr->ah_attr.is_global) {
            snprintf(key, sizeof(key), "qp:%s:%u", q->my_gid, q->qp->qp_num);
        } else {
            struct ibv_port_attr p;
            ibv_query_port(q->qp->context, attr->ah_attr.port_num, &p);
            snprintf(q->my_gid, sizeof(q->my_gid), "lid%u", p.lid);
            snprintf(key, sizeof(key), "qp:lid%u:%u", p.lid, q->qp->qp_num);
            snprintf(q->peer_gid, sizeof(q->peer_gid), "lid%u", attr->ah_attr.dlid);
        }
        snprintf(val, sizeof(val), "{\"gid\": \"%s\", \"qpn\": %u, \"lid\": %u, \"rq_psn\": %u}", b_s,
                 q->bqp->qp_num, bport.lid, (mask & IBV_QP_RQ_PSN) ? attr->rq_psn : 0);
        if (shift_kv_put(&shift_cfg.kv, key, val))
            shift_log(1, "Failed to publish %s to the KV store: %s", key, strerror(errno));
        snprintf(q->my_key, sizeof(q->my_key), "%s", key);
        snprintf(key, sizeof(key), "mbox:%s:%u", q->my_gid, q->qp->qp_num);
        snprintf(val, sizeof(val), "{\"addr\": %" PRIu64 ", \"rkey\": %u, \"brkey\": %u}",
                 (uint64_t)(uintptr_t)q->region, q->rmr->rkey, q->brmr->rkey);
        if (shift_kv_put(&shift_cfg.kv, key, val))
            shift_log(1, "Failed to publish %s to the KV store: %s", key, strerror(errno));
        snprintf(q->my_mbox_key, sizeof(q->my_mbox_key), "%s", key);
        pthread_mutex_lock(&table_lock);
        shift_publish_mrs(q->sc, q->my_gid);
        pthread_mutex_unlock(&table_lock);
        shift_connect_backup(q, 0); /* best effort now; else the control thread retries, and failover waits */
    } else if (attr->qp_state == IBV_QPS_RTS) {
        q->rts = *attr;
        q->rts_mask = mask;
        q->have_rts = 1;
        q->default_ready = 1;
        if (q->bqp)
            shift_connect_backup(q, 0);
    }
}

int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int attr_mask)
{
    int ret, fast[3];
    struct shift_qp *q;
    if (!shift_ready())
        return EINVAL;
    q = shift_qp_of(qp);
    if (q && (attr_mask & IBV_QP_STATE) && (attr->qp_state == IBV_QPS_ERR || attr->qp_state == IBV_QPS_RESET ||
                                            attr->qp_state == IBV_QPS_SQD)) {
        /* the application is tearing the QP down (or draining it): its flushes are its own, not a failure */
        shift_lock_all(q, fast);
        shift_unprotect(q, NULL);
        shift_unlock_all(q, fast);
    }
    ret = shift_real.modify_qp(qp, attr, attr_mask);
    if (ret == 0 && q && atomic_load(&q->mode) != SHIFT_MODE_PASS) {
        int f = shift_blk_lock(&q->lock);
        shadow_modify(q, attr, attr_mask);
        if (shift_backup_pending(q)) {
            atomic_store(&q->connect_pending, 1);
            shift_wake();
        }
        shift_blk_unlock(&q->lock, f);
    }
    return ret;
}

int ibv_destroy_qp(struct ibv_qp *qp)
{
    struct shift_qp *q;
    int fast[3];
    if (!shift_ready())
        return EINVAL;
    if ((q = shift_qp_of(qp))) {
        shift_control_hold(q);
        shift_report(q);
        shift_lock_all(q, fast);
        shift_unprotect(q, NULL);
        shift_unlock_all(q, fast);
        pthread_mutex_lock(&table_lock);
        pmap_put(&shadow, QPN(q->sc, qp->qp_num), NULL);
        if (q->bqp) {
            pmap_put(&shadow, BQPN(q->sc, q->bqp->qp_num), NULL);
            shift_real.destroy_qp(q->bqp);
        }
        if (q->rmr)
            shift_real.dereg_mr(q->rmr);
        if (q->brmr)
            shift_real.dereg_mr(q->brmr);
        if (q->my_key[0])
            shift_kv_del(&shift_cfg.kv, q->my_key);
        if (q->my_mbox_key[0])
            shift_kv_del(&shift_cfg.kv, q->my_mbox_key);
        __atomic_store_n(&q->qp, NULL, __ATOMIC_RELEASE); /* a tombstone: the slot keeps probe chains intact; the
                                                           * record is never freed */
        atomic_fetch_add_explicit(&shift_qp_gen, 1, memory_order_release);
        pthread_mutex_unlock(&table_lock);
        shift_control_release();
    }
    return shift_real.destroy_qp(qp);
}

/* Port errors the application reads (paper: PORT_ERR precedes RETRY_EXC_ERR when the peer link dies). */
int ibv_get_async_event(struct ibv_context *ctx, struct ibv_async_event *event)
{
    struct shift_qp *all[TABLE];
    int ret, n;
    if (!shift_ready())
        return -1;
    ret = shift_real.get_async_event(ctx, event);
    if (ret == 0 && event->event_type == IBV_EVENT_PORT_ERR) {
        n = shift_qps_snapshot(all, TABLE);
        for (int i = 0; i < n; i++)
            if (all[i]->qp->context == ctx && __atomic_load_n(&all[i]->port, __ATOMIC_RELAXED) == event->element.port_num)
                atomic_fetch_or(&all[i]->events, SHIFT_EV_PORT);
        shift_wake();
    }
    return ret;
}
