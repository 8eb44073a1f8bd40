/* shift_datapath.c -- libshift's data verbs: the swapped post_send / post_recv / poll_cq and ibv_wr_* builders.
 *
 * The fast path (every QP on its default path, no completion waiting in a WC buffer) is: find the QP, take
 * its biased lock (no atomic instruction), log each WR in the C WR log (shift_wrlog.h), call the provider;
 * poll_cq: take the CQ's biased lock, call the provider, retire each successful completion in the log. What
 * is not routine -- an error completion, a completion of SHIFT's own WRs, anything on a failed-over QP -- is
 * classified by shift_route() and flagged for the control thread (shift_failover.c), which takes every lock
 * of the QP and runs the generated state machine. While a QP is failed over, posts go where its state says
 * (backup QP, withheld during the switch-back's fence) and poll_cq serves the CQ's WC buffer first, then the
 * backup CQ, then the default CQ (the paper's order: at a switch-back every backup completion precedes the
 * default ones).
 */
#include "shift_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shift_ibv_log.h"

/* ---------------------------------------------------------------- WC buffer */

/* Append an app-visible completion to the CQ's WC buffer (c->lock held); grows rather than drop. */
void shift_cq_push(struct shift_cq *c, const struct ibv_wc *wc)
{
    if (c->btail - c->bhead >= c->bcap) {
        uint32_t cap = c->bcap * 2, n = c->btail - c->bhead;
        struct ibv_wc *nb = malloc(cap * sizeof(*nb));
        if (!nb) {
            shift_log(0, "out of memory for the WC buffer: a completion is lost");
            return;
        }
        for (uint32_t i = 0; i < n; i++)
            nb[i] = c->buf[(c->bhead + i) % c->bcap];
        free(c->buf);
        c->buf = nb;
        c->bcap = cap;
        c->bhead = 0;
        c->btail = n;
    }
    c->buf[c->btail++ % c->bcap] = *wc;
    c->slow = 1;
    /* an application asleep in ibv_get_cq_event must learn about it: the completion did not come from the
     * kernel (backup CQ, WC buffer), so libshift delivers the event itself (shift_interpose.c) */
    if (c->efd >= 0 && atomic_exchange(&c->armed, 0)) {
        uint64_t one = 1;
        if (write(c->efd, &one, sizeof(one)) != sizeof(one))
            shift_log(1, "cannot wake the completion channel of a CQ (%s)", strerror(errno));
    }
}

/* ibv_req_notify_cq (context->ops.req_notify_cq): remember the CQ is armed; wake at once when libshift already
 * holds completions for it (they will never produce a kernel event) */
int shift_req_notify_cq(struct ibv_cq *cq, int solicited_only)
{
    struct shift_cq *c = shift_cq_of(cq);
    struct shift_ctx *sc = shift_ctx_of(cq->context);
    if (c && c->efd >= 0) {
        int fast = shift_blk_lock(&c->lock);
        atomic_store(&c->armed, 1);
        if (c->bhead != c->btail) {
            uint64_t one = 1;
            atomic_store(&c->armed, 0);
            if (write(c->efd, &one, sizeof(one)) != sizeof(one))
                shift_log(1, "cannot wake the completion channel of a CQ (%s)", strerror(errno));
        }
        shift_blk_unlock(&c->lock, fast);
    }
    return sc && sc->req_notify_cq ? sc->req_notify_cq(cq, solicited_only) : EINVAL;
}

/* ---------------------------------------------------------------- completion routing */

/* Statuses a path failure produces (RC transport gave up, the QP was moved to error / flushed, the device
 * died). Anything else -- protection, length, remote access, RNR -- is the application's own error: replaying
 * it on the backup NIC would fail the same way, so it is surfaced and SHIFT stands aside. */
static int network_status(enum ibv_wc_status st)
{
    return st == IBV_WC_RETRY_EXC_ERR || st == IBV_WC_WR_FLUSH_ERR || st == IBV_WC_LOC_QP_OP_ERR ||
           st == IBV_WC_FATAL_ERR || st == IBV_WC_RESP_TIMEOUT_ERR || st == IBV_WC_GENERAL_ERR;
}

static void flag(struct shift_qp *q, unsigned ev)
{
    atomic_fetch_or_explicit(&q->events, ev, memory_order_release);
    shift_wake();
}

void shift_unprotect(struct shift_qp *q, const char *why)
{
    if (why && atomic_load(&q->mode) != SHIFT_MODE_PASS && q->qp)
        shift_log(1, "QP %u: %s; this QP is no longer protected by SHIFT", q->qp->qp_num, why);
    atomic_store(&q->mode, SHIFT_MODE_PASS);
}

/* One completion from c's default CQ (from_backup 0) or backup CQ (1), c->lock held. Retires log records
 * and flags what the control thread must decide. 1: hand it to the application; 0: hide it. */
