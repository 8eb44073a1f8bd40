/* shift_failover.c -- libshift's control thread: failover, receive-counter handshake, probe, fenced switch-back.
 *
 * A transliteration of shift_core/shift/qp.py (the complete Python SHIFT) onto the C data structures, so the
 * two ends interoperate on the wire (shift_wire.h). Every state change goes through the table generated
 * from shift_core/shift/machine.py (shift_core_sq_event / shift_core_rq_event); this file decides only
 * *which* event happened and does what the new state requires:
 *
 *  - default path failed (an error completion flagged by the router, a failed post, the port down):
 *    drain the default CQs into their WC buffers, move the default QP to ERR, check the outstanding set
 *    (an atomic or app-flagged WR: ERROR_UNSAFE, the error is surfaced), repost the outstanding RECVs on the
 *    backup QP and write a handshake (REQ, our receive counter) into the peer's mailbox (§4.3.2 step 4);
 *  - the peer's handshake (read from our mailbox): fail over too if still on the default path, answer (ACK),
 *    and rewind: sends the peer's counter shows as received are retired (their signaled completions
 *    delivered), the peer's stale receive WQEs consumed by fillers, the rest reposted on the backup QP;
 *  - FALLBACK: every probe_ms, reset the default QP (the application's saved attributes) and probe it; probe
 *    ok -> WAIT_SIGNALED: the application's next signaled WR is the fence (shift_datapath.c) -> WAIT_DRAINED,
 *    later WRs withheld; fence completed -> switch-back notification on the default QP; its completion ->
 *    FENCE_DONE -> DEFAULT and the withheld WRs are posted on the default QP;
 *  - the peer's notification on our reset default QP: our RECVs move back to the default QP (SWITCH_BACK);
 *  - an error on the backup path, or the KV store unreachable while needed: SECOND_FAILURE, every
 *    outstanding WR completes in error (surfaced, never hidden).
 * It also polls the CQs of failed-over QPs (a passive side whose application never polls must still see its
 * probe, the handshake, the notification) and watches the default ports (rxe retries forever at retry_cnt 7,
 * so a dead link may never produce an error completion).
 */
#include "shift_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t ctl_mu = PTHREAD_MUTEX_INITIALIZER;
/* held around each QP's control step, so ibv_destroy_qp never tombstones a QP the control thread is working on */
static pthread_mutex_t step_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ctl_cv = PTHREAD_COND_INITIALIZER;
static int ctl_kick, ctl_started;

void shift_wake(void)
{
    pthread_mutex_lock(&ctl_mu);
    ctl_kick = 1;
    pthread_cond_signal(&ctl_cv);
    pthread_mutex_unlock(&ctl_mu);
}

/* ---------------------------------------------------------------- locks and modes */

void shift_lock_all(struct shift_qp *q, int fast[3])
{
    struct shift_cq *a = q->scq < q->rcq ? q->scq : q->rcq, *b = q->scq < q->rcq ? q->rcq : q->scq;
    fast[0] = shift_blk_lock(&a->lock);
    fast[1] = a != b ? shift_blk_lock(&b->lock) : -1;
    fast[2] = shift_blk_lock(&q->lock);
}

void shift_unlock_all(struct shift_qp *q, const int fast[3])
{
    struct shift_cq *a = q->scq < q->rcq ? q->scq : q->rcq, *b = q->scq < q->rcq ? q->rcq : q->scq;
    shift_blk_unlock(&q->lock, fast[2]);
    if (a != b)
        shift_blk_unlock(&b->lock, fast[1]);
    shift_blk_unlock(&a->lock, fast[0]);
}

/* per QP: which of its CQs currently count it as failed over (their backup CQ must be polled) */
static int fo_state(const struct shift_qp *q, int which)
{
    return which ? q->core.rq_state == SHIFT_RQ_FALLBACK
                 : q->core.sq_state != SHIFT_SQ_DEFAULT && q->core.sq_state != SHIFT_SQ_FAILED;
}

/* Recompute what the data path does for q and whether its CQs take the slow path (all of q's locks held). */
void shift_update_mode(struct shift_qp *q)
{
    int s = fo_state(q, 0), r = fo_state(q, 1), mode;
    if (atomic_load(&q->mode) == SHIFT_MODE_PASS)
        s = r = 0;
    q->scq->nfo += s - q->fo_s;
    q->rcq->nfo += r - q->fo_r;
    q->fo_s = s;
    q->fo_r = r;
    q->scq->slow = q->scq->bhead != q->scq->btail || q->scq->nfo;
    q->rcq->slow = q->rcq->bhead != q->rcq->btail || q->rcq->nfo;
    if (atomic_load(&q->mode) == SHIFT_MODE_PASS)
        return;
    mode = q->core.sq_state == SHIFT_SQ_DEFAULT && q->core.rq_state == SHIFT_RQ_DEFAULT ? SHIFT_MODE_DEFAULT
                                                                                           : SHIFT_MODE_SLOW;
    atomic_store(&q->mode, mode);
}

/* ---------------------------------------------------------------- the generated table */

