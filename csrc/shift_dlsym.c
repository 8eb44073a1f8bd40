/* shift_dlsym.c -- SHIFT for programs that look the verbs up themselves: dlopen + dlsym / dlvsym (NCCL's ibvwrap).
 *
 * Such a program calls dlsym(handle_of_libibverbs, "ibv_open_device") and gets libibverbs' own function:
 * LD_PRELOAD interposition only changes what the *global* lookup finds, not a lookup in one library's scope.
 * Two ways out were considered (csrc/README.md, "dlopen and dlsym"):
 *  (a) ship a thin libibverbs.so.1 wrapper selected with LD_LIBRARY_PATH (SHIFTLib's deployment: it *is* a
 *      patched rdma-core). It would have to re-export every libibverbs symbol with its exact version,
 *      including IBVERBS_PRIVATE_<n> which the providers link against, so it would be tied to one rdma-core
 *      build and load a second copy of libibverbs beside the real one;
 *  (b) interpose dlsym and dlvsym: look the name up as asked, and when the answer is one of the libibverbs
 *      functions libshift wraps, return libshift's wrapper instead. Works with any rdma-core, needs nothing
 *      but the same LD_PRELOAD, and maps by *address*, so it only ever replaces exactly the function libshift
 *      itself calls (a lookup of an old compat version, e.g. ibv_get_device_list@IBVERBS_1.0, is untouched).
 * libshift does (b). The C library's own dlsym/dlvsym are found through its dynamic symbol table (GNU hash),
 * since any dlsym libshift called by name would be this one. Lookups with RTLD_NEXT / RTLD_DEFAULT are
 * forwarded as tail calls: glibc identifies the caller from the return address, and a tail call keeps the
 * application's (tests/interposer check the jump and an RTLD_NEXT chain of another preload).
 */
#include "shift_internal.h"

#include <dlfcn.h>
#include <elf.h>
#include <gnu/libc-version.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*dlsym_fn)(void *, const char *);
typedef void *(*dlvsym_fn)(void *, const char *, const char *);

static dlsym_fn libc_dlsym;
static dlvsym_fn libc_dlvsym;

/* ---------------------------------------------------------------- the C library's dlsym, by ELF lookup */

/* these run inside the sanitizers' own start-up (they resolve their interceptors with dlsym) */
#define NOSAN __attribute__((no_sanitize_thread, no_sanitize_address))

/* not strcmp: a sanitizer's strcmp interceptor is not set up yet when it resolves its interceptors */
NOSAN static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

NOSAN static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

NOSAN static void *gnu_lookup(ElfW(Addr) base, const ElfW(Dyn) *dyn, const char *name)
{
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const uint32_t *gh = NULL;
    const ElfW(Half) *versym = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        ElfW(Addr) p = dyn->d_un.d_ptr < base ? base + dyn->d_un.d_ptr : dyn->d_un.d_ptr; /* relocated or not */
        if (dyn->d_tag == DT_SYMTAB)
            symtab = (const ElfW(Sym) *)p;
        else if (dyn->d_tag == DT_STRTAB)
            strtab = (const char *)p;
        else if (dyn->d_tag == DT_GNU_HASH)
            gh = (const uint32_t *)p;
        else if (dyn->d_tag == DT_VERSYM)
            versym = (const ElfW(Half) *)p;
    }
    if (!symtab || !strtab || !gh)
        return NULL;
    uint32_t nbuckets = gh[0], symoffset = gh[1], bloom_size = gh[2], h = gnu_hash(name);
    const ElfW(Addr) *bloom = (const ElfW(Addr) *)&gh[4];
    const uint32_t *buckets = (const uint32_t *)&bloom[bloom_size], *chain = &buckets[nbuckets];
    uint32_t i = buckets[h % nbuckets];
    if (i < symoffset)
        return NULL;
    for (;; i++) {
        uint32_t h2 = chain[i - symoffset];
        if ((h2 | 1) == (h | 1) && same(strtab + symtab[i].st_name, name) && symtab[i].st_value &&
            (!versym || !(versym[i] & 0x8000))) /* the default (non-hidden) version */
            return (void *)(base + symtab[i].st_value);
        if (h2 & 1)
            return NULL;
    }
}

/* libc's load base from a function no sanitizer intercepts, then its program headers -> PT_DYNAMIC (no
 * dl_iterate_phdr: ThreadSanitizer intercepts it and resolves its interceptors through this very dlsym) */
