/* The benchmarks' floor functions (lc_floor.h): they do nothing. */

static long long lc_py_floor_call1(int rid, long long handle, long long arg);
static long long lc_py_floor_index(int rid, long long handle, const char *key, size_t len,
                                   int name);

long long lc_floor_call_i(lc_runtime *rt, int ref, long long i)
{
    (void)rt;
    (void)ref;
    return (long long)((unsigned long long)i << 3);
}

long long lc_floor_call(lc_runtime *rt, int ref, lc_val *args, int nargs)
{
    (void)rt;
    (void)ref;
    (void)args;
    return (long long)nargs << 3;
}

long long lc_floor_call_p(lc_runtime *rt, int ref, int n, const char *sig, const char *data,
                          const char *strs)
{
    (void)rt;
    (void)ref;
    (void)sig;
    (void)data;
    (void)strs;
    return (long long)n << 3;
}

long long lc_floor_getitem_s(lc_runtime *rt, int ref, const char *key, size_t len)
{
    (void)rt;
    (void)ref;
    (void)key;
    return (long long)len << 3;
}

int lc_floor_setitem_i(lc_runtime *rt, int ref, long long key, long long value)
{
    (void)rt;
    (void)ref;
    (void)key;
    (void)value;
    return 0;
}

void lc_floor_call1s(int n, long long handle)
{
    int k;
    for (k = 1; k <= n; k++)
        lc_py_floor_call1(0, handle, (long long)k << 3);
}

void lc_floor_indexes(int n, long long handle, const char *key, size_t len, int name)
{
    int k;
    for (k = 0; k < n; k++)
        lc_py_floor_index(0, handle, key, len, name);
}

const char *lc_floor_copy(const char *s, size_t n)
{
    static char *last;
    free(last);
    last = (char *)malloc(n ? n : 1);
    if (last != NULL)
        memcpy(last, s, n);
    return last;
}