int shift_route(struct shift_cq *c, struct ibv_wc *wc, int from_backup)
{
    struct shift_qp *q = shift_qp_by_qpn(c->sc, wc->qp_num, from_backup);
    int recv, mode;
    if (!q)
        return !from_backup; /* not a protected QP (a backup completion of a destroyed QP is dropped) */
    if (from_backup) {
        if (atomic_load_explicit(&q->backup_dead, memory_order_relaxed))
            return 0;
        wc->qp_num = q->qp->qp_num;
    }
    if (shift_is_tag(q, wc->wr_id)) {
        int ok = wc->status == IBV_WC_SUCCESS;
        if (!ok)
            shift_trace(q->qp->qp_num, "\"control\": \"tag_error\", \"backup\": %d, \"status\": \"%s\"",
                        from_backup, ibv_wc_status_str(wc->status));
        if (wc->wr_id == (uintptr_t)&q->tag_probe)
            flag(q, ok ? SHIFT_EV_PROBE_OK : SHIFT_EV_PROBE_ERR);
        else if (wc->wr_id == (uintptr_t)&q->tag_notify)
            flag(q, ok ? SHIFT_EV_NOTIFY_OK : SHIFT_EV_NOTIFY_ERR);
        else if (wc->wr_id == (uintptr_t)&q->tag_notify_recv && ok)
            flag(q, SHIFT_EV_PEER_BACK);
        else if (!ok && from_backup) { /* a handshake or filler failed on the backup path */
            shift_log(1, "QP %u: SHIFT's own WR failed on the backup path: %s", q->qp->qp_num,
                      ibv_wc_status_str(wc->status));
            flag(q, SHIFT_EV_BACKUP_ERROR);
        }
        return 0;
    }
    mode = atomic_load_explicit(&q->mode, memory_order_relaxed);
    if (mode == SHIFT_MODE_PASS || atomic_load_explicit(&q->surfaced, memory_order_relaxed))
        return 1;
    recv = (wc->opcode & IBV_WC_RECV) != 0;
    if (wc->status != IBV_WC_SUCCESS) {
        if (from_backup) {
            if (recv && q->backup_stale && wc->status == IBV_WC_WR_FLUSH_ERR) {
                q->backup_stale--; /* a stale WQE flushed along with the backup QP */
                return 0;
            }
            shift_log(1, "QP %u: error on the backup path: %s (wr_id %" PRIu64 ", opcode %d)", q->qp->qp_num,
                      ibv_wc_status_str(wc->status), wc->wr_id, wc->opcode);
            flag(q, SHIFT_EV_BACKUP_ERROR);
            return 0;
        }
        if (atomic_load_explicit(&q->failing, memory_order_relaxed) ||
            (recv ? __atomic_load_n(&q->core.rq_state, __ATOMIC_RELAXED) != SHIFT_RQ_DEFAULT
                  : __atomic_load_n(&q->core.sq_state, __ATOMIC_RELAXED) != SHIFT_SQ_DEFAULT))
            return 0; /* a flushed copy on a default QP this queue already left, or after the failure */
        if (!network_status(wc->status)) {
            atomic_store(&q->surfaced, 1);
            flag(q, SHIFT_EV_APP_ERROR);
            return 1;
        }
        q->fail_status = wc->status;
        atomic_store_explicit(&q->failing, 1, memory_order_release);
        flag(q, SHIFT_EV_DEFAULT_FAILED);
        return 0;
    }
    if (recv) {
        if (from_backup && q->backup_stale) {
            q->backup_stale--; /* the peer's filler consumed a WQE a switch-back left on our backup QP */
            return 0;
        }
        if (shift_wrlog_complete(q->core.rq, wc->wr_id) < 0)
            shift_unprotect(q, "receive completion does not match the log (WRs posted outside ops.post_recv?)");
        return 1;
    }
    if (shift_wrlog_complete(q->core.sq, wc->wr_id) < 0) {
        shift_unprotect(q, "completion does not match the log (WRs posted outside ops.post_send?)");
        return 1;
    }
    if (from_backup) {
        uint64_t f = atomic_load_explicit(&q->fence_end, memory_order_acquire);
        if (f && shift_wrlog_retired(q->core.sq) >= f)
            flag(q, SHIFT_EV_FENCE_DONE);
    }
    return 1;
}

/* Poll c's backup and/or default CQ dry into its WC buffer (c->lock held): used by the control thread when it
 * drains a CQ at a failover (paper §4.3.2 step 1) and for passive sides that never poll. */
int shift_cq_drain(struct shift_cq *c, int which)
{
    struct ibv_wc wc[16];
    int total = 0;
    for (int pass = 0; pass < 2; pass++) {
        int backup = pass == 0, got;
        struct ibv_cq *cq = backup ? c->bcq : c->cq;
        shift_poll_cq_fn poll = backup ? (c->sc->backup ? c->sc->backup->ops.poll_cq : NULL) : c->sc->poll_cq;
        if (!(which & (backup ? 1 : 2)) || !cq || !poll)
            continue;
        while ((got = poll(cq, 16, wc)) > 0) {
            for (int i = 0; i < got; i++)
                if (shift_route(c, &wc[i], backup))
                    shift_cq_push(c, &wc[i]);
            total += got;
        }
    }
    return total;
}

/* poll_cq while something is unusual on this CQ: buffered completions first, then the backup CQ, then the
 * default CQ; each fresh completion is routed (c->lock held). */