static int step_sq(struct shift_qp *q, int ev)
{
    int from = q->core.sq_state, to = shift_core_sq_event(&q->core, ev);
    if (to == SHIFT_E_ILLEGAL) {
        shift_log(1, "QP %u: no transition from %s on %s (a SHIFT bug: please report)", q->qp->qp_num,
                  shift_sq_state_names[from], shift_sq_event_names[ev]);
        return -1;
    }
    shift_log(1, "QP %u: sq %s --%s--> %s (%" PRIu64 " send / %" PRIu64 " recv WRs outstanding)", q->qp->qp_num,
              shift_sq_state_names[from], shift_sq_event_names[ev], shift_sq_state_names[to],
              shift_wrlog_outstanding(q->core.sq), shift_wrlog_outstanding(q->core.rq));
    shift_trace(q->qp->qp_num, "\"queue\": \"sq\", \"from\": \"%s\", \"event\": \"%s\", \"to\": \"%s\"",
                shift_sq_state_names[from], shift_sq_event_names[ev], shift_sq_state_names[to]);
    return to;
}

static int step_rq(struct shift_qp *q, int ev)
{
    int from = q->core.rq_state, to = shift_core_rq_event(&q->core, ev);
    if (to == SHIFT_E_ILLEGAL) {
        shift_log(1, "QP %u: no transition from rq %s on %s (a SHIFT bug: please report)", q->qp->qp_num,
                  shift_rq_state_names[from], shift_rq_event_names[ev]);
        return -1;
    }
    if (from != to)
        shift_log(1, "QP %u: rq %s --%s--> %s", q->qp->qp_num, shift_rq_state_names[from], shift_rq_event_names[ev],
                  shift_rq_state_names[to]);
    shift_trace(q->qp->qp_num, "\"queue\": \"rq\", \"from\": \"%s\", \"event\": \"%s\", \"to\": \"%s\"",
                shift_rq_state_names[from], shift_rq_event_names[ev], shift_rq_state_names[to]);
    return to;
}

/* ---------------------------------------------------------------- helpers */

static enum ibv_wc_opcode wc_opcode(uint8_t op)
{
    switch (op) {
    case SHIFT_OP_RDMA_WRITE:
    case SHIFT_OP_RDMA_WRITE_WITH_IMM:
        return IBV_WC_RDMA_WRITE;
    case SHIFT_OP_RDMA_READ:
        return IBV_WC_RDMA_READ;
    case SHIFT_OP_ATOMIC_CMP_AND_SWP:
        return IBV_WC_COMP_SWAP;
    case SHIFT_OP_ATOMIC_FETCH_AND_ADD:
        return IBV_WC_FETCH_ADD;
    case SHIFT_OP_RECV:
        return IBV_WC_RECV;
    default:
        return IBV_WC_SEND;
    }
}

static void push_app_wc(struct shift_qp *q, uint64_t wr_id, enum ibv_wc_status st, uint8_t op)
{
    struct ibv_wc wc;
    memset(&wc, 0, sizeof(wc));
    wc.wr_id = wr_id;
    wc.status = st;
    wc.opcode = wc_opcode(op);
    wc.qp_num = q->qp->qp_num;
    shift_cq_push(op == SHIFT_OP_RECV ? q->rcq : q->scq, &wc);
}

static void drain_default(struct shift_qp *q)
{
    shift_cq_drain(q->scq, 2);
    if (q->rcq != q->scq)
        shift_cq_drain(q->rcq, 2);
}

static void drain_backup(struct shift_qp *q)
{
    shift_cq_drain(q->scq, 1);
    if (q->rcq != q->scq)
        shift_cq_drain(q->rcq, 1);
}

static int failed(const struct shift_qp *q) { return q->core.sq_state == SHIFT_SQ_FAILED; }

static void to_error(struct ibv_qp *qp)
{
    struct ibv_qp_attr a = {.qp_state = IBV_QPS_ERR};
    shift_real.modify_qp(qp, &a, IBV_QP_STATE);
}

/* The peer's mailbox region from the KV store (cached): `mbox:<peer GID>:<peer QPN>`. */
static int peer_region(struct shift_qp *q, int timeout_ms)
{
    char key[96], val[256];
    uint64_t addr, rkey, brkey;
    if (q->peer_region)
        return 1;
    snprintf(key, sizeof(key), "mbox:%s:%u", q->peer_gid, q->rtr.dest_qp_num);
    if (shift_kv_get(&shift_cfg.kv, key, val, sizeof(val), timeout_ms) || shift_json_u64(val, "addr", &addr) ||
        shift_json_u64(val, "rkey", &rkey) || shift_json_u64(val, "brkey", &brkey))
        return 0;
    q->peer_mbox_addr = addr;
    q->peer_mbox_rkey = (uint32_t)rkey;
    q->peer_mbox_brkey = (uint32_t)brkey;
    q->peer_region = 1;
    return 1;
}

/* A SHIFT-issued WR: zero-length unless payload; on the backup QP or the default QP. 0 or errno. */
static int post_internal(struct shift_qp *q, int backup, enum ibv_wr_opcode op, char *tag, int signaled,
                         uint64_t raddr, uint32_t rkey, const void *payload, uint32_t len, uint32_t imm)
{
    struct ibv_sge sge;
    struct ibv_send_wr w, *bad;
    memset(&w, 0, sizeof(w));
    w.wr_id = (uintptr_t)tag;
    w.opcode = op;
    w.send_flags = signaled ? IBV_SEND_SIGNALED : 0;
    w.imm_data = imm;
    w.wr.rdma.remote_addr = raddr;
    w.wr.rdma.rkey = rkey;
    if (len) {
        memcpy(q->region + SHIFT_MAILBOX_BYTES, payload, len);
        sge.addr = (uintptr_t)(q->region + SHIFT_MAILBOX_BYTES);
        sge.length = len;
        sge.lkey = backup ? q->brmr->lkey : q->rmr->lkey;
        w.sg_list = &sge;
        w.num_sge = 1;
        w.send_flags |= IBV_SEND_INLINE;
    }
    return backup ? q->sc->backup->ops.post_send(q->bqp, &w, &bad) : q->sc->post_send(q->qp, &w, &bad);
}

