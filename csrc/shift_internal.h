/* shift_internal.h -- libshift's objects and the contracts between its files.
 *
 *   shift_interpose.c  control verbs (shadow resources, KV publication), configuration, the QP/CQ tables
 *   shift_datapath.c   the swapped data verbs: post_send / post_recv / poll_cq and the ibv_wr_* builders
 *   shift_failover.c   the control thread: handshake, WQ rewind, probe, fenced switch-back (paper §4.3),
 *                      every transition through the generated table (shift_qpcore.h)
 *   shift_dlsym.c      dlsym / dlvsym for programs that look the verbs up themselves (NCCL's ibvwrap)
 *
 * Locking (deadlock-free by construction; csrc/README.md "Threads"):
 *   - a QP's post lock (q->lock) is held by post_send / post_recv / wr_start..wr_complete;
 *   - a CQ's poll lock (c->lock) is held by poll_cq; completion routing (shift_route) runs under it, touches
 *     only that CQ's queue of each QP (the send log's tail for a send CQ, the receive log's for a receive CQ)
 *     and atomics, and never takes another lock: what needs a decision is flagged for the control thread;
 *   - the control thread takes a QP's send-CQ and receive-CQ locks (address order) and then its post lock
 *     (shift_lock_all) before it changes the QP's state, so an application thread never holds two of
 *     libshift's locks and the control thread always takes them in one order.
 * All three are biased locks (shift_biaslock.h): one application thread per QP or CQ pays no atomic
 * instruction.
 */
#ifndef SHIFT_INTERNAL_H
#define SHIFT_INTERNAL_H

#define _GNU_SOURCE
#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "shift_biaslock.h"
#include "shift_kv.h"
#include "shift_qpcore.h"
#include "shift_wire.h"

/* ---------------------------------------------------------------- configuration, logging, trace */

struct shift_config {
    char backup[512];     /* "dev" (backup of every device) or "dev0:bak0,dev1:bak1" */
    int backup_port;
    int backup_gid_index; /* -1: the application's sgid_index */
    int log_level;        /* 0 quiet, 1 warnings + failover events (default), 2 debug */
    int probe_ms;         /* how often a failed-over QP resets and probes its default QP */
    int poll_us;          /* control thread period (mailboxes, passive CQs) */
    int port_poll_ms;     /* how often the control thread reads the default ports' state */
    int biased_locks;     /* 0: plain spinlocks everywhere (ThreadSanitizer / helgrind runs) */
    char trace[256];      /* append every transition as a JSON line here (empty: off) */
    struct shift_kv_config kv;
};
extern struct shift_config shift_cfg;

