/* The allocator: counts the bytes Lua uses and enforces the memory limit. */

#ifdef LC_LJ_ALLOC
/* On LuaJIT the blocks come from LuaJIT's own allocator, as with
   luaL_newstate (and in lupa): much faster than malloc for Lua's many small
   blocks, and it gives the memory of a closed runtime back to the system.
   One heap per runtime.  The heap of the last small runtime freed (at most
   LC_SPARE_PEAK bytes used) is kept for the next one, whose first pages are
   then there already: a new heap's page faults cost as much as the rest of
   making a runtime.  (A bigger one is not kept: a heap reused keeps some of
   what it grew to.) */
#define LC_SPARE_PEAK (1 << 20)
static pthread_mutex_t lc_spare_lock = PTHREAD_MUTEX_INITIALIZER;
static void *lc_spare_heap;

static int lc_heap_open(lc_runtime *rt)
{
    if (!lj_prng_seed_secure(&rt->prng))
        return -1;
    pthread_mutex_lock(&lc_spare_lock);
    rt->heap = lc_spare_heap;
    lc_spare_heap = NULL;
    pthread_mutex_unlock(&lc_spare_lock);
    if (rt->heap != NULL)
        lj_alloc_setprng(rt->heap, &rt->prng);
    else
        rt->heap = lj_alloc_create(&rt->prng);
    return rt->heap != NULL ? 0 : -1;
}

/* Only once every block of the heap is free again (lua_close). */
static void lc_heap_close(lc_runtime *rt)
{
    void *old;
    if (rt->heap == NULL)
        return;
    if (rt->peak > LC_SPARE_PEAK) {
        old = rt->heap;
    } else {
        pthread_mutex_lock(&lc_spare_lock);
        old = lc_spare_heap;
        lc_spare_heap = rt->heap;
        pthread_mutex_unlock(&lc_spare_lock);
    }
    rt->heap = NULL;
    if (old != NULL)
        lj_alloc_destroy(old);
}

#define LC_FREE(rt, p, osize) lj_alloc_f((rt)->heap, (p), (osize), 0)
#define LC_REALLOC(rt, p, osize, nsize) lj_alloc_f((rt)->heap, (p), (osize), (nsize))
#else
static int lc_heap_open(lc_runtime *rt) { (void)rt; return 0; }
static void lc_heap_close(lc_runtime *rt) { (void)rt; }
#define LC_FREE(rt, p, osize) free(p)
#define LC_REALLOC(rt, p, osize, nsize) realloc((p), (nsize))
#endif


static void *lc_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lc_runtime *rt = (lc_runtime *)ud;
    void *p;
    if (ptr == NULL)
        osize = 0;            /* Lua 5.2+ passes a type tag here */
    if (nsize == 0) {
        LC_FREE(rt, ptr, osize);
        rt->used -= osize;
        return NULL;
    }
    /* Growing past the limit fails, which Lua turns into a memory error.
       Shrinking always succeeds (Lua 5.1 and 5.2 rely on that). */
    if (rt->limit && nsize > osize && rt->used + (nsize - osize) > rt->limit && !rt->grace) {
        rt->refused = 1;
        return NULL;
    }
    p = LC_REALLOC(rt, ptr, osize, nsize);
    if (p == NULL && nsize <= osize)
        return ptr;
    if (p != NULL) {
        rt->used += nsize - osize;
        if (rt->used > rt->peak)
            rt->peak = rt->used;
    }
    return p;
}

long long lc_memory_used(lc_runtime *rt, int total)
{
    size_t used = rt->used;
    if (total)
        return (long long)used;
    return used > rt->base ? (long long)(used - rt->base) : 0;
}

long long lc_memory_limit(lc_runtime *rt, int total)
{
    if (!rt->limit)
        return -1;
    if (total)
        return (long long)rt->limit;
    return rt->limit > rt->base ? (long long)(rt->limit - rt->base) : 0;
}

void lc_set_memory_limit(lc_runtime *rt, long long limit, int total)
{
    if (limit <= 0)
        rt->limit = 0;
    else if (total)
        rt->limit = (size_t)limit;
    else
        rt->limit = rt->base + (size_t)limit;
}
