/* shift_kv.h -- the out-of-band key-value exchange of backup attributes (paper §4.2 "KV exchange"), in C.
 *
 * Two stores, chosen by configuration:
 *  - SHIFT_KV_REDIS=host:port: a Redis server (the paper's choice; plain RESP SET/GET over one TCP connection
 *    per call, control path only);
 *  - otherwise SHIFT_KV_DIR (default /tmp/shift-kv): one file per key, written atomically (temp + rename).
 *    Shared by every process on one host (e.g. both ends inside the rxe guest); across hosts it needs a shared
 *    filesystem -- use Redis there.
 * Keys and values are short printable strings; the schema is in csrc/README.md.
 */
#ifndef SHIFT_KV_H
#define SHIFT_KV_H

#include <stddef.h>

struct shift_kv_config {
    char dir[256];    /* file store directory */
    char redis[128];  /* "host:port", empty -> file store */
    int timeout_ms;   /* how long shift_kv_get waits for a key to appear */
};

/* 0 on success, -1 on failure (errno set; the caller logs). */
int shift_kv_put(const struct shift_kv_config *cfg, const char *key, const char *value);
/* Remove key (absent is fine): 0 on success, -1 when the store is unreachable. */
int shift_kv_del(const struct shift_kv_config *cfg, const char *key);
/* Wait up to timeout_ms (0: one try) for key; copies the value into out. 0 found, -1 absent / unreachable. */
int shift_kv_get(const struct shift_kv_config *cfg, const char *key, char *out, size_t outlen, int timeout_ms);

#endif /* SHIFT_KV_H */