/* ---------------------------------------------------------------- surfacing */

/* Every outstanding WR completes in error (the first send with `status`, the rest flushed); SHIFT stands
 * aside for this QP from now on. qp.py's _surface_all. */
static void surface_all(struct shift_qp *q, enum ibv_wc_status status, int second, const char *why)
{
    struct shift_cursor cur;
    const struct shift_wr *r;
    int first = 1;
    if (q->core.rq_state != SHIFT_RQ_FAILED)
        step_rq(q, second && q->core.rq_state == SHIFT_RQ_FALLBACK ? SHIFT_RQ_EV_SECOND_FAILURE : SHIFT_RQ_EV_SURFACED);
    shift_wrlog_replay_begin(q->core.sq, &cur);
    while ((r = shift_wrlog_replay_next(q->core.sq, &cur)))
        if (r->signaled || first) {
            push_app_wc(q, r->wr_id, first ? status : IBV_WC_WR_FLUSH_ERR, r->opcode);
            first = 0;
        }
    shift_wrlog_replay_begin(q->core.rq, &cur);
    while ((r = shift_wrlog_replay_next(q->core.rq, &cur)))
        push_app_wc(q, r->wr_id, IBV_WC_WR_FLUSH_ERR, SHIFT_OP_RECV);
    if (first) /* nothing outstanding: the application still learns, on its next poll, that the QP is gone */
        push_app_wc(q, 0, status, SHIFT_OP_SEND);
    if (q->default_ready) {
        to_error(q->qp);
        q->default_ready = 0;
    }
    if (q->bqp)
        to_error(q->bqp);
    atomic_store(&q->backup_dead, 1);
    shift_log(1, "QP %u: error surfaced to the application: %s", q->qp->qp_num, why);
    shift_unprotect(q, NULL);
    shift_update_mode(q);
}

static void second_failure(struct shift_qp *q, const char *why);

/* second_failure with the errno of the failed verb in the reason */
static void second_failure_rc(struct shift_qp *q, const char *what, int rc)
{
    char why[160];
    snprintf(why, sizeof(why), "%s: %s", what, strerror(rc));
    second_failure(q, why);
}

static void second_failure(struct shift_qp *q, const char *why)
{
    if (failed(q))
        return;
    step_sq(q, SHIFT_SQ_EV_SECOND_FAILURE);
    surface_all(q, IBV_WC_RETRY_EXC_ERR, 1, why);
}

/* ---------------------------------------------------------------- handshake and WQ rewind (§4.3.2) */

static int send_handshake(struct shift_qp *q, uint64_t kind)
{
    struct shift_handshake m;
    uint8_t raw[SHIFT_MAILBOX_BYTES];
    int rc;
    if (!peer_region(q, shift_cfg.kv.timeout_ms)) {
        second_failure(q, "the peer's mailbox is not in the KV store");
        return -1;
    }
    m.number = ++q->hs_sent;
    m.kind = kind;
    m.recv_count = q->core.rq->two_sided_retired;
    m.stale = q->stale_total;
    shift_hs_pack(&m, raw);
    if ((rc = post_internal(q, 1, IBV_WR_RDMA_WRITE, &q->tag_internal, 0, q->peer_mbox_addr, q->peer_mbox_brkey, raw,
                            sizeof(raw), 0))) {
        second_failure_rc(q, "cannot write the handshake on the backup QP", rc);
        return -1;
    }
    q->n.handshakes++;
    shift_log(1, "QP %u: handshake %s #%" PRIu64 " sent: receive counter %" PRIu64 ", stale WQEs %" PRIu64,
              q->qp->qp_num, kind == SHIFT_HS_REQ ? "REQ" : "ACK", m.number, m.recv_count, m.stale);
    shift_trace(q->qp->qp_num, "\"handshake\": \"%s\", \"number\": %" PRIu64 ", \"recv_count\": %" PRIu64
                               ", \"stale\": %" PRIu64, kind == SHIFT_HS_REQ ? "REQ" : "ACK", m.number,
                m.recv_count, m.stale);
    return 0;
}

