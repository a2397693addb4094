/* Converting values between the Lua stack and lc_val arrays. */

typedef struct lc_pyud {       /* the payload of a Python-object userdata */
    long long h;               /* handle of the Python object; 0 once released */
} lc_pyud;

/* Per-thread result buffers: results are copied here so that they stay valid
   after the runtime lock is released, until this thread's next entry point. */
#if defined(__GLIBC__)
#define LC_TLS static __thread __attribute__((tls_model("initial-exec")))
#else   /* musl refuses to load a module with initial-exec TLS (dlopen fails) */
#define LC_TLS static __thread
#endif
LC_TLS lc_val *tls_vals;
LC_TLS int tls_vals_cap;
LC_TLS int tls_nvals;
LC_TLS char *tls_str;
LC_TLS size_t tls_str_cap;
LC_TLS size_t tls_str_len;      /* bytes of tls_str the last results use */
LC_TLS lc_val *tls_out;         /* lc_thread_out(), freed when the thread ends */

static pthread_key_t lc_out_key;
static pthread_once_t lc_out_once = PTHREAD_ONCE_INIT;

static void lc_make_out_key(void)
{
    pthread_key_create(&lc_out_key, free);
}

lc_val *lc_thread_out(void)
{
    if (tls_out == NULL) {
        pthread_once(&lc_out_once, lc_make_out_key);
        /* the pack buffer (lc_thread_pack) right after the LC_NOUT values */
        tls_out = (lc_val *)calloc(1, sizeof(lc_val) * LC_NOUT + LC_PACK_BYTES);
        if (tls_out == NULL)
            abort();          /* (as lc_copy_strings: 6 KiB per thread) */
        pthread_setspecific(lc_out_key, tls_out);
    }
    return tls_out;
}

char *lc_thread_pack(void)
{
    return (char *)(lc_thread_out() + LC_NOUT);
}

/* Whether float d may be packed for Python as it is: on Lua 5.1 and LuaJIT
   a whole one beyond 2^53 (or NaN) is left to _from_val, which decides
   what it becomes. */
static int lc_float_packs(double d)
{
#if LC_HAS_INTEGERS
    (void)d;
    return 1;
#else
    return d > -9007199254740992.0 && d < 9007199254740992.0;
#endif
}

/* Writes vals[0..n) into this thread's pack buffer (see lc_api.h). */
int lc_pack_results = 0;

static void lc_pack(const lc_val *vals, int n)
{
    char *p = lc_thread_pack();
    size_t size = 1 + (size_t)n, pos;
    int k;
    p[0] = 0;                                  /* not packed */
    if (n > LC_NOUT)
        return;
    for (k = 0; k < n; k++) {
        switch (vals[k].tag) {
        case LC_NIL:
        case LC_BOOL:
            size += 1;
            break;
        case LC_FLOAT:
            if (!lc_float_packs(vals[k].d))
                return;
            size += 8;
            break;
        case LC_STR:
            size += 8 + (size_t)vals[k].i;
            break;
        case LC_INT:
        case LC_REF:
            size += 8;
            break;
        default:                               /* LC_PYOBJ, pinned: Python reads the lc_val */
            return;
        }
    }
    if (size > LC_PACK_BYTES)
        return;
    pos = 1 + (size_t)n;
    for (k = 0; k < n; k++) {
        const lc_val *v = &vals[k];
        long long field;
        p[1 + k] = (char)v->tag;
        switch (v->tag) {
        case LC_NIL:
            p[pos++] = 0;
            continue;
        case LC_BOOL:
            p[pos++] = (char)(v->i != 0);
            continue;
        case LC_FLOAT:
            memcpy(p + pos, &v->d, 8);
            pos += 8;
            continue;
        case LC_REF:
            field = v->i << 4 | v->aux;
            break;
        default:                               /* LC_INT, LC_STR (its length) */
            field = v->i;
        }
        memcpy(p + pos, &field, 8);
        pos += 8;
    }
    for (k = 0; k < n; k++) {
        if (vals[k].tag == LC_STR) {
            memcpy(p + pos, vals[k].s, (size_t)vals[k].i);
            pos += (size_t)vals[k].i;
        }
    }
    p[0] = (char)n;                            /* (n <= LC_NOUT < 128) */
}

