/* shift_kv.c -- file and Redis (RESP) key-value stores for the interposer's backup-attribute exchange. */
#define _GNU_SOURCE
#include "shift_kv.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* keys may contain ':' and '/'; file names get '_' instead */
static void key_path(const struct shift_kv_config *cfg, const char *key, char *path, size_t len)
{
    size_t n = (size_t)snprintf(path, len, "%s/", cfg->dir), i;
    for (i = 0; key[i] && n + 1 < len; i++)
        path[n++] = (key[i] == '/' || key[i] == ':') ? '_' : key[i];
    path[n] = 0;
}

static int file_put(const struct shift_kv_config *cfg, const char *key, const char *value)
{
    char path[512], tmp[560];
    int fd;
    ssize_t len = (ssize_t)strlen(value);
    mkdir(cfg->dir, 0777); /* EEXIST is fine */
    key_path(cfg, key, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        return -1;
    if (write(fd, value, (size_t)len) != len || close(fd) != 0) {
        unlink(tmp);
        return -1;
    }
    return rename(tmp, path);
}

static int file_get_once(const struct shift_kv_config *cfg, const char *key, char *out, size_t outlen)
{
    char path[512];
    ssize_t n;
    int fd;
    key_path(cfg, key, path, sizeof(path));
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    n = read(fd, out, outlen - 1);
    close(fd);
    if (n < 0)
        return -1;
    out[n] = 0;
    return 0;
}

static int redis_connect(const char *hostport)
{
    char host[128], *colon;
    struct addrinfo hints = {0}, *res, *ai;
    int fd = -1;
    snprintf(host, sizeof(host), "%s", hostport);
    colon = strrchr(host, ':');
    if (!colon)
        return -1;
    *colon = 0;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
        return -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* one RESP command (array of bulk strings); the reply's first line into line, a bulk payload into out */
static int redis_call(const struct shift_kv_config *cfg, int argc, const char **argv, char *out, size_t outlen)
{
    char buf[2048], *p;
    size_t n = (size_t)snprintf(buf, sizeof(buf), "*%d\r\n", argc);
    ssize_t got, total = 0;
    int fd, i, rc = -1;
    for (i = 0; i < argc && n < sizeof(buf); i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    if (n >= sizeof(buf))
        return -1;
    fd = redis_connect(cfg->redis);
    if (fd < 0)
        return -1;
    if (write(fd, buf, n) != (ssize_t)n)
        goto out;
    while (total < (ssize_t)sizeof(buf) - 1 && (got = read(fd, buf + total, sizeof(buf) - 1 - (size_t)total)) > 0) {
        total += got;
        buf[total] = 0;
        p = strstr(buf, "\r\n");
        if (!p)
            continue;
        if (buf[0] == '+' || buf[0] == '-' || buf[0] == ':' || (buf[0] == '$' && buf[1] == '-')) {
            rc = (buf[0] == '+' || buf[0] == ':') ? 0 : -1; /* OK / integer reply (DEL) */
            break;
        }
        if (buf[0] == '$') {
            long len = strtol(buf + 1, NULL, 10);
            if (total >= (p - buf) + 2 + len + 2) {
                if ((size_t)len >= outlen)
                    break;
                memcpy(out, p + 2, (size_t)len);
                out[len] = 0;
                rc = 0;
                break;
            }
        }
    }
out:
    close(fd);
    return rc;
}

int shift_kv_put(const struct shift_kv_config *cfg, const char *key, const char *value)
{
    if (cfg->redis[0]) {
        const char *argv[] = {"SET", key, value};
        char ignored[8];
        return redis_call(cfg, 3, argv, ignored, sizeof(ignored));
    }
    return file_put(cfg, key, value);
}

int shift_kv_del(const struct shift_kv_config *cfg, const char *key)
{
    char path[512];
    if (cfg->redis[0]) {
        const char *argv[] = {"DEL", key};
        char ignored[8];
        return redis_call(cfg, 2, argv, ignored, sizeof(ignored));
    }
    key_path(cfg, key, path, sizeof(path));
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int shift_kv_get(const struct shift_kv_config *cfg, const char *key, char *out, size_t outlen, int timeout_ms)
{
    int waited = 0;
    for (;;) {
        int rc;
        if (cfg->redis[0]) {
            const char *argv[] = {"GET", key};
            rc = redis_call(cfg, 2, argv, out, outlen);
        } else {
            rc = file_get_once(cfg, key, out, outlen);
        }
        if (rc == 0)
            return 0;
        if (waited >= timeout_ms)
            return -1;
        sleep_ms(5);
        waited += 5;
    }
}