static int poll_slow(struct shift_cq *c, int n, struct ibv_wc *wc)
{
    int kept = 0, got;
    while (kept < n && c->bhead != c->btail)
        wc[kept++] = c->buf[c->bhead++ % c->bcap];
    if (kept < n && c->bhead == c->btail && c->bcq && c->nfo) {
        got = c->sc->backup->ops.poll_cq(c->bcq, n - kept, wc + kept);
        for (int i = 0, j = kept; i < got; i++)
            if (shift_route(c, &wc[j], 1))
                j++, kept++;
            else if (i + 1 < got)
                memmove(&wc[j], &wc[j + 1], (size_t)(got - i - 1) * sizeof(*wc));
    }
    if (kept < n && c->bhead == c->btail) {
        got = c->sc->poll_cq(c->cq, n - kept, wc + kept);
        if (got < 0)
            return kept ? kept : got;
        for (int i = 0, j = kept; i < got; i++)
            if (shift_route(c, &wc[j], 0))
                j++, kept++;
            else if (i + 1 < got)
                memmove(&wc[j], &wc[j + 1], (size_t)(got - i - 1) * sizeof(*wc));
    }
    c->slow = c->bhead != c->btail || c->nfo;
    return kept;
}

int shift_poll_cq(struct ibv_cq *cq, int num_entries, struct ibv_wc *wc)
{
    struct shift_cq *c = shift_cq_of(cq);
    int fast, got, kept = 0;
    if (__builtin_expect(!c, 0)) {
        struct shift_ctx *sc = shift_ctx_of(cq->context);
        return sc ? sc->poll_cq(cq, num_entries, wc) : -1;
    }
    fast = shift_blk_lock(&c->lock);
    if (__builtin_expect(c->slow, 0)) {
        kept = poll_slow(c, num_entries, wc);
        shift_blk_unlock(&c->lock, fast);
        return kept;
    }
    got = c->sc->poll_cq(cq, num_entries, wc);
    for (int i = 0; i < got; i++) {
        struct ibv_wc *w = &wc[i];
        struct shift_qp *q;
        /* the routine case inline: a successful completion of a protected QP on its default path */
        if (__builtin_expect(w->qp_num == c->last_qpn, 1) &&
            __builtin_expect(c->last_gen == atomic_load_explicit(&shift_qp_gen, memory_order_acquire), 1)) {
            q = c->last_q;
        } else {
            c->last_gen = atomic_load_explicit(&shift_qp_gen, memory_order_acquire);
            q = shift_qp_by_qpn(c->sc, w->qp_num, 0);
            c->last_qpn = w->qp_num;
            c->last_q = q;
        }
        if (__builtin_expect(w->status == IBV_WC_SUCCESS, 1) && q &&
            atomic_load_explicit(&q->mode, memory_order_relaxed) == SHIFT_MODE_DEFAULT &&
            !shift_is_tag(q, w->wr_id) &&
            shift_wrlog_complete((w->opcode & IBV_WC_RECV) ? q->core.rq : q->core.sq, w->wr_id) >= 0) {
            if (kept != i)
                wc[kept] = *w;
            kept++;
        } else if (shift_route(c, w, 0)) {
            if (kept != i)
                wc[kept] = *w;
            kept++;
        }
    }
    if (got < 0)
        kept = got;
    shift_blk_unlock(&c->lock, fast);
    return kept;
}

/* ---------------------------------------------------------------- posting a logged record */

/* the peer's backup rkey for its default rkey (KV `mr:<peer GID>:<rkey>`, cached per QP); -1 if unknown */
static int backup_rkey(struct shift_qp *q, uint32_t rkey, uint32_t *out)
{
    unsigned h = (rkey * 2654435761u) >> 26;
    char key[96], val[64];
    uint64_t v;
    if (q->rk_used[h] && q->rk_key[h] == rkey) {
        *out = q->rk_val[h];
        return 0;
    }
    snprintf(key, sizeof(key), "mr:%s:%u", q->peer_gid, rkey);
    if (shift_kv_get(&shift_cfg.kv, key, val, sizeof(val), shift_cfg.kv.timeout_ms) || shift_json_u64(val, "rkey", &v))
        return -1;
    q->rk_used[h] = 1;
    q->rk_key[h] = rkey;
    q->rk_val[h] = *out = (uint32_t)v;
    return 0;
}

/* Post one logged record on the backup QP (MR keys rewritten: local lkeys to the shadow MR's, the peer's
 * rkey to its backup rkey) or on the default QP (as logged). 0, or an errno (EKEYREJECTED: a key has no
 * backup counterpart). */