void shift_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* one JSON line to the trace file (if configured): {"t":..,"pid":..,"qpn":..,<fields>} */
void shift_trace(uint32_t qpn, const char *fields_fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t shift_now_ns(void);

/* ---------------------------------------------------------------- the real libibverbs */

struct shift_real {
    struct ibv_device **(*get_device_list)(int *);
    void (*free_device_list)(struct ibv_device **);
    struct ibv_context *(*open_device)(struct ibv_device *);
    int (*close_device)(struct ibv_context *);
    struct ibv_pd *(*alloc_pd)(struct ibv_context *);
    int (*dealloc_pd)(struct ibv_pd *);
    struct ibv_mr *(*reg_mr)(struct ibv_pd *, void *, size_t, int);
    struct ibv_mr *(*reg_mr_iova)(struct ibv_pd *, void *, size_t, uint64_t, int);
    struct ibv_mr *(*reg_mr_iova2)(struct ibv_pd *, void *, size_t, uint64_t, unsigned int);
    struct ibv_mr *(*reg_dmabuf_mr)(struct ibv_pd *, uint64_t, size_t, uint64_t, int, int); /* may be NULL */
    int (*dereg_mr)(struct ibv_mr *);
    struct ibv_cq *(*create_cq)(struct ibv_context *, int, void *, struct ibv_comp_channel *, int);
    int (*destroy_cq)(struct ibv_cq *);
    struct ibv_qp *(*create_qp)(struct ibv_pd *, struct ibv_qp_init_attr *);
    int (*modify_qp)(struct ibv_qp *, struct ibv_qp_attr *, int);
    int (*destroy_qp)(struct ibv_qp *);
    int (*get_async_event)(struct ibv_context *, struct ibv_async_event *);
    int (*get_cq_event)(struct ibv_comp_channel *, struct ibv_cq **, void **);
    void (*ack_cq_events)(struct ibv_cq *, unsigned int);
    int (*query_gid)(struct ibv_context *, uint8_t, int, union ibv_gid *);
    struct ibv_qp_ex *(*qp_to_qp_ex)(struct ibv_qp *); /* may be NULL (libibverbs < 1.6) */
};
extern struct shift_real shift_real;
int shift_ready(void); /* resolve the real verbs and read the configuration once; 0 if unusable */

/* dlsym / dlvsym of the C library (shift_dlsym.c), and the interposed-symbol map */
void *shift_libc_dlsym(void *handle, const char *name);
void shift_dlsym_map_init(void); /* after shift_real is resolved */

/* ---------------------------------------------------------------- objects */

typedef int (*shift_post_send_fn)(struct ibv_qp *, struct ibv_send_wr *, struct ibv_send_wr **);
typedef int (*shift_post_recv_fn)(struct ibv_qp *, struct ibv_recv_wr *, struct ibv_recv_wr **);
typedef int (*shift_poll_cq_fn)(struct ibv_cq *, int, struct ibv_wc *);
typedef struct ibv_qp *(*shift_create_qp_ex_fn)(struct ibv_context *, struct ibv_qp_init_attr_ex *);
typedef int (*shift_req_notify_fn)(struct ibv_cq *, int);

struct shift_ctx {
    struct ibv_context *ctx;    /* the application's context (ops swapped) */
    struct ibv_context *backup; /* its backup device's context, or NULL */
    shift_post_send_fn post_send; /* the provider's data verbs */
    shift_post_recv_fn post_recv;
    shift_poll_cq_fn poll_cq;
    shift_create_qp_ex_fn create_qp_ex;
    shift_req_notify_fn req_notify_cq;
    char name[64], backup_name[64];
    char gids[4][SHIFT_GID_STR]; /* default GIDs QPs of this context used: MRs are published under each */
    int ngids;
    uint64_t kbase; /* this context's tag in the shadow table's keys */
};

/* a CQ of the application and its shadow on the backup device */
struct shift_cq {
    struct ibv_cq *cq;
    struct ibv_cq *bcq;
    struct shift_ctx *sc;
    struct shift_blk lock; /* the poll lock */
    int slow;              /* (under lock) the buffer holds completions, or an attached QP is failed over */
    int nfo;               /* (under lock) attached QPs with a queue on the backup path */
    struct ibv_wc *buf;    /* WC buffer (paper §4.3.2 step 1): app-visible completions, in order */
    uint32_t bhead, btail, bcap;
    struct ibv_comp_channel *channel; /* the application's completion channel, or NULL */
    int efd;               /* libshift's eventfd for that channel (wakes ibv_get_cq_event), or -1 */
    _Atomic int armed;     /* the application asked for a completion event (ibv_req_notify_cq) */
    _Atomic unsigned fabricated; /* events libshift delivered (not the kernel): ibv_ack_cq_events subtracts them */
    uint32_t last_qpn;     /* (under lock) the QP of the last completion: most CQs serve one or a few QPs */
    unsigned last_gen;
    struct shift_qp *last_q;
};

enum shift_mode { SHIFT_MODE_DEFAULT = 0, SHIFT_MODE_PASS = 1, SHIFT_MODE_SLOW = 2 };

/* events the completion router flags for the control thread (q->events) */
#define SHIFT_EV_DEFAULT_FAILED 0x01u /* a path error on the default QP (status in fail_status) */
#define SHIFT_EV_APP_ERROR 0x02u      /* the application's own error: surfaced, no failover */
#define SHIFT_EV_BACKUP_ERROR 0x04u   /* an error on the backup path: second failure */
#define SHIFT_EV_PROBE_OK 0x08u
#define SHIFT_EV_PROBE_ERR 0x10u
#define SHIFT_EV_FENCE_DONE 0x20u
#define SHIFT_EV_NOTIFY_OK 0x40u
#define SHIFT_EV_NOTIFY_ERR 0x80u
#define SHIFT_EV_PEER_BACK 0x100u /* the peer's switch-back notification arrived on the default QP */
#define SHIFT_EV_PORT 0x200u      /* the application read IBV_EVENT_PORT_ERR for this QP's port */

struct shift_qpx_ops; /* the provider's ibv_qp_ex builders (shift_datapath.c) */

struct shift_qp {
    struct ibv_qp *qp;  /* the application's (default) QP */
    struct ibv_qp *bqp; /* its shadow on the backup device, or NULL */
    struct shift_ctx *sc;
    struct shift_cq *scq, *rcq;
    struct shift_blk lock; /* the post lock */
    struct shift_qp_core core;
    _Atomic int mode;     /* enum shift_mode: what post/poll do without asking anyone */
    _Atomic int failing;  /* the router saw a path error on the default QP; not handled yet */
    _Atomic int surfaced; /* the application's own error was passed through: pass everything through */
    _Atomic int backup_dead; /* after a second failure: hide the backup QP's completions */
    _Atomic unsigned events;
    _Atomic int connect_pending; /* the backup QP still waits for the peer's attributes (control thread retries) */
    int fail_status;
    int sig_all;
    uint8_t *inline_arena;
    uint32_t inline_max;
    /* the extended posting API (ibv_create_qp_ex + ibv_wr_*) */
    struct ibv_qp_ex *qpx;
    struct shift_qpx_ops *xops;
    int x_fast, x_path_default, x_log, x_err;
    uint64_t x_head0;
    struct shift_wr *x_cur;
    /* the application's connection, kept for resets and the backup */
    struct ibv_qp_attr init_attr, rtr, rts;
    int init_mask, rtr_mask, rts_mask, have_init, have_rtr, have_rts, bqp_rtr, bqp_rts;
    int default_ready; /* the default QP is connected (not in ERR since the last reset) */
    uint32_t peer_rq_psn; /* the PSN the peer's QPs expect from ours (KV), for an RTS the application never did */
    uint8_t port;
    char my_gid[SHIFT_GID_STR], peer_gid[SHIFT_GID_STR];
    char my_key[96], my_mbox_key[96];
    /* layer region: the 32-byte mailbox, then a scratch area; registered on both devices */
    uint8_t *region;
    struct ibv_mr *rmr, *brmr;
    int peer_region;
    uint64_t peer_mbox_addr;
    uint32_t peer_mbox_rkey, peer_mbox_brkey;
    uint8_t mbox_seen[SHIFT_MAILBOX_BYTES]; /* the last mailbox read (a message is taken when two reads agree) */
    /* the receive-counter handshake (paper §4.3.2); names as in shift_core/shift/qp.py */
    uint64_t hs_sent, hs_seen, peer_counter, stale_total, fillers_sent, peer_stale_total;
    int have_peer_counter, hs_awaiting, resubmit_pending;
    uint64_t backup_stale; /* WQEs left on our backup RQ by a switch-back: the peer's fillers consume them */
    uint64_t posted_upto;  /* while failed over: send records below this are posted on the backup QP */
    _Atomic uint64_t fence_end; /* 0, or sequence number + 1 of the fence WR */
    /* probe and switch-back */
    int probe_inflight, notify_inflight;
    int resubmit_deferred; /* the rewind stopped at a full backup send queue: resubmit() again later */
    uint64_t next_probe_ns, next_port_ns;
    uint64_t notify_deadline_ns; /* the notification has not completed by then: the default path failed again */
    int port_active;
    int fo_s, fo_r; /* counted in scq->nfo / rcq->nfo (this QP has that queue on the backup path) */
    /* the peer's rkey -> backup rkey (KV, cached) */
    uint32_t rk_key[64], rk_val[64];
    uint8_t rk_used[64];
    struct {
        uint64_t failovers, switch_backs, replayed, skipped, fillers, probes, probe_failures, handshakes;
    } n;
    /* internal wr_ids: addresses no application WR can carry */
    char tag_probe, tag_notify, tag_notify_recv, tag_internal;
};

/* tables (shift_interpose.c): open addressing, written under a mutex, read lock-free on the data path */
#define SHIFT_TABLE 4096 /* power of two */
struct shift_pmap {
    _Atomic uint64_t key[SHIFT_TABLE];
    void *_Atomic val[SHIFT_TABLE];
};
extern struct shift_pmap shift_shadow;
extern struct shift_qp *_Atomic shift_qps[SHIFT_TABLE];
extern _Atomic unsigned shift_qp_gen; /* bumped at every QP create / destroy: invalidates lookup caches */

static inline uint64_t shift_hash(uint64_t k) { return (k * 0x9E3779B97F4A7C15ull) >> 52; /* 12 bits */ }

static inline void *shift_pmap_get(const struct shift_pmap *m, uint64_t key)
{
    uint64_t i = shift_hash(key), k;
    for (int n = 0; n < SHIFT_TABLE && (k = atomic_load_explicit(&m->key[i], memory_order_acquire)); n++,
             i = (i + 1) & (SHIFT_TABLE - 1))
        if (k == key)
            return atomic_load_explicit(&m->val[i], memory_order_acquire);
    return NULL;
}

#define SHIFT_KEY_PTR(p) ((uint64_t)(uintptr_t)(p))
#define SHIFT_KEY_LKEY(sc, lkey) ((sc)->kbase | (1ull << 39) | (lkey))
#define SHIFT_KEY_BQPN(sc, qpn) ((sc)->kbase | (1ull << 38) | (qpn))
#define SHIFT_KEY_QPN(sc, qpn) ((sc)->kbase | (1ull << 37) | (qpn))

static inline struct shift_qp *shift_qp_of(struct ibv_qp *qp)
{
    uint64_t i = shift_hash(SHIFT_KEY_PTR(qp));
    for (int n = 0; n < SHIFT_TABLE; n++, i = (i + 1) & (SHIFT_TABLE - 1)) {
        struct shift_qp *q = atomic_load_explicit(&shift_qps[i], memory_order_acquire);
        if (!q || __atomic_load_n(&q->qp, __ATOMIC_RELAXED) == qp) /* relaxed: ibv_destroy_qp tombstones it */
            return q;
    }
    return NULL;
}

static inline struct shift_qp *shift_qp_by_qpn(const struct shift_ctx *sc, uint32_t qpn, int backup)
{
    return (struct shift_qp *)shift_pmap_get(&shift_shadow, backup ? SHIFT_KEY_BQPN(sc, qpn) : SHIFT_KEY_QPN(sc, qpn));
}
static inline struct shift_cq *shift_cq_of(struct ibv_cq *cq)
{
    return (struct shift_cq *)shift_pmap_get(&shift_shadow, SHIFT_KEY_PTR(cq));
}
static inline struct ibv_mr *shift_backup_mr(struct shift_ctx *sc, uint32_t lkey)
{
    return (struct ibv_mr *)shift_pmap_get(&shift_shadow, SHIFT_KEY_LKEY(sc, lkey));
}
struct shift_ctx *shift_ctx_of(struct ibv_context *ctx);
int shift_qps_snapshot(struct shift_qp **out, int max);
int shift_connect_backup(struct shift_qp *q, int timeout_ms);
void shift_rts_attr(const struct shift_qp *q, struct ibv_qp_attr *a, int *mask);
int shift_backup_pending(const struct shift_qp *q);
void shift_publish_mrs(struct shift_ctx *sc, const char *gid);

/* datapath (shift_datapath.c) */
int shift_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad_wr);
int shift_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad_wr);
int shift_poll_cq(struct ibv_cq *cq, int num_entries, struct ibv_wc *wc);
int shift_req_notify_cq(struct ibv_cq *cq, int solicited_only);
struct ibv_qp *shift_create_qp_ex(struct ibv_context *ctx, struct ibv_qp_init_attr_ex *attr);
int shift_route(struct shift_cq *c, struct ibv_wc *wc, int from_backup); /* 1 keep, 0 hide */
void shift_cq_push(struct shift_cq *c, const struct ibv_wc *wc);        /* under c->lock */
int shift_cq_drain(struct shift_cq *c, int which);                     /* 1 backup, 2 default, 3 both */
int shift_post_record(struct shift_qp *q, const struct shift_wr *r, int backup); /* 0 or errno */
void shift_unprotect(struct shift_qp *q, const char *why);
int shift_qpx_protect(struct shift_qp *q, const struct ibv_qp_init_attr_ex *attr);

/* control thread (shift_failover.c) */
void shift_control_start(void);
void shift_wake(void);
void shift_lock_all(struct shift_qp *q, int fast[3]);
void shift_unlock_all(struct shift_qp *q, const int fast[3]);
void shift_update_mode(struct shift_qp *q); /* under shift_lock_all */
void shift_report(struct shift_qp *q);      /* one summary line (at destroy) */
void shift_control_hold(struct shift_qp *q); /* pause the control thread, run q's pending work here */
void shift_control_release(void);            /* let the control thread step QPs again */

static inline int shift_is_tag(const struct shift_qp *q, uint64_t wr_id)
{
    return wr_id >= (uintptr_t)&q->tag_probe && wr_id <= (uintptr_t)&q->tag_internal;
}

#endif /* SHIFT_INTERNAL_H */
