/* The allocator: counts the bytes Lua uses and enforces the memory limit. */

static void *lc_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lc_runtime *rt = (lc_runtime *)ud;
    void *p;
    if (ptr == NULL)
        osize = 0;            /* Lua 5.2+ passes a type tag here */
    if (nsize == 0) {
        free(ptr);
        rt->used -= osize;
        return NULL;
    }
    /* Growing past the limit fails, which Lua turns into a memory error.
       Shrinking always succeeds (Lua 5.1 and 5.2 rely on that). */
    if (rt->limit && nsize > osize && rt->used + (nsize - osize) > rt->limit && !rt->grace) {
        rt->refused = 1;
        return NULL;
    }
    p = realloc(ptr, nsize);
    if (p == NULL && nsize <= osize)
        return ptr;
    if (p != NULL)
        rt->used += nsize - osize;
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