/* r (a count of results in out, or a status) as a packed result. */
#define LC_PACK(x, kind) ((long long)((unsigned long long)(x) << 3) | (kind))
#define LC_PACK_MAX (1LL << 60)
#define LC_PACKS_INT(i) ((i) >= -LC_PACK_MAX && (i) < LC_PACK_MAX)
static long long lc_packed(int r, const lc_val *out)
{
    if (r == 1) {
        switch (out->tag) {
        case LC_NIL:
            return LC_P_NIL;
        case LC_BOOL:
            return LC_PACK(out->i != 0, LC_P_BOOL);
        case LC_INT:
            if (LC_PACKS_INT(out->i))
                return LC_PACK(out->i, LC_P_INT);
            break;
        case LC_REF:
            return LC_PACK(out->i << 4 | out->aux, LC_P_REF);
        case LC_STR:
            if (lc_pack_results && out->i <= LC_PACK_BYTES) {
                memcpy(lc_thread_pack(), out->s, (size_t)out->i);
                return LC_PACK(out->i, LC_P_STR);
            }
            break;
        case LC_FLOAT:
            if (lc_pack_results && lc_float_packs(out->d)) {
                memcpy(lc_thread_pack(), &out->d, sizeof(double));
                return LC_P_FLOAT;
            }
            break;
        }
    } else if (r == 0) {
        return LC_P_NIL;
    } else if (r < 0) {
        return LC_PACK(r, LC_P_ERR);
    }
    return LC_PACK(r, LC_P_OUT);
}

static void lc_pushhandle(lua_State *L, long long h)
{
#if LC_HAS_INTEGERS
    lua_pushinteger(L, (lua_Integer)h);
#else
    lua_pushnumber(L, (lua_Number)h);   /* handles are < 2^53 */
#endif
}

/* The Python-object payload of the value at idx, or NULL. */
static lc_pyud *lc_topyud(lc_runtime *rt, lua_State *L, int idx)
{
    lc_pyud *ud = (lc_pyud *)lua_touserdata(L, idx);
    int ours;
    if (ud == NULL || lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx))
        return NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->mt_ref);
    ours = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return ours ? ud : NULL;
}

static int lc_callback(lua_State *L);          /* lc_pyobject.c */

/* python.as_function(obj) is a closure of lc_callback over obj (upvalue 3)
   that calls it: back in Python it is obj again, as in lupa. */
static int lc_as_function_handle(lc_runtime *rt, lua_State *L, int idx, long long *h)
{
    lc_pyud *ud = NULL;
    if (lua_tocfunction(L, idx) != lc_callback || lua_getupvalue(L, idx, 2) == NULL)
        return 0;
    if (lua_tointeger(L, -1) == LC_OP_CALL && lua_getupvalue(L, idx, 3) != NULL) {
        ud = lc_topyud(rt, L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (ud == NULL || ud->h == 0)
        return 0;
    *h = ud->h;
    return 1;
}

#if !LC_HAS_INTEGERS
/* Lua 5.1, LuaJIT: whether the number d is whole and within 2^53, which
   Python gets as an int (_convert.py); *i is that int then. */
static int lc_whole_int(double d, long long *i)
{
    if (d >= -9007199254740991.0 && d <= 9007199254740991.0 && d == (double)(long long)d) {
        *i = (long long)d;
        return 1;
    }
    return 0;
}
#endif

static void lc_to_val(lc_runtime *rt, lua_State *L, int idx, lc_val *v)
{
    int t = lua_type(L, idx);
    size_t len;
    v->aux = t;
    switch (t) {
    case LUA_TNIL:
        v->tag = LC_NIL;
        return;
    case LUA_TBOOLEAN:
        v->tag = LC_BOOL;
        v->i = lua_toboolean(L, idx);
        return;
    case LUA_TNUMBER:
#if LC_HAS_INTEGERS
        if (lua_isinteger(L, idx)) {
            v->tag = LC_INT;
            v->i = (long long)lua_tointeger(L, idx);
            return;
        }
#endif
        v->tag = LC_FLOAT;
        v->d = (double)lua_tonumber(L, idx);
#if !LC_HAS_INTEGERS
        /* whole numbers within 2^53 come as ints already, so that bulk
           results of them need no work in Python (the rest is left to it) */
        if (lc_whole_int(v->d, &v->i))
            v->tag = LC_INT;
#endif
        return;
    case LUA_TSTRING:
        v->tag = LC_STR;
        v->s = lua_tolstring(L, idx, &len);
        v->i = (long long)len;
        return;
    case LUA_TUSERDATA: {
        lc_pyud *ud = lc_topyud(rt, L, idx);
        if (ud != NULL && ud->h != 0) {
            v->tag = LC_PYOBJ;
            v->i = ud->h;
            return;
        }
        break;
    }
    case LUA_TFUNCTION:
        if (lc_as_function_handle(rt, L, idx, &v->i)) {
            v->tag = LC_PYOBJ;
            return;
        }
        break;
    }
    /* tables, functions, threads and foreign userdata: a registry reference */
    lua_pushvalue(L, idx);
    v->tag = LC_REF;
    v->i = luaL_ref(L, LUA_REGISTRYINDEX);
    rt->serial++;
}

/* Pushes the userdata of Python handle h: the one already in Lua, if any, so
   that one Python object is one userdata. */
static void lc_push_pyobj(lc_runtime *rt, lua_State *L, long long h)
{
    lc_pyud *ud;
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->cache_ref);
    lc_pushhandle(L, h);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1)) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    ud = (lc_pyud *)lc_newuserdata(L, sizeof(lc_pyud));
    ud->h = 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->mt_ref);
    lua_setmetatable(L, -2);
    lc_counts_incr(&rt->counts, h);   /* the userdata's own reference */
    ud->h = h;
    rt->serial++;
    lc_pushhandle(L, h);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);                /* cache[h] = ud */
    lua_remove(L, -2);
}