int shift_post_record(struct shift_qp *q, const struct shift_wr *r, int backup)
{
    struct ibv_sge sg[SHIFT_MAX_SGE];
    struct ibv_send_wr w, *bad;
    struct ibv_recv_wr rw, *rbad;
    struct ibv_qp *qp = backup ? q->bqp : q->qp;
    int inl = (r->send_flags & IBV_SEND_INLINE) != 0;
    for (int i = 0; i < r->num_sge; i++) {
        const struct shift_sge *e = shift_wr_sge(r->opcode == SHIFT_OP_RECV ? q->core.rq : q->core.sq, r, i);
        sg[i].addr = e->addr;
        sg[i].length = e->length;
        sg[i].lkey = e->lkey;
        if (backup && !inl) {
            struct ibv_mr *bmr = shift_backup_mr(q->sc, sg[i].lkey);
            if (!bmr) {
                shift_log(1, "QP %u: local lkey %u has no backup MR", q->qp->qp_num, sg[i].lkey);
                return EKEYREJECTED;
            }
            sg[i].lkey = bmr->lkey;
        }
    }
    if (r->opcode == SHIFT_OP_RECV) {
        memset(&rw, 0, sizeof(rw));
        rw.wr_id = r->wr_id;
        rw.sg_list = sg;
        rw.num_sge = r->num_sge;
        return backup ? q->sc->backup->ops.post_recv(qp, &rw, &rbad) : q->sc->post_recv(qp, &rw, &rbad);
    }
    memset(&w, 0, sizeof(w));
    w.wr_id = r->wr_id;
    w.sg_list = sg;
    w.num_sge = r->num_sge;
    w.opcode = (enum ibv_wr_opcode)r->opcode;
    w.send_flags = r->send_flags | (r->signaled ? IBV_SEND_SIGNALED : 0);
    w.imm_data = r->imm_data;
    if (r->opcode == SHIFT_OP_ATOMIC_CMP_AND_SWP || r->opcode == SHIFT_OP_ATOMIC_FETCH_AND_ADD) {
        w.wr.atomic.remote_addr = r->remote_addr;
        w.wr.atomic.compare_add = r->compare_add;
        w.wr.atomic.swap = r->swap;
        w.wr.atomic.rkey = r->rkey;
        if (backup && backup_rkey(q, r->rkey, &w.wr.atomic.rkey))
            goto no_rkey;
    } else if (r->opcode == SHIFT_OP_RDMA_WRITE || r->opcode == SHIFT_OP_RDMA_WRITE_WITH_IMM ||
               r->opcode == SHIFT_OP_RDMA_READ) {
        w.wr.rdma.remote_addr = r->remote_addr;
        w.wr.rdma.rkey = r->rkey;
        if (backup && backup_rkey(q, r->rkey, &w.wr.rdma.rkey))
            goto no_rkey;
    }
    return backup ? q->sc->backup->ops.post_send(qp, &w, &bad) : q->sc->post_send(qp, &w, &bad);
no_rkey:
    shift_log(1, "QP %u: no backup rkey for the peer's rkey %u in the KV store", q->qp->qp_num, r->rkey);
    return EKEYREJECTED;
}

/* Records [from, head) of a failed-over send queue, placed where the state says (q->lock held): on the backup
 * QP in FALLBACK (unless the WQ rewind waits for the peer's counter) and WAIT_SIGNALED, where the first
 * signaled one is the fence (-> WAIT_DRAINED); withheld in WAIT_DRAINED. */
static void place_sends(struct shift_qp *q, uint64_t from)
{
    struct shift_cursor cur = {from};
    const struct shift_wr *r;
    while ((r = shift_wrlog_replay_next(q->core.sq, &cur))) {
        int st = q->core.sq_state;
        uint64_t seq = cur.seq - 1;
        if (st == SHIFT_SQ_WAIT_DRAINED || (st == SHIFT_SQ_FALLBACK && q->resubmit_pending))
            return; /* withheld / waiting for the rewind: the control thread posts it later */
        if (st != SHIFT_SQ_FALLBACK && st != SHIFT_SQ_WAIT_SIGNALED)
            return;
        if (st == SHIFT_SQ_WAIT_SIGNALED && r->signaled) {
            /* the fence (paper §4.3.3): armed before it can complete */
            atomic_store_explicit(&q->fence_end, seq + 1, memory_order_release);
            shift_core_sq_event(&q->core, SHIFT_SQ_EV_FENCE_POSTED);
            shift_trace(q->qp->qp_num, "\"queue\": \"sq\", \"from\": \"WAIT_SIGNALED\", \"event\": \"FENCE_POSTED\", "
                                       "\"to\": \"%s\"", shift_sq_state_names[q->core.sq_state]);
        }
        if ((errno = shift_post_record(q, r, 1))) {
            shift_log(1, "QP %u: cannot post on the backup QP: %s", q->qp->qp_num, strerror(errno));
            flag(q, SHIFT_EV_BACKUP_ERROR);
            return;
        }
        q->posted_upto = seq + 1;
    }
}

/* ---------------------------------------------------------------- post_send / post_recv */

/* Everything but the routine case, with q->lock held and nothing of this call logged yet. */
__attribute__((noinline)) static int post_send_locked(struct shift_qp *q, struct ibv_qp *qp, struct ibv_send_wr *wr,
                                                      struct ibv_send_wr **bad_wr, int fast)
{
    const struct ibv_send_wr *w;
    uint64_t head0;
    int ret = 0, mode = atomic_load_explicit(&q->mode, memory_order_relaxed);
    if (mode == SHIFT_MODE_PASS) {
        ret = q->sc->post_send(qp, wr, bad_wr);
        shift_blk_unlock(&q->lock, fast);
        return ret;
    }
    head0 = q->core.sq->head;
    for (w = wr; w; w = w->next) {
        int rc = shift_log_send_wr(q->core.sq, w, q->sig_all, q->inline_arena, q->inline_max);
        if (__builtin_expect(rc, 0)) {
            shift_wrlog_truncate(q->core.sq, head0);
            if (mode == SHIFT_MODE_DEFAULT) {
                shift_unprotect(q, rc == SHIFT_E_OVERFLOW ? "WR log full" : "WR with more SGEs than SHIFT_MAX_SGE");
                ret = q->sc->post_send(qp, wr, bad_wr);
            } else {
                *bad_wr = (struct ibv_send_wr *)w;
                ret = ENOMEM; /* failed over: nowhere to pass it through to */
            }
            shift_blk_unlock(&q->lock, fast);
            return ret;
        }
    }
    if (__builtin_expect(mode == SHIFT_MODE_DEFAULT, 1) || q->core.sq_state == SHIFT_SQ_DEFAULT) {
        ret = q->sc->post_send(qp, wr, bad_wr);
        if (__builtin_expect(ret, 0)) {
            if (atomic_load(&q->failing)) {
                ret = 0; /* the default path is failing: the WRs stay logged and go to the backup QP */
            } else {
                uint64_t n = 0;
                for (w = wr; w && w != *bad_wr; w = w->next)
                    n++;
                shift_wrlog_truncate(q->core.sq, head0 + n);
            }
        }
    } else {
        place_sends(q, head0);
    }
    shift_blk_unlock(&q->lock, fast);
    return ret;
}

