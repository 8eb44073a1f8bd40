/* shift_qpcore.h -- one SHIFT QP's C core: its send and receive WR logs plus the generated state machine.
 *
 * Counterpart of shift_core/fastpath/reference.py (QPCore) and of shift_core/shift/machine.py's next_sq /
 * next_rq: the transition table comes from shift_machine_gen.h, generated from the Python dicts, so the
 * interposer and the Python layer run one design. What this file adds is the only C-side decision the table
 * does not contain: which event an error completion is (paper §4.3.2 step 2, "retransmission-safe check").
 */
#ifndef SHIFT_QPCORE_H
#define SHIFT_QPCORE_H

#include "shift_machine_gen.h"
#include "shift_wrlog.h"

#define SHIFT_E_ILLEGAL (-7) /* (state, event) has no transition: machine.IllegalTransition in Python */

struct shift_qp_core {
    struct shift_wrlog *sq;
    struct shift_wrlog *rq;
    int sq_state; /* enum shift_sq_state */
    int rq_state; /* enum shift_rq_state */
};

/* Apply ev to the send-queue machine: the new state, or SHIFT_E_ILLEGAL (state unchanged). */
static inline int shift_core_sq_event(struct shift_qp_core *core, int ev)
{
    int next = shift_sq_next(core->sq_state, ev);
    if (next < 0)
        return SHIFT_E_ILLEGAL;
    __atomic_store_n(&core->sq_state, next, __ATOMIC_RELEASE); /* read lock-free by libshift's completion router */
    return next;
}

static inline int shift_core_rq_event(struct shift_qp_core *core, int ev)
{
    int next = shift_rq_next(core->rq_state, ev);
    if (next < 0)
        return SHIFT_E_ILLEGAL;
    __atomic_store_n(&core->rq_state, next, __ATOMIC_RELEASE);
    return next;
}

/* Which send-queue event an error completion (or a port-error async event) is.
 * In DEFAULT: ERROR_UNSAFE when an atomic / unknown / app-flagged WR is outstanding, else ERROR_SAFE.
 * Otherwise: an error on the backup QP is SECOND_FAILURE; on the default QP it is DEFAULT_ERROR. Whether the
 * state has a row for that event is the table's business (shift_core_sq_event reports SHIFT_E_ILLEGAL). */
static inline int shift_core_error_event(const struct shift_qp_core *core, int on_backup)
{
    if (core->sq_state == SHIFT_SQ_DEFAULT && !on_backup)
        return shift_wrlog_unsafe_outstanding(core->sq) ? SHIFT_SQ_EV_ERROR_UNSAFE : SHIFT_SQ_EV_ERROR_SAFE;
    return on_backup ? SHIFT_SQ_EV_SECOND_FAILURE : SHIFT_SQ_EV_DEFAULT_ERROR;
}

/* Drive the send-queue machine on an error: the new state or SHIFT_E_ILLEGAL. */
static inline int shift_core_on_error(struct shift_qp_core *core, int on_backup)
{
    return shift_core_sq_event(core, shift_core_error_event(core, on_backup));
}

#endif /* SHIFT_QPCORE_H */