/* Move this QP off its default path (qp.py's _fail_over). by_peer: the peer's handshake arrived first. */
static void fail_over(struct shift_qp *q, enum ibv_wc_status status, int by_peer)
{
    int sq_moves, rq_moved = 0;
    drain_default(q);
    if (failed(q))
        return;
    if (q->default_ready) {
        to_error(q->qp);
        q->default_ready = 0;
        drain_default(q);
    }
    atomic_store(&q->failing, 0);
    sq_moves = q->core.sq_state != SHIFT_SQ_FALLBACK;
    if (sq_moves) {
        if (q->core.sq_state == SHIFT_SQ_DEFAULT) {
            if (shift_wrlog_unsafe_outstanding(q->core.sq)) {
                step_sq(q, SHIFT_SQ_EV_ERROR_UNSAFE);
                surface_all(q, status, 0, "an atomic or app-flagged WR is outstanding");
                return;
            }
            if (!q->bqp || shift_connect_backup(q, shift_cfg.kv.timeout_ms)) {
                second_failure(q, q->bqp ? "the backup QP is not connected (peer attributes not in the KV store)"
                                         : "no backup QP (set SHIFT_BACKUP_DEVICE to a second RDMA device)");
                return;
            }
            step_sq(q, by_peer ? SHIFT_SQ_EV_PEER_FALLBACK : SHIFT_SQ_EV_ERROR_SAFE);
            q->posted_upto = shift_wrlog_retired(q->core.sq); /* everything outstanding is on the dead QP */
            q->n.failovers++;
        } else { /* WAIT_SIGNALED / WAIT_DRAINED: the default path failed again during the switch-back */
            step_sq(q, SHIFT_SQ_EV_DEFAULT_ERROR);
            atomic_store(&q->fence_end, 0);
            q->notify_inflight = 0;
        }
        q->resubmit_pending = 1;
        if (!by_peer)
            q->have_peer_counter = 0; /* wait for this cycle's handshake */
        q->probe_inflight = 0;
        q->next_probe_ns = shift_now_ns() + (uint64_t)shift_cfg.probe_ms * 1000000u;
    }
    if (q->core.rq_state == SHIFT_RQ_DEFAULT) {
        struct shift_cursor cur;
        const struct shift_wr *r;
        shift_wrlog_replay_begin(q->core.rq, &cur);
        while ((r = shift_wrlog_replay_next(q->core.rq, &cur))) {
            int rc = shift_post_record(q, r, 1);
            if (rc) {
                second_failure_rc(q, "cannot repost a RECV on the backup QP", rc);
                return;
            }
        }
        step_rq(q, SHIFT_RQ_EV_HANDSHAKE);
        rq_moved = 1;
    }
    shift_update_mode(q);
    if (!by_peer && (sq_moves || rq_moved) && !q->hs_awaiting && send_handshake(q, SHIFT_HS_REQ) == 0)
        q->hs_awaiting = 1;
}

enum { FILLER_SIGNAL_EVERY = 16 }; /* a signaled filler frees the slots of the unsignaled ones before it */

/* WQ rewind onto the backup QP, skipping what the peer's receive counter shows as received (qp.py _resubmit) */
static void resubmit(struct shift_qp *q)
{
    struct shift_wrlog *sq = q->core.sq;
    struct shift_cursor cur;
    const struct shift_wr *r;
    uint64_t need;
    if (failed(q))
        return;
    if (q->posted_upto <= sq->tail && q->peer_counter > sq->two_sided_retired) {
        uint64_t seq;
        int64_t n;
        uint64_t two = sq->two_sided_retired;
        if (q->peer_counter > shift_wrlog_two_sided_posted(sq)) {
            second_failure(q, "the peer's receive counter exceeds what this QP ever sent");
            return;
        }
        /* the skipped prefix: every record up to the peer_counter-th two-sided one; their signaled
         * completions are delivered now (RC order: they executed), READs are fetched again */
        for (seq = sq->tail; seq != sq->head; seq++) {
            const struct shift_wr *s = &sq->ring[seq & sq->mask];
            if (s->signaled && s->opcode != SHIFT_OP_RDMA_READ)
                push_app_wc(q, s->wr_id, IBV_WC_SUCCESS, s->opcode);
            two += shift_op_class(s->opcode) & SHIFT_CLASS_TWO_SIDED;
            if (two == q->peer_counter)
                break;
        }
        n = shift_wrlog_ack_remote(sq, q->peer_counter);
        if (n > 0) {
            q->n.skipped += (uint64_t)n;
            shift_log(1, "QP %u: %" PRId64 " WRs the peer already received are not retransmitted (its counter %" PRIu64
                         ")", q->qp->qp_num, n, q->peer_counter);
        }
    }
    /* fillers first (RC order: they consume the peer's stale WQEs before any resent SEND arrives), then the
     * records. The peer may have more stale WQEs than our backup send queue has slots (its whole receive queue
     * after a second failover): a full queue (ENOMEM) defers the rest to a later control step, when completions
     * have freed it -- every FILLER_SIGNAL_EVERY-th filler and the last are signaled so they do. Until it is all
     * posted the rewind stays pending, so the application's new WRs wait behind it (withheld). */
    need = q->peer_stale_total > q->fillers_sent ? q->peer_stale_total - q->fillers_sent : 0;
    q->resubmit_deferred = 0;
    for (; need; need--) {
        int sig = need == 1 || (q->fillers_sent + 1) % FILLER_SIGNAL_EVERY == 0;
        int rc = post_internal(q, 1, IBV_WR_SEND, &q->tag_internal, sig, 0, 0, NULL, 0, 0);
        if (rc == ENOMEM) {
            q->resubmit_deferred = 1;
            return;
        }
        if (rc) {
            second_failure_rc(q, "cannot post a filler on the backup QP", rc);
            return;
        }
        q->fillers_sent++;
        q->n.fillers++;
    }
    if (q->posted_upto < sq->tail)
        q->posted_upto = sq->tail;
    cur.seq = q->posted_upto;
    while ((r = shift_wrlog_replay_next(sq, &cur))) {
        int rc = shift_post_record(q, r, 1);
        if (rc == ENOMEM) {
            q->resubmit_deferred = 1;
            return;
        }
        if (rc) {
            second_failure_rc(q, "cannot repost a WR on the backup QP", rc);
            return;
        }
        q->posted_upto = cur.seq;
        q->n.replayed++;
    }
    q->resubmit_pending = 0;
    shift_log(1, "QP %u: failed over to backup QP %u on %s (%" PRIu64 " fillers, %" PRIu64 " WRs reposted so far)",
              q->qp->qp_num, q->bqp->qp_num, q->sc->backup_name, need, q->n.replayed);
}

