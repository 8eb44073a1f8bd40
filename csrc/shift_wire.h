/* shift_wire.h -- what a C end and a Python end of SHIFT share: KV keys and values, the handshake message.
 *
 * The single statement of these formats on the Python side is shift_core/shift/exchange.py (keys),
 * shift_core/shift/mailbox.py (the 32-byte handshake) and shift_core/shift/qp.py (probe, switch-back
 * notification, fillers); tests/interposer/test_wire.py checks that both sides produce and read the same bytes.
 *
 * KV store (values are JSON objects, as the Python stores write them):
 *   qp:<default GID>:<default QPN>    {"gid": "<backup GID>", "qpn": <backup QPN>, "lid": <backup LID>}
 *   mr:<default GID>:<default rkey>   {"rkey": <backup rkey>}
 *   mbox:<default GID>:<default QPN>  {"addr": <mailbox address>, "rkey": <its default rkey>, "brkey": <backup>}
 * GIDs are written as pyverbs prints them: eight groups of four lowercase hex digits joined by ':'.
 * Without a GRH (InfiniBand LIDs) the C end keys QPs by "lid<LID>" instead of a GID (no Python peer there).
 *
 * Handshake (paper §4.3.2 step 4): four little-endian u64 -- number, kind, receive counter, stale WQEs --
 * RDMA-written (inline, unsignaled) through the backup QP into the peer's mailbox; the peer's background
 * thread reads it. number grows by one per message sent, so each is seen once.
 * Probe: a zero-length signaled RDMA WRITE to the peer's mailbox on the reset default QP.
 * Switch-back notification: a zero-length signaled WRITE_WITH_IMM (imm SHIFT_NOTIFY_IMM, as posted) on the
 * default QP, consuming the zero-length RECV the peer pre-posted on its reset default QP.
 * Filler: a zero-length unsignaled SEND on the backup QP, consuming one stale WQE the peer reported.
 */
#ifndef SHIFT_WIRE_H
#define SHIFT_WIRE_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SHIFT_MAILBOX_BYTES 32
#define SHIFT_HS_REQ 1u /* "I failed over; here is my receive counter" */
#define SHIFT_HS_ACK 2u /* "seen; here is mine" */
#define SHIFT_NOTIFY_IMM 0x53484654u /* "SHFT" */
#define SHIFT_GID_STR 40             /* "xxxx:" x 8 with the terminating NUL */

struct shift_handshake {
    uint64_t number;
    uint64_t kind;
    uint64_t recv_count;
    uint64_t stale;
};

static inline void shift_hs_pack(const struct shift_handshake *m, uint8_t out[SHIFT_MAILBOX_BYTES])
{
    uint64_t v[4] = {htole64(m->number), htole64(m->kind), htole64(m->recv_count), htole64(m->stale)};
    memcpy(out, v, sizeof(v));
}

static inline void shift_hs_unpack(const uint8_t in[SHIFT_MAILBOX_BYTES], struct shift_handshake *m)
{
    uint64_t v[4];
    memcpy(v, in, sizeof(v));
    m->number = le64toh(v[0]);
    m->kind = le64toh(v[1]);
    m->recv_count = le64toh(v[2]);
    m->stale = le64toh(v[3]);
}

/* GID bytes -> "fe80:0000:...:0001" (pyverbs' GID.gid); out holds SHIFT_GID_STR bytes */
void shift_gid_str(const uint8_t raw[16], char *out);
/* the inverse; 0 or -1 on a malformed string */
int shift_gid_parse(const char *s, uint8_t raw[16]);

/* Flat JSON objects: the value of "key" as an unsigned integer or a string. 0 found, -1 absent/malformed. */
int shift_json_u64(const char *json, const char *key, uint64_t *out);
int shift_json_str(const char *json, const char *key, char *out, size_t outlen);

#endif /* SHIFT_WIRE_H */
