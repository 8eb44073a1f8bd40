/* shift_kvtool.c -- put/get one key in the interposer's KV store (debugging, and tests of shift_kv.c).
 * usage: shift_kvtool put KEY VALUE | shift_kvtool get KEY [timeout_ms] | shift_kvtool del KEY
 * Store: SHIFT_KV_REDIS=host:port, else SHIFT_KV_DIR (default /tmp/shift-kv) -- as in libshift.so.
 * Exit: 0 ok, 1 absent / unreachable, 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shift_kv.h"

int main(int argc, char **argv)
{
    struct shift_kv_config cfg = {.timeout_ms = 0};
    const char *dir = getenv("SHIFT_KV_DIR"), *redis = getenv("SHIFT_KV_REDIS");
    char out[1024];
    snprintf(cfg.dir, sizeof(cfg.dir), "%s", dir ? dir : "/tmp/shift-kv");
    snprintf(cfg.redis, sizeof(cfg.redis), "%s", redis ? redis : "");
    if (argc == 4 && !strcmp(argv[1], "put"))
        return shift_kv_put(&cfg, argv[2], argv[3]) ? 1 : 0;
    if (argc == 3 && !strcmp(argv[1], "del"))
        return shift_kv_del(&cfg, argv[2]) ? 1 : 0;
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "get")) {
        if (shift_kv_get(&cfg, argv[2], out, sizeof(out), argc == 4 ? atoi(argv[3]) : 0))
            return 1;
        puts(out);
        return 0;
    }
    fprintf(stderr, "usage: shift_kvtool put KEY VALUE | shift_kvtool get KEY [timeout_ms] | shift_kvtool del KEY\n");
    return 2;
}
