/* shift_wire.c -- GID strings and the flat-JSON reader of shift_wire.h. */
#include "shift_wire.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

void shift_gid_str(const uint8_t raw[16], char *out)
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 5 * i, 6, "%02x%02x%s", raw[2 * i], raw[2 * i + 1], i < 7 ? ":" : "");
}

int shift_gid_parse(const char *s, uint8_t raw[16])
{
    for (int i = 0; i < 8; i++) {
        unsigned v;
        if (sscanf(s + 5 * i, "%4x", &v) != 1 || (i < 7 && s[5 * i + 4] != ':'))
            return -1;
        raw[2 * i] = (uint8_t)(v >> 8);
        raw[2 * i + 1] = (uint8_t)v;
    }
    return s[39] == 0 || isspace((unsigned char)s[39]) || s[39] == '"' ? 0 : -1;
}

/* the character after `"key"` and its ':' (skipping JSON whitespace), or NULL. Walks string tokens, so a
 * string value equal to the key's name never matches. */
static const char *value_of(const char *json, const char *key)
{
    size_t n = strlen(key);
    const char *p = strchr(json, '"');
    while (p) {
        const char *q = strchr(p + 1, '"'), *v;
        if (!q)
            return NULL;
        v = q + 1;
        while (isspace((unsigned char)*v))
            v++;
        if ((size_t)(q - p - 1) == n && strncmp(p + 1, key, n) == 0 && *v == ':') {
            v++;
            while (isspace((unsigned char)*v))
                v++;
            return v;
        }
        p = strchr(q + 1, '"');
    }
    return NULL;
}

int shift_json_u64(const char *json, const char *key, uint64_t *out)
{
    const char *v = value_of(json, key);
    char *end;
    if (!v || !isdigit((unsigned char)*v))
        return -1;
    *out = strtoull(v, &end, 10);
    return end == v ? -1 : 0;
}

int shift_json_str(const char *json, const char *key, char *out, size_t outlen)
{
    const char *v = value_of(json, key), *end;
    if (!v || *v != '"')
        return -1;
    end = strchr(v + 1, '"');
    if (!end || (size_t)(end - v - 1) >= outlen)
        return -1;
    memcpy(out, v + 1, (size_t)(end - v - 1));
    out[end - v - 1] = 0;
    return 0;
}
