/* wire_check.c -- csrc/shift_wire.h from the command line, so tests/interposer/test_wire.py can compare the C
 * side of the formats byte for byte with the Python layer's (shift_core/shift/mailbox.py, exchange.py).
 *   pack N KIND COUNT STALE   -> the 32-byte handshake as hex      unpack HEX64 -> "N KIND COUNT STALE"
 *   gid HEX32                 -> pyverbs' GID string               parse GIDSTR -> HEX32 (or "bad")
 *   u64 JSON KEY / str JSON KEY -> the value (or "absent") */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shift_wire.h"

int main(int argc, char **argv)
{
    uint8_t raw[32];
    char out[256];
    if (argc == 6 && !strcmp(argv[1], "pack")) {
        struct shift_handshake m = {strtoull(argv[2], 0, 10), strtoull(argv[3], 0, 10), strtoull(argv[4], 0, 10),
                                    strtoull(argv[5], 0, 10)};
        shift_hs_pack(&m, raw);
        for (int i = 0; i < 32; i++)
            printf("%02x", raw[i]);
        printf("\n");
    } else if (argc == 3 && !strcmp(argv[1], "unpack")) {
        struct shift_handshake m;
        for (int i = 0; i < 32; i++) {
            unsigned v;
            sscanf(argv[2] + 2 * i, "%2x", &v);
            raw[i] = (uint8_t)v;
        }
        shift_hs_unpack(raw, &m);
        printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", m.number, m.kind, m.recv_count, m.stale);
    } else if (argc == 3 && !strcmp(argv[1], "gid")) {
        for (int i = 0; i < 16; i++) {
            unsigned v;
            sscanf(argv[2] + 2 * i, "%2x", &v);
            raw[i] = (uint8_t)v;
        }
        shift_gid_str(raw, out);
        printf("%s\n", out);
    } else if (argc == 3 && !strcmp(argv[1], "parse")) {
        if (shift_gid_parse(argv[2], raw)) {
            printf("bad\n");
        } else {
            for (int i = 0; i < 16; i++)
                printf("%02x", raw[i]);
            printf("\n");
        }
    } else if (argc == 4 && !strcmp(argv[1], "u64")) {
        uint64_t v;
        if (shift_json_u64(argv[2], argv[3], &v))
            printf("absent\n");
        else
            printf("%" PRIu64 "\n", v);
    } else if (argc == 4 && !strcmp(argv[1], "str")) {
        printf("%s\n", shift_json_str(argv[2], argv[3], out, sizeof(out)) ? "absent" : out);
    } else {
        return 2;
    }
    return 0;
}