/* ibv_post_send (context->ops.post_send): the routine case inline -- a protected QP on its default path,
 * every WR logged, then the provider -- and everything else in post_send_locked. */
/* the provider refused a lone WR: un-log it, unless the default path is failing (then it stays logged and goes to
 * the backup QP). Out of line, so the routine post keeps only the QP and the lock state across the provider call. */
__attribute__((noinline)) static int post_refused(struct shift_qp *q, struct shift_wrlog *log, int ret, int fast)
{
    if (!atomic_load(&q->failing))
        shift_wrlog_truncate(log, log->head - 1);
    else
        ret = 0;
    shift_blk_unlock(&q->lock, fast);
    return ret;
}

/* a list of WRs on the default path: every WR logged, then the provider */
__attribute__((noinline)) static int post_send_list(struct shift_qp *q, struct ibv_qp *qp, struct ibv_send_wr *wr,
                                                    struct ibv_send_wr **bad_wr, int fast)
{
    const struct ibv_send_wr *w = wr;
    struct shift_wrlog *log = q->core.sq;
    uint64_t head0 = log->head;
    int ret;
    do {
        if (__builtin_expect(shift_log_send_wr(log, w, q->sig_all, q->inline_arena, q->inline_max), 0)) {
            shift_wrlog_truncate(log, head0);
            return post_send_locked(q, qp, wr, bad_wr, fast);
        }
    } while ((w = w->next));
    ret = q->sc->post_send(qp, wr, bad_wr);
    if (__builtin_expect(ret, 0) && !atomic_load(&q->failing)) {
        uint64_t n = 0;
        for (w = wr; w && w != *bad_wr; w = w->next)
            n++;
        shift_wrlog_truncate(log, head0 + n);
    } else if (ret) {
        ret = 0; /* the default path is failing: the WRs stay logged and go to the backup QP */
    }
    shift_blk_unlock(&q->lock, fast);
    return ret;
}

int shift_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad_wr)
{
    struct shift_qp *q = shift_qp_of(qp);
    int fast, ret;
    if (__builtin_expect(!q, 0)) {
        struct shift_ctx *sc = shift_ctx_of(qp->context);
        return sc ? sc->post_send(qp, wr, bad_wr) : EINVAL;
    }
    fast = shift_blk_lock(&q->lock);
    if (__builtin_expect(atomic_load_explicit(&q->mode, memory_order_relaxed) != SHIFT_MODE_DEFAULT || !wr, 0))
        return post_send_locked(q, qp, wr, bad_wr, fast);
    if (__builtin_expect(wr->next != NULL, 0))
        return post_send_list(q, qp, wr, bad_wr, fast);
    if (__builtin_expect(shift_log_send_wr(q->core.sq, wr, q->sig_all, q->inline_arena, q->inline_max), 0))
        return post_send_locked(q, qp, wr, bad_wr, fast);
    ret = q->sc->post_send(qp, wr, bad_wr);
    if (__builtin_expect(ret, 0))
        return post_refused(q, q->core.sq, ret, fast);
    shift_blk_unlock(&q->lock, fast);
    return 0;
}

__attribute__((noinline)) static int post_recv_locked(struct shift_qp *q, struct ibv_qp *qp, struct ibv_recv_wr *wr,
                                                      struct ibv_recv_wr **bad_wr, int fast)
{
    const struct ibv_recv_wr *w;
    uint64_t head0;
    int ret = 0, mode = atomic_load_explicit(&q->mode, memory_order_relaxed);
    if (mode == SHIFT_MODE_PASS) {
        ret = q->sc->post_recv(qp, wr, bad_wr);
        shift_blk_unlock(&q->lock, fast);
        return ret;
    }
    head0 = q->core.rq->head;
    for (w = wr; w; w = w->next) {
        int rc = shift_log_recv_wr(q->core.rq, w);
        if (__builtin_expect(rc, 0)) {
            shift_wrlog_truncate(q->core.rq, head0);
            if (mode == SHIFT_MODE_DEFAULT) {
                shift_unprotect(q, rc == SHIFT_E_OVERFLOW ? "receive log full" : "RECV with more SGEs than SHIFT_MAX_SGE");
                ret = q->sc->post_recv(qp, wr, bad_wr);
            } else {
                *bad_wr = (struct ibv_recv_wr *)w;
                ret = ENOMEM;
            }
            shift_blk_unlock(&q->lock, fast);
            return ret;
        }
    }
    if (__builtin_expect(mode == SHIFT_MODE_DEFAULT || q->core.rq_state == SHIFT_RQ_DEFAULT, 1)) {
        ret = q->sc->post_recv(qp, wr, bad_wr);
        if (__builtin_expect(ret, 0)) {
            if (atomic_load(&q->failing)) {
                ret = 0; /* the default path is failing: the RECVs stay logged and go to the backup QP */
            } else {
                uint64_t n = 0;
                for (w = wr; w && w != *bad_wr; w = w->next)
                    n++;
                shift_wrlog_truncate(q->core.rq, head0 + n);
            }
        }
    } else if (q->core.rq_state == SHIFT_RQ_FALLBACK) {
        struct shift_cursor cur = {head0};
        const struct shift_wr *r;
        while ((r = shift_wrlog_replay_next(q->core.rq, &cur)))
            if (shift_post_record(q, r, 1)) {
                flag(q, SHIFT_EV_BACKUP_ERROR);
                break;
            }
    }
    shift_blk_unlock(&q->lock, fast);
    return ret;
}

