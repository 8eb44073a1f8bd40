/* A second preloaded library that wraps getpid() the usual way, dlsym(RTLD_NEXT, ...): libshift's dlsym must
 * forward RTLD_NEXT with the caller's identity (a tail call), or this lookup returns the shim itself and the
 * wrapper recurses until the stack overflows. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/types.h>

pid_t getpid(void)
{
    static pid_t (*next)(void);
    if (!next)
        next = (pid_t(*)(void))dlsym(RTLD_NEXT, "getpid");
    return next() + 0;
}