static void lc_push_int(lua_State *L, long long i)
{
#if LC_HAS_INTEGERS
    lua_pushinteger(L, (lua_Integer)i);
#else
    lua_pushnumber(L, (lua_Number)i);
#endif
}

static void lc_push_val(lc_runtime *rt, lua_State *L, lc_val *v)
{
    switch (v->tag) {
    case LC_BOOL:
        lua_pushboolean(L, (int)v->i);
        break;
    case LC_INT:
        lc_push_int(L, v->i);
        break;
    case LC_FLOAT:
        lua_pushnumber(L, (lua_Number)v->d);
        break;
    case LC_STR:
        lua_pushlstring(L, v->s, (size_t)v->i);
        break;
    case LC_REF:
        lua_rawgeti(L, LUA_REGISTRYINDEX, (int)v->i);
        break;
    case LC_PYOBJ:
        lc_push_pyobj(rt, L, v->i);
        break;
    case LC_NONE:
        lua_rawgeti(L, LUA_REGISTRYINDEX, rt->none_ref);
        break;
    default:
        lua_pushnil(L);
    }
}

/* Pins (delta = +1) or unpins (-1) the Python handles among vals.  Pinning
   before pushing keeps a handle alive while a garbage collection step that the
   pushing may trigger finalizes an older userdata of the same object. */
static void lc_pin(lc_runtime *rt, lc_val *vals, int n, int delta)
{
    int k;
    for (k = 0; k < n; k++) {
        if (vals[k].tag != LC_PYOBJ)
            continue;
        if (delta > 0)
            lc_counts_incr(&rt->counts, vals[k].i);
        else if (lc_counts_decr(&rt->counts, vals[k].i) == 0)
            lc_release_handle(rt, vals[k].i);
    }
}

static void lc_push_vals(lc_runtime *rt, lua_State *L, lc_val *vals, int n)
{
    int k;
    for (k = 0; k < n; k++)
        lc_push_val(rt, L, &vals[k]);
}

/* Copies the strings among vals into this thread's buffer. */
static void lc_copy_strings(lc_val *vals, int n)
{
    size_t total = 0, pos = 0;
    int k;
    for (k = 0; k < n; k++)
        if (vals[k].tag == LC_STR)
            total += (size_t)vals[k].i + 1;
    tls_str_len = total;
    if (total == 0)
        return;
    if (total > tls_str_cap || (tls_str_cap > (1u << 20) && total < (1u << 16))) {
        char *p = (char *)realloc(tls_str, total ? total : 1);
        if (p == NULL)
            abort();
        tls_str = p;
        tls_str_cap = total ? total : 1;
    }
    for (k = 0; k < n; k++) {
        if (vals[k].tag == LC_STR) {
            memcpy(tls_str + pos, vals[k].s, (size_t)vals[k].i);
            tls_str[pos + (size_t)vals[k].i] = '\0';
            vals[k].s = tls_str + pos;
            pos += (size_t)vals[k].i + 1;
        }
    }
}

/* Makes room for n results in this thread's buffer; -1 if out of memory. */
static int lc_reserve_results(int n)
{
    lc_val *p = (lc_val *)realloc(tls_vals, sizeof(lc_val) * (size_t)n);
    if (p == NULL)
        return -1;
    tls_vals = p;
    tls_vals_cap = n;
    return 0;
}

/* Long strings (LC_LONG_STRING bytes or more) among vals become Python
   objects here, made by Python (LC_OP_STRING) straight from Lua's memory
   while the strings are still on the stack: one copy fewer than going
   through this thread's buffer.  A taken one is an LC_TAKEN: Python holds
   it until it reads the results, so it needs no pin in C (nor the unpin
   and release that a pinned LC_PYOBJ costs Python afterwards).  Python may
   decline one (not decodable): it is copied as usual.
   The callbacks may run Python code that calls Lua in this thread (a
   finalizer), which reuses the thread's buffers: so the work is done on a
   private copy of vals, put back afterwards. */