/* a list of WRs on the default path: every WR logged, then the provider */
__attribute__((noinline)) static int post_recv_list(struct shift_qp *q, struct ibv_qp *qp, struct ibv_recv_wr *wr,
                                                    struct ibv_recv_wr **bad_wr, int fast)
{
    const struct ibv_recv_wr *w = wr;
    struct shift_wrlog *log = q->core.rq;
    uint64_t head0 = log->head;
    int ret;
    do {
        if (__builtin_expect(shift_log_recv_wr(log, w), 0)) {
            shift_wrlog_truncate(log, head0);
            return post_recv_locked(q, qp, wr, bad_wr, fast);
        }
    } while ((w = w->next));
    ret = q->sc->post_recv(qp, wr, bad_wr);
    if (__builtin_expect(ret, 0) && !atomic_load(&q->failing)) {
        uint64_t n = 0;
        for (w = wr; w && w != *bad_wr; w = w->next)
            n++;
        shift_wrlog_truncate(log, head0 + n);
    } else if (ret) {
        ret = 0; /* the default path is failing: the RECVs stay logged and go to the backup QP */
    }
    shift_blk_unlock(&q->lock, fast);
    return ret;
}

int shift_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad_wr)
{
    struct shift_qp *q = shift_qp_of(qp);
    int fast, ret;
    if (__builtin_expect(!q, 0)) {
        struct shift_ctx *sc = shift_ctx_of(qp->context);
        return sc ? sc->post_recv(qp, wr, bad_wr) : EINVAL;
    }
    fast = shift_blk_lock(&q->lock);
    if (__builtin_expect(atomic_load_explicit(&q->mode, memory_order_relaxed) != SHIFT_MODE_DEFAULT || !wr, 0))
        return post_recv_locked(q, qp, wr, bad_wr, fast);
    if (__builtin_expect(wr->next != NULL, 0))
        return post_recv_list(q, qp, wr, bad_wr, fast);
    if (__builtin_expect(shift_log_recv_wr(q->core.rq, wr), 0))
        return post_recv_locked(q, qp, wr, bad_wr, fast);
    ret = q->sc->post_recv(qp, wr, bad_wr);
    if (__builtin_expect(ret, 0))
        return post_refused(q, q->core.rq, ret, fast);
    shift_blk_unlock(&q->lock, fast);
    return 0;
}

/* ---------------------------------------------------------------- ibv_wr_* (extended QPs) */

/* The provider's builders of one extended QP, saved when libshift installs its own in the QP's ibv_qp_ex. */
struct shift_qpx_ops {
    void (*wr_start)(struct ibv_qp_ex *);
    int (*wr_complete)(struct ibv_qp_ex *);
    void (*wr_abort)(struct ibv_qp_ex *);
    void (*wr_rdma_write)(struct ibv_qp_ex *, uint32_t, uint64_t);
    void (*wr_rdma_write_imm)(struct ibv_qp_ex *, uint32_t, uint64_t, __be32);
    void (*wr_rdma_read)(struct ibv_qp_ex *, uint32_t, uint64_t);
    void (*wr_send)(struct ibv_qp_ex *);
    void (*wr_send_imm)(struct ibv_qp_ex *, __be32);
    void (*wr_atomic_fetch_add)(struct ibv_qp_ex *, uint32_t, uint64_t, uint64_t);
    void (*wr_atomic_cmp_swp)(struct ibv_qp_ex *, uint32_t, uint64_t, uint64_t, uint64_t);
    void (*wr_set_sge)(struct ibv_qp_ex *, uint32_t, uint64_t, uint32_t);
    void (*wr_set_sge_list)(struct ibv_qp_ex *, size_t, const struct ibv_sge *);
    void (*wr_set_inline_data)(struct ibv_qp_ex *, void *, size_t);
    void (*wr_set_inline_data_list)(struct ibv_qp_ex *, size_t, const struct ibv_data_buf *);
};

static struct shift_qp *x_q(struct ibv_qp_ex *qpx) { return shift_qp_of(&qpx->qp_base); }

/* the builders' records: reserved at the opcode call, filled by set_sge*, committed at the next opcode call
 * or at wr_complete (q->lock held from wr_start) */
static void x_commit(struct shift_qp *q)
{
    if (q->x_cur) {
        shift_wrlog_commit(q->core.sq, q->x_cur);
        q->x_cur = NULL;
    }
}

static struct shift_wr *x_begin(struct shift_qp *q, struct ibv_qp_ex *qpx, uint8_t opcode)
{
    struct shift_wr *r;
    x_commit(q);
    if (!q->x_log)
        return NULL;
    if (q->x_err || !(r = shift_wrlog_reserve(q->core.sq))) {
        q->x_err = q->x_err ? q->x_err : SHIFT_E_OVERFLOW;
        return NULL;
    }
    memset(r, 0, offsetof(struct shift_wr, sge0));
    r->wr_id = qpx->wr_id;
    r->opcode = opcode;
    r->signaled = q->sig_all || (qpx->wr_flags & IBV_SEND_SIGNALED);
    r->send_flags = qpx->wr_flags & ~(unsigned)IBV_SEND_SIGNALED;
    q->x_cur = r;
    return r;
}