/* The peer's handshake (paper steps (2)/(3)): fail over if still on the default path, answer, rewind. */
static void on_handshake(struct shift_qp *q, const struct shift_handshake *m)
{
    int on_default;
    q->hs_seen = m->number;
    q->peer_counter = m->recv_count;
    q->have_peer_counter = 1;
    q->peer_stale_total = m->stale;
    shift_log(1, "QP %u: handshake %s #%" PRIu64 " received: peer's receive counter %" PRIu64 ", stale %" PRIu64,
              q->qp->qp_num, m->kind == SHIFT_HS_REQ ? "REQ" : "ACK", m->number, m->recv_count, m->stale);
    on_default = q->core.rq_state == SHIFT_RQ_DEFAULT || q->core.sq_state == SHIFT_SQ_DEFAULT ||
                 q->core.sq_state == SHIFT_SQ_WAIT_SIGNALED || q->core.sq_state == SHIFT_SQ_WAIT_DRAINED;
    if (on_default) {
        fail_over(q, IBV_WC_WR_FLUSH_ERR, 1);
        if (failed(q))
            return;
    } else {
        step_rq(q, SHIFT_RQ_EV_HANDSHAKE); /* counters exchanged again; our RECVs are already on the backup */
    }
    if (q->hs_awaiting)
        q->hs_awaiting = 0; /* their message answers ours (sent at the same time, or as the ACK) */
    else if (m->kind == SHIFT_HS_REQ && send_handshake(q, SHIFT_HS_ACK))
        return;
    if (q->resubmit_pending && q->have_peer_counter)
        resubmit(q);
}

/* ---------------------------------------------------------------- probe and switch-back (§4.3.3) */

/* a control-path step in the trace (no "queue" key: not a transition): what a stalled switch-back is read from */
static void ctl_trace(struct shift_qp *q, const char *what)
{
    shift_trace(q->qp->qp_num, "\"control\": \"%s\", \"sq\": \"%s\", \"rq\": \"%s\"", what,
                shift_sq_state_names[q->core.sq_state], shift_rq_state_names[q->core.rq_state]);
}

static void probe_failed(struct shift_qp *q, const char *why)
{
    shift_trace(q->qp->qp_num, "\"control\": \"probe_failed\", \"why\": \"%s\"", why);
    if (q->n.probe_failures++ == 0)
        shift_log(1, "QP %u: probe failed (%s); retrying every %d ms", q->qp->qp_num, why, shift_cfg.probe_ms);
}

/* ERR -> RESET -> INIT -> RTR -> RTS with the application's saved attributes, so the default QP answers the
 * peer's probe; when our receive queue is on the backup, a fresh RECV for the peer's switch-back notification. */
static int reset_default(struct shift_qp *q)
{
    struct ibv_qp_attr a = {.qp_state = IBV_QPS_RESET};
    struct ibv_recv_wr rw, *rbad;
    int rc;
    drain_default(q);
    if ((rc = shift_real.modify_qp(q->qp, &a, IBV_QP_STATE))) {
        probe_failed(q, "reset");
        return 0;
    }
    a = q->init_attr;
    /* SHIFT's probe and switch-back notification are RDMA WRITEs into this QP's mailbox: a QP the application
     * set up for SEND/RECV only (ibv_rc_pingpong: access flags 0) must accept remote writes after a reset. MRs
     * keep their own access rights, so this opens nothing the application did not register for remote writes. */
    a.qp_access_flags |= IBV_ACCESS_REMOTE_WRITE;
    if (!(rc = shift_real.modify_qp(q->qp, &a, q->init_mask | IBV_QP_ACCESS_FLAGS))) {
        a = q->rtr;
        if (!(rc = shift_real.modify_qp(q->qp, &a, q->rtr_mask))) {
            int mask;
            shift_rts_attr(q, &a, &mask);
            rc = shift_real.modify_qp(q->qp, &a, mask);
        }
    }
    if (rc) {
        probe_failed(q, strerror(rc));
        return 0;
    }
    if (q->core.rq_state == SHIFT_RQ_FALLBACK) {
        memset(&rw, 0, sizeof(rw));
        rw.wr_id = (uintptr_t)&q->tag_notify_recv;
        if (q->sc->post_recv(q->qp, &rw, &rbad)) {
            probe_failed(q, "notification RECV");
            return 0;
        }
    }
    q->default_ready = 1;
    ctl_trace(q, "reset_default");
    return 1;
}