int lc_long_strings_to_python = 0;

static void lc_take_long_strings(lc_runtime *rt, int n)
{
    lc_val *vals, taken;
    int k;
    if (!lc_long_strings_to_python)
        return;
    for (k = 0; k < n; k++)
        if (tls_vals[k].tag == LC_STR && tls_vals[k].i >= LC_LONG_STRING)
            break;
    if (k == n || (vals = (lc_val *)malloc(sizeof(lc_val) * (size_t)n)) == NULL)
        return;                       /* (no memory for the copy: copied as usual) */
    memcpy(vals, tls_vals, sizeof(lc_val) * (size_t)n);
    for (; k < n; k++) {
        if (vals[k].tag != LC_STR || vals[k].i < LC_LONG_STRING)
            continue;
        taken.tag = LC_NIL;
        if (lc_py_dispatch(rt->rid, LC_OP_STRING, &vals[k], 1, &taken, 1) == 1
                && taken.tag == LC_TAKEN)
            vals[k] = taken;
    }
    memcpy(tls_vals, vals, sizeof(lc_val) * (size_t)n);   /* (never shrunk: room for n) */
    free(vals);
}

/* Converts n stack values from `first` into this thread's result buffer and
   copies up to nout of them into out.  Returns n. */
static int lc_results(lc_runtime *rt, lua_State *L, int first, int n, lc_val *out, int nout)
{
    int k;
    /* converting a value uses two slots above the top (lc_topyud); after a
       call with many results there may be none left */
    luaL_checkstack(L, 4, "too many results");
    if (n > tls_vals_cap && lc_reserve_results(n) != 0)
        luaL_error(L, "not enough memory for %d results", n);
    for (k = 0; k < n; k++)
        lc_to_val(rt, L, first + k, &tls_vals[k]);
    lc_pin(rt, tls_vals, n, +1);      /* until Python calls lc_unpin */
    lc_take_long_strings(rt, n);
    tls_nvals = n;
    lc_copy_strings(tls_vals, n);
    if (lc_pack_results && n >= 2)
        lc_pack(tls_vals, n);
    memcpy(out, tls_vals, sizeof(lc_val) * (size_t)(n < nout ? n : nout));
    return n;
}

const char *lc_result_strings(size_t *len)
{
    *len = tls_str_len;
    return tls_str;
}

int lc_int_column(const lc_val *vals, int n, long long *ints)
{
    int k;
    for (k = 0; k < n; k++) {
        if (vals[k].tag != LC_INT)
            return 0;
        ints[k] = vals[k].i;
    }
    return 1;
}

int lc_fetch(lc_val *out, int n)
{
    if (n > tls_nvals)
        n = tls_nvals;
    memcpy(out, tls_vals, sizeof(lc_val) * (size_t)n);
    return n;
}

void lc_unpin(lc_runtime *rt, long long h)
{
    pthread_mutex_lock(&rt->lock);
    rt->held++;
    if (!rt->closed && lc_counts_decr(&rt->counts, h) == 0)
        lc_release_handle(rt, h);
    rt->held--;
    pthread_mutex_unlock(&rt->lock);
}

/* Pins (delta 1) or unpins (-1) the Python objects of n handles: Python
   pins the objects it registers for an entry until the entry has pushed
   them, so that Lua, in another thread, cannot release them in between.
   The lock is held only meanwhile: an unpin that Python fails to make (at
   its stack limit) leaves the objects alive, never the lock taken. */
void lc_pin_handles(lc_runtime *rt, const long long *handles, int n, int delta)
{
    int k;
    pthread_mutex_lock(&rt->lock);
    rt->held++;
    for (k = 0; k < n && !rt->closed; k++) {
        if (delta > 0)
            lc_counts_incr(&rt->counts, handles[k]);
        else if (lc_counts_decr(&rt->counts, handles[k]) == 0)
            lc_release_handle(rt, handles[k]);
    }
    rt->held--;
    pthread_mutex_unlock(&rt->lock);
}

/* Releases the n results an entry point left in this thread's buffer
   (pinned Python objects, registry references) when they will not be
   handed to Python after all. */
static void lc_drop_results(lc_runtime *rt, int n)
{
    int k;
    if (n > tls_nvals)
        n = tls_nvals;
    lc_pin(rt, tls_vals, n, -1);
    for (k = 0; k < n; k++)
        if (tls_vals[k].tag == LC_REF)
            lc_unref(rt, (int)tls_vals[k].i);
    tls_nvals = 0;
}