NOSAN static void resolve_libc(void)
{
    Dl_info info;
    const ElfW(Ehdr) *eh;
    const ElfW(Phdr) *ph;
    ElfW(Addr) base;
    void *found[2] = {NULL, NULL};
    if (dladdr((void *)gnu_get_libc_version, &info) && info.dli_fbase) {
        eh = info.dli_fbase;
        ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
        base = (ElfW(Addr))info.dli_fbase;
        for (int i = 0; i < eh->e_phnum; i++)
            if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
                base -= ph[i].p_vaddr; /* the load bias */
                break;
            }
        for (int i = 0; i < eh->e_phnum; i++)
            if (ph[i].p_type == PT_DYNAMIC) {
                const ElfW(Dyn) *dyn = (const ElfW(Dyn) *)(base + ph[i].p_vaddr);
                found[0] = gnu_lookup(base, dyn, "dlsym");
                found[1] = gnu_lookup(base, dyn, "dlvsym");
            }
    }
    if (!found[0] || !found[1]) {
        fputs("libshift: cannot find dlsym/dlvsym in the C library (glibc expected); aborting\n", stderr);
        abort();
    }
    *(void **)&libc_dlsym = found[0];
    *(void **)&libc_dlvsym = found[1];
}

NOSAN void *shift_libc_dlsym(void *handle, const char *name)
{
    if (__builtin_expect(!libc_dlsym, 0))
        resolve_libc();
    return libc_dlsym(handle, name);
}

/* ---------------------------------------------------------------- the map: real libibverbs -> libshift */

#undef ibv_reg_mr
#undef ibv_reg_mr_iova

struct sym_map {
    void *real, *mine;
};
static struct sym_map map[32];
static int nmap;

void shift_dlsym_map_init(void)
{
#define M(field, fn)                                                                                                   \
    do {                                                                                                               \
        if (shift_real.field && nmap < (int)(sizeof(map) / sizeof(map[0])))                                          \
            map[nmap++] = (struct sym_map){(void *)shift_real.field, (void *)fn};                                     \
    } while (0)
    M(get_device_list, ibv_get_device_list);
    M(open_device, ibv_open_device);
    M(close_device, ibv_close_device);
    M(alloc_pd, ibv_alloc_pd);
    M(dealloc_pd, ibv_dealloc_pd);
    M(reg_mr, ibv_reg_mr);
    M(reg_mr_iova, ibv_reg_mr_iova);
    M(reg_mr_iova2, ibv_reg_mr_iova2);
    M(reg_dmabuf_mr, ibv_reg_dmabuf_mr);
    M(dereg_mr, ibv_dereg_mr);
    M(create_cq, ibv_create_cq);
    M(destroy_cq, ibv_destroy_cq);
    M(create_qp, ibv_create_qp);
    M(modify_qp, ibv_modify_qp);
    M(destroy_qp, ibv_destroy_qp);
    M(get_async_event, ibv_get_async_event);
    M(get_cq_event, ibv_get_cq_event);
    M(ack_cq_events, ibv_ack_cq_events);
#undef M
}

NOSAN static void *mapped(void *p)
{
    if (!p)
        return p;
    for (int i = 0; i < nmap; i++)
        if (map[i].real == p)
            return map[i].mine;
    return p;
}

/* ---------------------------------------------------------------- the interposed lookups */

NOSAN __attribute__((visibility("default"), optimize("optimize-sibling-calls"))) void *dlsym(void *handle,
                                                                                        const char *name)
{
    if (__builtin_expect(!libc_dlsym, 0))
        resolve_libc();
    if (handle == RTLD_NEXT || handle == RTLD_DEFAULT)
        return libc_dlsym(handle, name); /* a tail call: the caller's identity is the application's */
    shift_ready();
    return mapped(libc_dlsym(handle, name));
}

NOSAN __attribute__((visibility("default"), optimize("optimize-sibling-calls"))) void *dlvsym(void *handle,
                                                                                         const char *name,
                                                                                         const char *version)
{
    if (__builtin_expect(!libc_dlvsym, 0))
        resolve_libc();
    if (handle == RTLD_NEXT || handle == RTLD_DEFAULT)
        return libc_dlvsym(handle, name, version);
    shift_ready();
    return mapped(libc_dlvsym(handle, name, version));
}