static void probe(struct shift_qp *q)
{
    q->next_probe_ns = shift_now_ns() + (uint64_t)shift_cfg.probe_ms * 1000000u;
    if (!peer_region(q, 0) || !q->port_active)
        return; /* the KV store is only needed again to switch back; keep running on the backup */
    if (!q->default_ready && !reset_default(q))
        return;
    if (post_internal(q, 0, IBV_WR_RDMA_WRITE, &q->tag_probe, 1, q->peer_mbox_addr, q->peer_mbox_rkey, NULL, 0, 0)) {
        q->default_ready = 0;
        probe_failed(q, "post");
        return;
    }
    q->probe_inflight = 1;
    q->n.probes++;
    ctl_trace(q, "probe_posted");
}

/* how many probe periods a switch-back notification may take before it counts as failed (it takes one round trip) */
enum { NOTIFY_TIMEOUT_PROBES = 10 };

/* the fence completed on the backup QP: ring the switch-back notification on the default QP */
static void post_notify(struct shift_qp *q)
{
    if (!peer_region(q, shift_cfg.kv.timeout_ms) ||
        post_internal(q, 0, IBV_WR_RDMA_WRITE_WITH_IMM, &q->tag_notify, 1, q->peer_mbox_addr, q->peer_mbox_rkey, NULL,
                      0, SHIFT_NOTIFY_IMM)) {
        fail_over(q, IBV_WC_GENERAL_ERR, 0);
        return;
    }
    q->notify_inflight = 1;
    /* rxe (and any RC NIC at rnr_retry 7) retries a request the peer cannot take forever, without an error: when
     * the peer reset its default QP just after our probe executed there, its expected PSN is our probe's again
     * and our notification is out of sequence for good. A deadline turns that stall into the table's
     * DEFAULT_ERROR (back to FALLBACK, probe again later). */
    q->notify_deadline_ns = shift_now_ns() + (uint64_t)NOTIFY_TIMEOUT_PROBES * shift_cfg.probe_ms * 1000000u;
    ctl_trace(q, "notify_posted");
}

/* the notification landed: the withheld WRs go to the default QP -> DEFAULT */
static void notify_done(struct shift_qp *q)
{
    struct shift_cursor cur;
    const struct shift_wr *r;
    q->notify_inflight = 0;
    if (q->core.sq_state != SHIFT_SQ_WAIT_DRAINED)
        return;
    step_sq(q, SHIFT_SQ_EV_FENCE_DONE);
    q->n.switch_backs++;
    shift_update_mode(q);
    shift_wrlog_replay_begin(q->core.sq, &cur);
    while ((r = shift_wrlog_replay_next(q->core.sq, &cur)))
        if (shift_post_record(q, r, 0)) {
            q->fail_status = IBV_WC_GENERAL_ERR;
            atomic_store(&q->failing, 1);
            break;
        }
    shift_log(1, "QP %u: switched back to the default QP (%" PRIu64 " withheld WRs posted)", q->qp->qp_num,
              shift_wrlog_outstanding(q->core.sq));
}

/* the peer's notification: every backup arrival is in (RC order), so our RECVs move to the default QP */
static void peer_switched_back(struct shift_qp *q)
{
    struct shift_cursor cur;
    const struct shift_wr *r;
    uint64_t k;
    if (q->core.rq_state != SHIFT_RQ_FALLBACK)
        return;
    drain_backup(q);
    k = shift_wrlog_outstanding(q->core.rq);
    q->stale_total += k;
    q->backup_stale += k;
    shift_wrlog_replay_begin(q->core.rq, &cur);
    while ((r = shift_wrlog_replay_next(q->core.rq, &cur)))
        if (shift_post_record(q, r, 0)) {
            fail_over(q, IBV_WC_GENERAL_ERR, 0);
            return;
        }
    step_rq(q, SHIFT_RQ_EV_SWITCH_BACK);
    shift_update_mode(q);
}

/* ---------------------------------------------------------------- one QP, one control step */

static int mailbox_message(struct shift_qp *q, struct shift_handshake *m)
{
    uint8_t a[SHIFT_MAILBOX_BYTES], b[SHIFT_MAILBOX_BYTES];
    struct timespec ts = {0, 20000};
    memcpy(a, (const void *)q->region, sizeof(a));
    shift_hs_unpack(a, m);
    if (m->number <= q->hs_seen)
        return 0;
    /* an RDMA WRITE may be landing: take the message only when two reads agree */
    nanosleep(&ts, NULL);
    memcpy(b, (const void *)q->region, sizeof(b));
    return memcmp(a, b, sizeof(a)) == 0;
}