#define X_PASS(q) ((q)->x_path_default)

static void x_wr_start(struct ibv_qp_ex *qpx)
{
    struct shift_qp *q = x_q(qpx);
    q->x_fast = shift_blk_lock(&q->lock);
    q->x_head0 = q->core.sq->head;
    q->x_err = 0;
    q->x_cur = NULL;
    q->x_path_default = atomic_load_explicit(&q->mode, memory_order_relaxed) != SHIFT_MODE_SLOW ||
                        q->core.sq_state == SHIFT_SQ_DEFAULT;
    q->x_log = atomic_load_explicit(&q->mode, memory_order_relaxed) != SHIFT_MODE_PASS;
    if (X_PASS(q))
        q->xops->wr_start(qpx);
}

static int x_wr_complete(struct ibv_qp_ex *qpx)
{
    struct shift_qp *q = x_q(qpx);
    int mode = atomic_load_explicit(&q->mode, memory_order_relaxed), ret = 0, fast = q->x_fast;
    x_commit(q);
    if (!q->x_log) {
        ret = q->xops->wr_complete(qpx);
    } else if (X_PASS(q)) {
        if (q->x_err && mode == SHIFT_MODE_DEFAULT) {
            shift_wrlog_truncate(q->core.sq, q->x_head0);
            shift_unprotect(q, q->x_err == SHIFT_E_OVERFLOW ? "WR log full" : "WR with more SGEs than SHIFT_MAX_SGE");
        }
        ret = q->xops->wr_complete(qpx);
        if (ret && !atomic_load(&q->failing))
            shift_wrlog_truncate(q->core.sq, q->x_head0);
        else if (ret)
            ret = 0; /* the default path is failing: the WRs stay logged and go to the backup QP */
    } else if (q->x_err) {
        shift_wrlog_truncate(q->core.sq, q->x_head0);
        ret = ENOMEM;
    } else {
        place_sends(q, q->x_head0);
    }
    shift_blk_unlock(&q->lock, fast);
    return ret;
}

static void x_wr_abort(struct ibv_qp_ex *qpx)
{
    struct shift_qp *q = x_q(qpx);
    int fast = q->x_fast;
    q->x_cur = NULL;
    if (q->x_log)
        shift_wrlog_truncate(q->core.sq, q->x_head0);
    if (X_PASS(q))
        q->xops->wr_abort(qpx);
    shift_blk_unlock(&q->lock, fast);
}

static void x_rdma_write(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr)
{
    struct shift_qp *q = x_q(qpx);
    struct shift_wr *r = x_begin(q, qpx, SHIFT_OP_RDMA_WRITE);
    if (r) {
        r->rkey = rkey;
        r->remote_addr = raddr;
    }
    if (X_PASS(q))
        q->xops->wr_rdma_write(qpx, rkey, raddr);
}

static void x_rdma_write_imm(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr, __be32 imm)
{
    struct shift_qp *q = x_q(qpx);
    struct shift_wr *r = x_begin(q, qpx, SHIFT_OP_RDMA_WRITE_WITH_IMM);
    if (r) {
        r->rkey = rkey;
        r->remote_addr = raddr;
        r->imm_data = imm;
    }
    if (X_PASS(q))
        q->xops->wr_rdma_write_imm(qpx, rkey, raddr, imm);
}

static void x_rdma_read(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr)
{
    struct shift_qp *q = x_q(qpx);
    struct shift_wr *r = x_begin(q, qpx, SHIFT_OP_RDMA_READ);
    if (r) {
        r->rkey = rkey;
        r->remote_addr = raddr;
    }
    if (X_PASS(q))
        q->xops->wr_rdma_read(qpx, rkey, raddr);
}

static void x_send(struct ibv_qp_ex *qpx)
{
    struct shift_qp *q = x_q(qpx);
    x_begin(q, qpx, SHIFT_OP_SEND);
    if (X_PASS(q))
        q->xops->wr_send(qpx);
}

static void x_send_imm(struct ibv_qp_ex *qpx, __be32 imm)
{
    struct shift_qp *q = x_q(qpx);
    struct shift_wr *r = x_begin(q, qpx, SHIFT_OP_SEND_WITH_IMM);
    if (r)
        r->imm_data = imm;
    if (X_PASS(q))
        q->xops->wr_send_imm(qpx, imm);
}

static void x_fetch_add(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr, uint64_t add)
{
    struct shift_qp *q = x_q(qpx);
    struct shift_wr *r = x_begin(q, qpx, SHIFT_OP_ATOMIC_FETCH_AND_ADD);
    if (r) {
        r->rkey = rkey;
        r->remote_addr = raddr;
        r->compare_add = add;
    }
    if (X_PASS(q))
        q->xops->wr_atomic_fetch_add(qpx, rkey, raddr, add);
}

static void x_cmp_swp(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr, uint64_t cmp, uint64_t swp)
{
    struct shift_qp *q = x_q(qpx);
    struct shift_wr *r = x_begin(q, qpx, SHIFT_OP_ATOMIC_CMP_AND_SWP);
    if (r) {
        r->rkey = rkey;
        r->remote_addr = raddr;
        r->compare_add = cmp;
        r->swap = swp;
    }
    if (X_PASS(q))
        q->xops->wr_atomic_cmp_swp(qpx, rkey, raddr, cmp, swp);
}

