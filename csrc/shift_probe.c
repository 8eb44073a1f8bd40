/* shift_probe.c -- a minimal verbs program that shows whether libshift.so is interposed.
 *
 * Opens a device (argv[1] or the first one), creates PD, CQ and an RC QP, moves the QP to INIT, and prints
 * which shared object ops.post_send / ops.poll_cq point into (libshift.so when preloaded). Exit codes:
 * 0 ok, 3 no RDMA device (a clean failure, as on hosts without RDMA), 1 a verbs call failed.
 * usage: [LD_PRELOAD=./libshift.so] ./shift_probe [device]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <infiniband/verbs.h>

static const char *object_of(void *fn)
{
    Dl_info info;
    return dladdr(fn, &info) && info.dli_fname ? info.dli_fname : "?";
}

int main(int argc, char **argv)
{
    int n = 0, i, rc = 1;
    struct ibv_device **list = ibv_get_device_list(&n);
    struct ibv_device *dev = NULL;
    struct ibv_context *ctx;
    struct ibv_pd *pd = NULL;
    struct ibv_cq *cq = NULL;
    struct ibv_qp *qp = NULL;
    if (!list || n == 0) {
        fprintf(stderr, "shift_probe: no RDMA device (%s)\n", list ? "empty list" : strerror(errno));
        if (list)
            ibv_free_device_list(list);
        return 3;
    }
    for (i = 0; i < n && !dev; i++)
        if (argc < 2 || !strcmp(ibv_get_device_name(list[i]), argv[1]))
            dev = list[i];
    if (!dev) {
        fprintf(stderr, "shift_probe: device %s not found\n", argv[1]);
        ibv_free_device_list(list);
        return 3;
    }
    ctx = ibv_open_device(dev);
    if (!ctx) {
        perror("shift_probe: ibv_open_device");
        goto out;
    }
    printf("device %s\nops.post_send -> %s\nops.poll_cq -> %s\n", ibv_get_device_name(dev),
           object_of((void *)ctx->ops.post_send), object_of((void *)ctx->ops.poll_cq));
    if (!(pd = ibv_alloc_pd(ctx)) || !(cq = ibv_create_cq(ctx, 16, NULL, NULL, 0))) {
        perror("shift_probe: ibv_alloc_pd / ibv_create_cq");
        goto out;
    }
    struct ibv_qp_init_attr ia = {.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
                                  .cap = {.max_send_wr = 8, .max_recv_wr = 8, .max_send_sge = 1, .max_recv_sge = 1}};
    if (!(qp = ibv_create_qp(pd, &ia))) {
        perror("shift_probe: ibv_create_qp");
        goto out;
    }
    struct ibv_qp_attr a = {.qp_state = IBV_QPS_INIT, .port_num = 1, .pkey_index = 0,
                            .qp_access_flags = IBV_ACCESS_REMOTE_WRITE};
    if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS)) {
        perror("shift_probe: ibv_modify_qp(INIT)");
        goto out;
    }
    printf("qp %u INIT ok\n", qp->qp_num);
    rc = 0;
out:
    if (qp)
        ibv_destroy_qp(qp);
    if (cq)
        ibv_destroy_cq(cq);
    if (pd)
        ibv_dealloc_pd(pd);
    if (ctx)
        ibv_close_device(ctx);
    ibv_free_device_list(list);
    return rc;
}