static void handle_events(struct shift_qp *q, unsigned ev)
{
    if (ev & SHIFT_EV_BACKUP_ERROR) {
        second_failure(q, "an error on the backup path");
        return;
    }
    if (ev & (SHIFT_EV_PROBE_OK | SHIFT_EV_PROBE_ERR)) {
        q->probe_inflight = 0;
        if ((ev & SHIFT_EV_PROBE_OK) && q->core.sq_state == SHIFT_SQ_FALLBACK && !q->resubmit_pending) {
            step_sq(q, SHIFT_SQ_EV_PROBE_OK);
            shift_update_mode(q);
        } else if (ev & SHIFT_EV_PROBE_ERR) {
            ctl_trace(q, "probe_err");
            q->default_ready = 0; /* the default QP is in ERR again */
            if (q->core.rq_state == SHIFT_RQ_DEFAULT) {
                /* our RECVs already went back to it (the peer switched back first): a reset would discard them
                 * silently, so the receive queue fails over again instead (they are reposted on the backup) */
                fail_over(q, IBV_WC_RETRY_EXC_ERR, 0);
            } else if (q->core.sq_state == SHIFT_SQ_FALLBACK && q->port_active) {
                reset_default(q); /* reset now, so it is connected when the peer's probe comes */
            }
        }
    }
    if (ev & SHIFT_EV_FENCE_DONE)
        ctl_trace(q, "fence_completed");
    if ((ev & SHIFT_EV_FENCE_DONE) && q->core.sq_state == SHIFT_SQ_WAIT_DRAINED) {
        uint64_t f = atomic_load(&q->fence_end);
        if (f && shift_wrlog_retired(q->core.sq) >= f) {
            atomic_store(&q->fence_end, 0);
            post_notify(q);
        }
    }
    if (ev & SHIFT_EV_NOTIFY_OK) {
        ctl_trace(q, "notify_ok");
        notify_done(q);
    }
    if (ev & SHIFT_EV_PEER_BACK) {
        ctl_trace(q, "peer_back");
        peer_switched_back(q);
    }
}

static void qp_step(struct shift_qp *q, uint64_t now)
{
    struct shift_handshake m;
    int fast[3], trig = 0, status = IBV_WC_GENERAL_ERR;
    unsigned ev;
    if (!q->qp || atomic_load(&q->mode) == SHIFT_MODE_PASS) {
        if (q->qp && atomic_load(&q->mode) == SHIFT_MODE_PASS)
            atomic_store(&q->events, 0);
        return;
    }
    if (now >= q->next_port_ns) { /* the port's state needs none of the QP's locks: the data path never waits */
        struct ibv_port_attr pa;
        q->next_port_ns = now + (uint64_t)shift_cfg.port_poll_ms * 1000000u;
        uint8_t port = __atomic_load_n(&q->port, __ATOMIC_RELAXED); /* the application's modify_qp sets it */
        if (port && ibv_query_port(q->qp->context, port, &pa) == 0)
            q->port_active = pa.state == IBV_PORT_ACTIVE;
    }
    if (!atomic_load(&q->events) && !atomic_load(&q->failing) &&
        (q->port_active || (!shift_wrlog_outstanding(q->core.sq) && !shift_wrlog_outstanding(q->core.rq))) &&
        __atomic_load_n(&q->core.sq_state, __ATOMIC_RELAXED) == SHIFT_SQ_DEFAULT &&
        __atomic_load_n(&q->core.rq_state, __ATOMIC_RELAXED) == SHIFT_RQ_DEFAULT && !atomic_load(&q->connect_pending) &&
        __atomic_load_n((const uint64_t *)q->region, __ATOMIC_RELAXED) <= q->hs_seen)
        return; /* nothing to do: the common case costs a few loads and takes no lock */
    shift_lock_all(q, fast);
    if (!q->qp || atomic_load(&q->mode) == SHIFT_MODE_PASS)
        goto out;
    ev = atomic_exchange(&q->events, 0); /* under the locks: a concurrent step cannot take it and drop it */
    if (shift_backup_pending(q) && q->core.sq_state == SHIFT_SQ_DEFAULT)
        shift_connect_backup(q, 0);
    atomic_store(&q->connect_pending, shift_backup_pending(q));
    if (ev & SHIFT_EV_APP_ERROR) {
        if (q->core.sq_state == SHIFT_SQ_DEFAULT)
            step_sq(q, SHIFT_SQ_EV_ERROR_UNSAFE);
        if (q->core.rq_state != SHIFT_RQ_FAILED)
            step_rq(q, SHIFT_RQ_EV_SURFACED);
        shift_log(1, "QP %u: the application's own error (not a path failure): surfaced, no failover",
                  q->qp->qp_num);
        shift_unprotect(q, NULL);
        shift_update_mode(q);
        goto out;
    }
    if (ev & SHIFT_EV_PORT)
        q->port_active = 0;
    if (q->notify_inflight && now >= q->notify_deadline_ns) {
        ctl_trace(q, "notify_timeout");
        ev |= SHIFT_EV_NOTIFY_ERR;
    }
    if (ev & SHIFT_EV_NOTIFY_ERR)
        ctl_trace(q, "notify_err");
    if (atomic_load(&q->failing) || (ev & (SHIFT_EV_DEFAULT_FAILED | SHIFT_EV_NOTIFY_ERR))) {
        trig = 1;
        status = atomic_load(&q->failing) ? q->fail_status : IBV_WC_GENERAL_ERR;
    }
    if (!q->port_active) {
        int busy = shift_wrlog_outstanding(q->core.sq) || shift_wrlog_outstanding(q->core.rq);
        if ((q->core.sq_state == SHIFT_SQ_DEFAULT && (busy || (ev & SHIFT_EV_PORT))) ||
            q->core.sq_state == SHIFT_SQ_WAIT_SIGNALED || q->core.sq_state == SHIFT_SQ_WAIT_DRAINED)
            trig = 1; /* the port is down: rxe at retry_cnt 7 would retry forever without an error */
    }
    if (trig && (q->core.sq_state != SHIFT_SQ_FALLBACK || q->core.rq_state == SHIFT_RQ_DEFAULT))
        fail_over(q, (enum ibv_wc_status)status, 0);
    atomic_store(&q->failing, 0);
    if (failed(q))
        goto out;
    ev &= ~(unsigned)(SHIFT_EV_DEFAULT_FAILED | SHIFT_EV_NOTIFY_ERR | SHIFT_EV_PORT); /* handled just above */
    if (mailbox_message(q, &m))
        on_handshake(q, &m);
    for (int round = 0; round < 4 && !failed(q) && atomic_load(&q->mode) != SHIFT_MODE_PASS; round++) {
        const unsigned triggers = SHIFT_EV_DEFAULT_FAILED | SHIFT_EV_NOTIFY_ERR | SHIFT_EV_PORT | SHIFT_EV_APP_ERROR;
        if (q->core.sq_state != SHIFT_SQ_DEFAULT || q->core.rq_state != SHIFT_RQ_DEFAULT) {
            /* a passive side (WRITE/READ responder, no polling) must still see its probe's completion and the
             * peer's notification: poll the QP's CQs while failed over */
            drain_backup(q);
            drain_default(q);
        }
        ev |= atomic_exchange(&q->events, 0);
        if (ev & triggers) { /* a new failure: the next step handles it from the top (re-queued, not lost) */
            atomic_fetch_or(&q->events, ev & triggers);
            shift_wake();
        }
        ev &= ~triggers;
        if (!ev)
            break;
        handle_events(q, ev);
        ev = 0;
    }
    if (!failed(q) && q->resubmit_deferred && q->resubmit_pending && q->have_peer_counter)
        resubmit(q); /* the rest of a rewind the backup send queue had no room for */
    if (!failed(q) && atomic_load(&q->mode) != SHIFT_MODE_PASS && q->core.sq_state == SHIFT_SQ_FALLBACK &&
        !q->resubmit_pending && !q->probe_inflight && q->port_active && now >= q->next_probe_ns)
        probe(q);
    if (atomic_load(&q->mode) != SHIFT_MODE_PASS)
        shift_update_mode(q);
out:
    shift_unlock_all(q, fast);
}