static void x_set_sge_list(struct ibv_qp_ex *qpx, size_t n, const struct ibv_sge *sg)
{
    struct shift_qp *q = x_q(qpx);
    if (q->x_cur) {
        if (n > SHIFT_MAX_SGE)
            q->x_err = SHIFT_E_SGE;
        else
            shift_copy_sges(q->core.sq, q->x_cur, sg, (int)n);
    }
    if (X_PASS(q))
        q->xops->wr_set_sge_list(qpx, n, sg);
}

static void x_set_sge(struct ibv_qp_ex *qpx, uint32_t lkey, uint64_t addr, uint32_t length)
{
    struct shift_qp *q = x_q(qpx);
    if (q->x_cur) {
        struct ibv_sge sg = {.addr = addr, .length = length, .lkey = lkey};
        shift_copy_sges(q->core.sq, q->x_cur, &sg, 1);
    }
    if (X_PASS(q))
        q->xops->wr_set_sge(qpx, lkey, addr, length);
}

/* inline payload is copied into the QP's arena (the application may reuse the buffer at once) */
static void x_inline(struct shift_qp *q, size_t n, const struct ibv_data_buf *buf)
{
    struct shift_wr *r = q->x_cur;
    size_t total = 0;
    uint8_t *dst;
    if (!r)
        return;
    for (size_t i = 0; i < n; i++)
        total += buf[i].length;
    r->send_flags |= IBV_SEND_INLINE;
    if (!q->inline_arena || total > q->inline_max) {
        r->flags |= SHIFT_WR_APP_UNSAFE; /* cannot replay unknown bytes: a failover with it outstanding fails closed */
        r->num_sge = 0;
        return;
    }
    dst = q->inline_arena + (q->core.sq->head & q->core.sq->mask) * q->inline_max;
    r->sge0.addr = (uint64_t)(uintptr_t)dst;
    r->sge0.length = (uint32_t)total;
    r->sge0.lkey = 0;
    r->num_sge = 1;
    for (size_t i = 0; i < n; i++) {
        memcpy(dst, buf[i].addr, buf[i].length);
        dst += buf[i].length;
    }
}

static void x_set_inline_data(struct ibv_qp_ex *qpx, void *addr, size_t length)
{
    struct shift_qp *q = x_q(qpx);
    struct ibv_data_buf b = {.addr = addr, .length = length};
    x_inline(q, 1, &b);
    if (X_PASS(q))
        q->xops->wr_set_inline_data(qpx, addr, length);
}

static void x_set_inline_data_list(struct ibv_qp_ex *qpx, size_t n, const struct ibv_data_buf *buf)
{
    struct shift_qp *q = x_q(qpx);
    x_inline(q, n, buf);
    if (X_PASS(q))
        q->xops->wr_set_inline_data_list(qpx, n, buf);
}

/* Install libshift's builders in an extended QP. -1 when its send_ops_flags include an operation the log
 * cannot record (memory windows, TSO, local invalidate, atomic write): then the QP is refused (one warning). */
int shift_qpx_protect(struct shift_qp *q, const struct ibv_qp_init_attr_ex *attr)
{
    const uint64_t known = IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM | IBV_QP_EX_WITH_SEND |
                           IBV_QP_EX_WITH_SEND_WITH_IMM | IBV_QP_EX_WITH_RDMA_READ |
                           IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP | IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD;
    struct ibv_qp_ex *qpx = shift_real.qp_to_qp_ex ? shift_real.qp_to_qp_ex(q->qp) : NULL;
    struct shift_qpx_ops *o;
    if (!qpx || (attr->send_ops_flags & ~known) || !(o = calloc(1, sizeof(*o)))) {
        shift_log(1, "QP %u: ibv_create_qp_ex with send_ops_flags 0x%" PRIx64 " (SHIFT logs WRITE, WRITE_WITH_IMM, "
                     "SEND, SEND_WITH_IMM, READ and atomics)", q->qp->qp_num, (uint64_t)attr->send_ops_flags);
        return -1;
    }
#define SWAP(field, mine)                                                                                              \
    do {                                                                                                               \
        o->field = qpx->field;                                                                                         \
        if (qpx->field)                                                                                                \
            qpx->field = mine;                                                                                         \
    } while (0)
    SWAP(wr_start, x_wr_start);
    SWAP(wr_complete, x_wr_complete);
    SWAP(wr_abort, x_wr_abort);
    SWAP(wr_rdma_write, x_rdma_write);
    SWAP(wr_rdma_write_imm, x_rdma_write_imm);
    SWAP(wr_rdma_read, x_rdma_read);
    SWAP(wr_send, x_send);
    SWAP(wr_send_imm, x_send_imm);
    SWAP(wr_atomic_fetch_add, x_fetch_add);
    SWAP(wr_atomic_cmp_swp, x_cmp_swp);
    SWAP(wr_set_sge, x_set_sge);
    SWAP(wr_set_sge_list, x_set_sge_list);
    SWAP(wr_set_inline_data, x_set_inline_data);
    SWAP(wr_set_inline_data_list, x_set_inline_data_list);
#undef SWAP
    q->qpx = qpx;
    q->xops = o;
    shift_log(2, "QP %u: extended QP: ibv_wr_* builders logged", q->qp->qp_num);
    return 0;
}