static void *control(void *unused)
{
    static struct shift_qp *all[4096];
    (void)unused;
    shift_blk_control = 1;
    for (;;) {
        struct timespec ts;
        uint64_t now;
        int n;
        pthread_mutex_lock(&ctl_mu);
        if (!ctl_kick) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)shift_cfg.poll_us * 1000;
            ts.tv_sec += ts.tv_nsec / 1000000000;
            ts.tv_nsec %= 1000000000;
            pthread_cond_timedwait(&ctl_cv, &ctl_mu, &ts);
        }
        ctl_kick = 0;
        pthread_mutex_unlock(&ctl_mu);
        now = shift_now_ns();
        n = shift_qps_snapshot(all, 4096);
        for (int i = 0; i < n; i++) {
            pthread_mutex_lock(&step_mu);
            qp_step(all[i], now);
            pthread_mutex_unlock(&step_mu);
        }
    }
    return NULL;
}

void shift_control_start(void)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_mutex_lock(&ctl_mu);
    if (!ctl_started) {
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, control, NULL) == 0)
            ctl_started = 1;
        else
            shift_log(0, "cannot start the control thread: no failover in this process");
        pthread_attr_destroy(&a);
    }
    pthread_mutex_unlock(&ctl_mu);
}

/* Handle what the router flagged for q now, in the calling thread (ibv_destroy_qp: the verdict on an error
 * the application just saw is recorded before the QP goes away). */
void shift_control_hold(struct shift_qp *q)
{
    pthread_mutex_lock(&step_mu);
    qp_step(q, shift_now_ns());
}

void shift_control_release(void) { pthread_mutex_unlock(&step_mu); }

void shift_report(struct shift_qp *q)
{
    int level = q->n.failovers || q->n.switch_backs || q->n.handshakes ? 1 : 2;
    shift_log(level, "QP %u summary: %" PRIu64 " failovers, %" PRIu64 " switch-backs, %" PRIu64 " handshakes, %" PRIu64
                     " WRs reposted, %" PRIu64 " skipped by the peer's counter, %" PRIu64 " fillers, %" PRIu64
                     " probes (%" PRIu64 " failed); final sq %s rq %s",
              q->qp->qp_num, q->n.failovers, q->n.switch_backs, q->n.handshakes, q->n.replayed, q->n.skipped,
              q->n.fillers, q->n.probes, q->n.probe_failures, shift_sq_state_names[q->core.sq_state],
              shift_rq_state_names[q->core.rq_state]);
    shift_trace(q->qp->qp_num, "\"summary\": {\"failovers\": %" PRIu64 ", \"switch_backs\": %" PRIu64
                               ", \"handshakes\": %" PRIu64 ", \"replayed\": %" PRIu64 ", \"skipped\": %" PRIu64
                               ", \"fillers\": %" PRIu64 ", \"probes\": %" PRIu64 ", \"sq\": \"%s\", \"rq\": \"%s\"}",
                q->n.failovers, q->n.switch_backs, q->n.handshakes, q->n.replayed, q->n.skipped, q->n.fillers,
                q->n.probes, shift_sq_state_names[q->core.sq_state], shift_rq_state_names[q->core.rq_state]);
}
