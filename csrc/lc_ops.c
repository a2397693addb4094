/* The entry points: each one fills an lc_ctx and runs its body function
   protected through lc_op (see lc_runtime.c). */

static void lc_ctx_init(lc_ctx *c, lc_fn fn, int ref, lc_val *out, int nout)
{
    memset(c, 0, sizeof *c);
    c->fn = fn;
    c->ref = ref;
    c->out = out;
    c->nout = nout;
}

/* ---- code ------------------------------------------------------------------ */
static int lc_loadbuffer(lua_State *L, const char *code, size_t len,
                         const char *name, const char *mode)
{
#if LUA_VERSION_NUM >= 502 || defined(LC_LUAJIT)
    return luaL_loadbufferx(L, code, len, name, mode);
#else
    if (mode != NULL) {       /* Lua 5.1 has no load modes: check by hand */
        int binary = len > 0 && code[0] == LUA_SIGNATURE[0];
        if (!strchr(mode, binary ? 'b' : 't')) {
            lua_pushfstring(L, "attempt to load a %s chunk (mode is '%s')",
                            binary ? "binary" : "text", mode);
            return LUA_ERRSYNTAX;
        }
    }
    return luaL_loadbuffer(L, code, len, name);
#endif
}

static int fn_load(lua_State *L, lc_ctx *c)
{
    int status = lc_loadbuffer(L, c->code, c->len, c->name, c->mode);
    if (status != LUA_OK) {   /* report, not raise: keeps the status */
        c->result = status == LUA_ERRMEM ? LC_ERR_MEMORY : LC_ERR_SYNTAX;
        lc_to_val(c->rt, L, -1, &c->out[0]);
        c->out[1].tag = LC_NIL;
        lc_copy_strings(c->out, 2);
        return 0;
    }
    c->result = lc_results(c->rt, L, lua_gettop(L), 1, c->out, c->nout);
    return 0;
}

int lc_load(lc_runtime *rt, const char *code, size_t len, const char *name,
            const char *mode, lc_val *out)
{
    lc_ctx c;
    lc_ctx_init(&c, fn_load, 0, out, 1);
    c.code = code;
    c.len = len;
    c.name = name;
    c.mode = mode;
    return lc_op(rt, &c, NULL, 0);
}

/* ---- calls ------------------------------------------------------------------ */
/* Replaces the Lua function on top of the stack, the main function of a
   chunk lc_load made, by a new closure of the same prototype, set up the way
   lua_load sets up a chunk it has compiled (fresh upvalues, the first one the
   global table; Lua 5.1 and LuaJIT: the thread's globals as environment):
   what loading the same code again would give, without compiling it. */
static void lc_fresh_chunk(lua_State *L)
{
#if defined(LC_SYSTEM_LUA)
    (void)L;      /* Python caches no chunks then: each one is fresh from lua_load */
#elif defined(LC_LUAJIT)
    GCproto *pt = funcproto(funcV(L->top - 1));
    GCfunc *fn = lj_func_newL_empty(L, pt, tabref(L->env));
    setfuncV(L, L->top - 1, fn);
#elif LUA_VERSION_NUM == 501
    Proto *p = clvalue(L->top - 1)->l.p;
    Closure *cl = luaF_newLclosure(L, p->nups, hvalue(gt(L)));
    int i;
    cl->l.p = p;
    setclvalue(L, L->top - 1, cl);            /* anchored before more allocations */
    for (i = 0; i < p->nups; i++)
        cl->l.upvals[i] = luaF_newupval(L);
#else
#if LUA_VERSION_NUM >= 504
    StkId top = L->top.p - 1;
    Proto *p = clLvalue(s2v(top))->p;
    LClosure *cl = luaF_newLclosure(L, p->sizeupvalues);
    cl->p = p;
    setclLvalue2s(L, top, cl);                /* anchored before more allocations */
    luaF_initupvals(L, cl);
#elif LUA_VERSION_NUM == 503
    Proto *p = clLvalue(L->top - 1)->p;
    LClosure *cl = luaF_newLclosure(L, p->sizeupvalues);
    cl->p = p;
    setclLvalue(L, L->top - 1, cl);
    luaF_initupvals(L, cl);
#else
    Proto *p = clLvalue(L->top - 1)->p;
    Closure *cl = luaF_newLclosure(L, p->sizeupvalues);
    int i;
    cl->l.p = p;
    setclLvalue(L, L->top - 1, cl);
    for (i = 0; i < p->sizeupvalues; i++) {
        UpVal *up = luaF_newupval(L);
        cl->l.upvals[i] = up;
        luaC_objbarrier(L, cl, up);
    }
#endif
    if (p->sizeupvalues >= 1) {               /* as lua_load: _ENV */
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        lua_setupvalue(L, -2, 1);
    }
#endif
}

static int fn_call(lua_State *L, lc_ctx *c)
{
    if (!lua_checkstack(L, c->nargs + LUA_MINSTACK))
        luaL_error(L, "too many arguments");
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    if (c->what) {            /* lc_call_chunk */
        if (lua_type(L, -1) != LUA_TFUNCTION || lua_iscfunction(L, -1))
            luaL_error(L, "not a chunk");
        lc_fresh_chunk(L);
    }
    lc_push_vals(c->rt, L, c->args, c->nargs);
    lua_call(L, c->nargs, LUA_MULTRET);
    c->result = lc_results(c->rt, L, 1, lua_gettop(L), c->out, c->nout);
    return 0;
}

static long long lc_call_with(lc_runtime *rt, int ref, lc_val *args, int nargs, int chunk)
{
    lc_ctx c;
    lc_val *out = lc_thread_out();
    lc_ctx_init(&c, fn_call, ref, out, LC_NOUT);
    c.args = args;
    c.nargs = nargs;
    c.what = chunk;
    return lc_packed(lc_op(rt, &c, args, nargs), out);
}

long long lc_call(lc_runtime *rt, int ref, lc_val *args, int nargs)
{
    return lc_call_with(rt, ref, args, nargs, 0);
}

long long lc_call_chunk(lc_runtime *rt, int ref, lc_val *args, int nargs)
{
    return lc_call_with(rt, ref, args, nargs, 1);
}

/* An int argument as an lc_val: 0 if Lua cannot hold it exactly. */
static int lc_int_val(long long i, lc_val *v)
{
#if !LC_HAS_INTEGERS
    if (i < -9007199254740991LL || i > 9007199254740991LL)
        return 0;
#endif
    v->tag = LC_INT;
    v->i = i;
    return 1;
}

long long lc_call_i(lc_runtime *rt, int ref, long long i)
{
    lc_val v;
    if (!lc_int_val(i, &v))
        return LC_PACK(LC_ERR_RANGE, LC_P_ERR);
    return lc_call_with(rt, ref, &v, 1, 0);
}

long long lc_call_d(lc_runtime *rt, int ref, double d)
{
    lc_val v;
    v.tag = LC_FLOAT;
    v.d = d;
    return lc_call_with(rt, ref, &v, 1, 0);
}

long long lc_call_s(lc_runtime *rt, int ref, const char *s, size_t len)
{
    lc_val v;
    v.tag = LC_STR;
    v.s = s;
    v.i = (long long)len;
    return lc_call_with(rt, ref, &v, 1, 0);
}

/* Arguments packed by Python's struct module (little-endian, no padding),
   so that a call with several arguments fills no lc_val field by field:
   sig[k] says what argument k is and what it takes of `data`:
     'n' nil (1 byte, ignored)     'b' boolean (1 byte)
     'i' integer (8 bytes)         'd' float (8 bytes)
     's' string: its length (8 bytes); the strings follow one another in
         `strs`
   0 if there are too many or an integer does not fit Lua exactly (the
   entry returns LC_ERR_RANGE, and Python takes the general way). */
static int lc_unpack_args(int n, const char *sig, const char *data, const char *strs,
                          lc_val *argv)
{
    int k;
    long long i;
    if (n < 0 || n > LC_MAX_PACKED_ARGS)
        return 0;
    for (k = 0; k < n; k++) {
        lc_val *v = &argv[k];
        switch (sig[k]) {
        case 'n':
            v->tag = LC_NIL;
            data += 1;
            break;
        case 'b':
            v->tag = LC_BOOL;
            v->i = *data++ != 0;
            break;
        case 'i':
            memcpy(&i, data, 8);
            data += 8;
            if (!lc_int_val(i, v))
                return 0;
            break;
        case 'd':
            v->tag = LC_FLOAT;
            memcpy(&v->d, data, 8);
            data += 8;
            break;
        case 's':
            memcpy(&i, data, 8);
            data += 8;
            v->tag = LC_STR;
            v->s = strs;
            v->i = i;
            strs += i;
            break;
        default:
            return 0;
        }
    }
    return 1;
}

static long long lc_call_packed(lc_runtime *rt, int ref, int n, const char *sig,
                                const char *data, const char *strs, int chunk)
{
    lc_val argv[LC_MAX_PACKED_ARGS];
    if (!lc_unpack_args(n, sig, data, strs, argv))
        return LC_PACK(LC_ERR_RANGE, LC_P_ERR);
    return lc_call_with(rt, ref, argv, n, chunk);
}

long long lc_call_p(lc_runtime *rt, int ref, int n, const char *sig, const char *data,
                    const char *strs)
{
    return lc_call_packed(rt, ref, n, sig, data, strs, 0);
}

long long lc_call_chunk_p(lc_runtime *rt, int ref, int n, const char *sig, const char *data,
                          const char *strs)
{
    return lc_call_packed(rt, ref, n, sig, data, strs, 1);
}

/* ---- coroutines --------------------------------------------------------------- */
/* 0 dead, 1 not started, 2 suspended in a yield, 3 running or normal,
   4 dead of an error */
static int lc_costatus_of(lc_runtime *rt, lua_State *co);

/* A coroutine running function `ref`; given a coroutine that has not started
   yet, one more running the same function (what calling it from Python does). */
static int fn_newthread(lua_State *L, lc_ctx *c)
{
    lua_State *co;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);            /* 1 */
    if (lua_type(L, 1) == LUA_TTHREAD) {
        lua_State *old = lua_tothread(L, 1);
        if (lc_costatus_of(c->rt, old) != 1)
            luaL_error(L, "cannot start a coroutine that has already started");
        lua_pushvalue(old, 1);
        lua_xmove(old, L, 1);
        lua_replace(L, 1);
    }
    if (lua_type(L, 1) != LUA_TFUNCTION || lua_iscfunction(L, 1))
        luaL_error(L, "a coroutine needs a Lua function");
    co = lua_newthread(L);                                 /* 2 */
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    lua_replace(L, 1);
    lua_settop(L, 1);
    c->result = lc_results(c->rt, L, 1, 1, c->out, c->nout);
    return 0;
}

int lc_newthread(lc_runtime *rt, int fref, lc_val *out)
{
    lc_ctx c;
    lc_ctx_init(&c, fn_newthread, fref, out, 1);
    return lc_op(rt, &c, NULL, 0);
}

static int lc_costatus_of(lc_runtime *rt, lua_State *co)
{
    lua_Debug ar;
    int status = lua_status(co);
    if (co == rt->L)
        return 3;             /* the main thread is never resumable */
    if (status == LUA_YIELD)
        return 2;
    if (status != LUA_OK)
        return 4;             /* died of an error */
    if (lua_getstack(co, 0, &ar) > 0)
        return 3;
    return lua_gettop(co) > 0 ? 1 : 0;
}

int lc_costatus(lc_runtime *rt, int coref)
{
    int r = lc_enter(rt), status = 0;
    lua_State *co;
    if (r)
        return r;
    lua_rawgeti(rt->L, LUA_REGISTRYINDEX, coref);
    co = lua_tothread(rt->L, -1);
    if (co != NULL)
        status = lc_costatus_of(rt, co);
    lua_pop(rt->L, 1);
    return lc_leave(rt, status);
}

static int fn_resume(lua_State *L, lc_ctx *c)
{
    lua_State *co;
    int status, nres = 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    co = lua_tothread(L, -1);
    if (co == NULL)
        luaL_error(L, "not a coroutine");
    if (lc_costatus_of(c->rt, co) < 1 || lc_costatus_of(c->rt, co) > 2) {
        c->result = lc_costatus_of(c->rt, co) == 3 ? LC_ERR_RUN : LC_ERR_DEAD;
        lua_pushstring(L, c->result == LC_ERR_DEAD ? "cannot resume dead coroutine"
                                                   : "cannot resume non-suspended coroutine");
        lc_to_val(c->rt, L, -1, &c->out[0]);
        c->out[1].tag = LC_NIL;
        lc_copy_strings(c->out, 2);
        return 0;
    }
    if (!lua_checkstack(L, c->nargs + LUA_MINSTACK) || !lua_checkstack(co, c->nargs + LUA_MINSTACK))
        luaL_error(L, "too many arguments to resume");
    lc_push_vals(c->rt, L, c->args, c->nargs);
    lua_xmove(L, co, c->nargs);
    lc_hook_coroutine(c->rt, co);
#if LUA_VERSION_NUM >= 504
    status = lua_resume(co, L, c->nargs, &nres);
#elif LUA_VERSION_NUM >= 502
    status = lua_resume(co, L, c->nargs);
    nres = lua_gettop(co);
#else
    status = lua_resume(co, c->nargs);
    nres = lua_gettop(co);
#endif
    *c->cursor = status == LUA_OK;     /* finished (returned) */
    if (status == LUA_OK || status == LUA_YIELD) {
        if (!lua_checkstack(L, nres + LUA_MINSTACK))
            luaL_error(L, "too many results to resume");
        lua_xmove(co, L, nres);
        c->result = lc_results(c->rt, L, lua_gettop(L) - nres + 1, nres, c->out, c->nout);
        return 0;
    }
    /* an error inside the coroutine: its stack still shows where */
    lua_xmove(co, L, 1);
    lc_push_traceback(L, co, 0);
    lua_rawseti(L, LUA_REGISTRYINDEX, c->rt->tb_ref);
    c->result = lc_error_result(c->rt, L, status, c->out);
    return 0;
}

long long lc_resume(lc_runtime *rt, int coref, lc_val *args, int nargs)
{
    lc_ctx c;
    lc_val *out = lc_thread_out();
    int done = 0, r;
    long long p;
    lc_ctx_init(&c, fn_resume, coref, out, LC_NOUT);
    c.cursor = &done;
    c.args = args;
    c.nargs = nargs;
    r = lc_op(rt, &c, args, nargs);
    if (r == 1 && !done) {        /* the common case: one value yielded */
        p = lc_packed(r, out);
        if ((p & 7) != LC_P_OUT)
            return p;
    }
    return r < 0 ? LC_PACK(r, LC_P_ERR) : LC_PACK(r << 1 | done, LC_P_OUT);
}

long long lc_resume_p(lc_runtime *rt, int coref, int n, const char *sig, const char *data,
                      const char *strs)
{
    lc_val argv[LC_MAX_PACKED_ARGS];
    if (!lc_unpack_args(n, sig, data, strs, argv))
        return LC_PACK(LC_ERR_RANGE, LC_P_ERR);
    return lc_resume(rt, coref, argv, n);
}

long long lc_resume_i(lc_runtime *rt, int coref, long long i)
{
    lc_val v;
    if (!lc_int_val(i, &v))
        return LC_PACK(LC_ERR_RANGE, LC_P_ERR);
    return lc_resume(rt, coref, &v, 1);
}

/* ---- tables and other objects -------------------------------------------------- */
static int fn_globals(lua_State *L, lc_ctx *c)
{
    lc_pushglobaltable(L);
    /* its reference may need a bigger registry: allowed past the memory
       limit, so that the globals can be had (e.g. to free memory) after the
       limit was lowered below what is in use, as in lupa */
    c->rt->grace++;
    c->result = lc_results(c->rt, L, 1, 1, c->out, c->nout);
    c->rt->grace--;
    return 0;
}

int lc_globals(lc_runtime *rt, lc_val *out)
{
    lc_ctx c;
    int r;
    lc_ctx_init(&c, fn_globals, 0, out, 1);
    r = lc_op(rt, &c, NULL, 0);
    if (r < 0 && r != LC_ERR_CLOSED) {    /* lc_results failed (no memory at all) */
        pthread_mutex_lock(&rt->lock);
        rt->grace = 0;
        pthread_mutex_unlock(&rt->lock);
    }
    return r;
}

/* ---- raw fast paths for plain tables ------------------------------------------
   Reading a field of a table without a metatable, or overwriting a field it
   already has with a number, boolean or nil, runs no Lua code and allocates
   no Lua memory, as long as pushing the key makes no new Lua object: number
   and boolean keys, and string keys remembered from an earlier t[k] (below).
   Nothing in it can raise a Lua error, so it needs no protected call, which
   is most of the cost of a short operation.  Only outside every other call,
   on the empty main stack, which has room (a callback's frame may have none
   left).  The lc_fast_* functions return 0 when that does not hold, and the
   caller takes the protected path, which gives the same result. */
static int lc_fast_value(const lc_val *v)
{
    return v->tag == LC_INT || v->tag == LC_FLOAT || v->tag == LC_BOOL;
}

static lc_key *lc_key_slot(lc_runtime *rt, const lc_val *key, unsigned *hash)
{
    const unsigned char *s = (const unsigned char *)key->s;
    unsigned h = 2166136261u;          /* FNV-1a */
    long long k;
    for (k = 0; k < key->i; k++)
        h = (h ^ s[k]) * 16777619u;
    *hash = h;
    return &rt->keys[h % LC_KEYS];
}

/* Pushes the remembered Lua string of the string key `key`; 0 (nothing
   pushed) if it is not remembered. */
static int lc_push_known_key(lc_runtime *rt, lua_State *L, const lc_val *key)
{
    unsigned h;
    lc_key *e;
    const char *s;
    size_t len;
    if (key->i > LC_KEY_MAX)
        return 0;
    e = lc_key_slot(rt, key, &h);
    if (e->ref == 0 || e->hash != h || e->len != (int)key->i)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref);
    s = lua_tolstring(L, -1, &len);
    if ((long long)len == key->i && memcmp(s, key->s, len) == 0)
        return 1;
    lua_pop(L, 1);
    return 0;
}

/* Remembers a short string key in a protected t[k], in the slot of its hash
   (replacing what was there).  Not under a memory limit: making the
   reference could then fail the operation. */
static void lc_remember_key(lc_runtime *rt, lua_State *L, const lc_val *key)
{
    unsigned h;
    lc_key *e;
    int ref, old;
    if (key->tag != LC_STR || key->i > LC_KEY_MAX || rt->limit != 0)
        return;
    if (lc_push_known_key(rt, L, key)) {
        lua_pop(L, 1);
        return;
    }
    lua_pushlstring(L, key->s, (size_t)key->i);
    ref = luaL_ref(L, LUA_REGISTRYINDEX);
    e = lc_key_slot(rt, key, &h);      /* (after the allocations, which may run finalizers) */
    old = e->ref;
    e->hash = h;
    e->len = (int)key->i;
    e->ref = ref;
    if (old != 0)
        luaL_unref(L, LUA_REGISTRYINDEX, old);
}

/* Locks rt and pushes the plain table `ref` (lc_fast_table), then the key
   and its value in the table (lc_fast_begin); each returns 0 (unlocked,
   nothing pushed) if the fast path does not apply. */
static int lc_fast_table(lc_runtime *rt, int ref)
{
    lua_State *L = rt->L;
    pthread_mutex_lock(&rt->lock);
    if (rt->closed || rt->frozen || rt->depth != 0 || lua_gettop(L) != 0) {
        pthread_mutex_unlock(&rt->lock);
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    if (lua_type(L, -1) != LUA_TTABLE || lua_getmetatable(L, -1)) {
        lua_settop(L, 0);
        pthread_mutex_unlock(&rt->lock);
        return 0;
    }
    return 1;
}

static int lc_fast_begin(lc_runtime *rt, int ref, lc_val *key)
{
    lua_State *L = rt->L;
    if (!lc_fast_value(key) && key->tag != LC_STR)
        return 0;
    if (!lc_fast_table(rt, ref))
        return 0;
    if (key->tag == LC_STR ? !lc_push_known_key(rt, L, key) : (lc_push_val(rt, L, key), 0)) {
        lua_settop(L, 0);
        pthread_mutex_unlock(&rt->lock);
        return 0;
    }
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    return 1;
}

static void lc_fast_end(lc_runtime *rt)
{
    lua_settop(rt->L, 0);
    pthread_mutex_unlock(&rt->lock);
}

/* The fast path's value on top of the stack into *out, as lc_results would
   write it; then unlocks.  0 if it is not a nil, boolean, number or string. */
static int lc_fast_result(lc_runtime *rt, lc_val *out)
{
    lc_val *v;
    int t = lua_type(rt->L, -1);
    if ((t != LUA_TNIL && t != LUA_TBOOLEAN && t != LUA_TNUMBER && t != LUA_TSTRING)
            || (tls_vals_cap == 0 && lc_reserve_results(1) != 0)) {
        lc_fast_end(rt);
        return 0;
    }
    v = &tls_vals[0];
    lc_to_val(rt, rt->L, -1, v);      /* (these types touch neither stack nor heap) */
    tls_nvals = 1;
    lc_copy_strings(v, 1);
    *out = *v;
    lc_fast_end(rt);
    return 1;
}

static int lc_fast_getitem(lc_runtime *rt, int ref, lc_val *key, lc_val *out)
{
    return lc_fast_begin(rt, ref, key) && lc_fast_result(rt, out);
}

static int lc_fast_setitem(lc_runtime *rt, int ref, lc_val *key, lc_val *value)
{
    lua_State *L = rt->L;
    if ((!lc_fast_value(value) && value->tag != LC_NIL) || !lc_fast_begin(rt, ref, key))
        return 0;
    if (lua_isnil(L, -1)) {            /* a new key may need a bigger table */
        lc_fast_end(rt);
        return 0;
    }
    lua_pop(L, 1);
    lc_push_val(rt, L, value);
    lua_rawset(L, -3);
    lc_fast_end(rt);
    return 1;
}

static int fn_getitem(lua_State *L, lc_ctx *c)
{
    lc_val key = *c->args;        /* (c->args may be the buffer a nested call reuses) */
    lc_remember_key(c->rt, L, &key);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    lc_push_val(c->rt, L, &key);
    lua_gettable(L, -2);
    c->result = lc_results(c->rt, L, lua_gettop(L), 1, c->out, c->nout);
    return 0;
}

static long long lc_getitem_protected(lc_runtime *rt, int ref, lc_val *key, lc_val *out)
{
    lc_ctx c;
    lc_ctx_init(&c, fn_getitem, ref, out, 1);
    c.args = key;
    return lc_packed(lc_op(rt, &c, key, 1), out);
}

long long lc_getitem(lc_runtime *rt, int ref, lc_val *key)
{
    lc_val *out = lc_thread_out();
    if (lc_fast_getitem(rt, ref, key, out))
        return lc_packed(1, out);
    return lc_getitem_protected(rt, ref, key, out);
}

/* An int key that lua_rawgeti takes as it is (an int before Lua 5.3). */
#if LUA_VERSION_NUM >= 503
#define LC_RAWGETI_TAKES(k) 1
#else
#define LC_RAWGETI_TAKES(k) ((k) >= INT_MIN && (k) <= INT_MAX)
#endif

/* The value on top of the fast path's stack as lc_packed packs it, when it
   is nil, a boolean or an int of 61 bits (the commonest results, which need
   no result buffer); 0 otherwise (the caller takes the lc_val way). */
static int lc_fast_packed(lua_State *L, long long *packed)
{
    switch (lua_type(L, -1)) {
    case LUA_TNIL:
        *packed = LC_P_NIL;
        return 1;
    case LUA_TBOOLEAN:
        *packed = LC_PACK(lua_toboolean(L, -1) != 0, LC_P_BOOL);
        return 1;
#if LC_HAS_INTEGERS
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) {
            lua_Integer i = lua_tointeger(L, -1);
            if (LC_PACKS_INT(i)) {
                *packed = LC_PACK(i, LC_P_INT);
                return 1;
            }
        }
        return 0;
#else
    case LUA_TNUMBER: {           /* whole numbers within 2^53 are ints (lc_to_val) */
        long long i;
        if (lc_whole_int((double)lua_tonumber(L, -1), &i)) {
            *packed = LC_PACK(i, LC_P_INT);
            return 1;
        }
        return 0;
    }
#endif
    }
    return 0;
}

/* t[i]: on a plain table, one lua_rawgeti, and the commonest values packed
   straight into the result (this is the hottest table read). */
long long lc_getitem_i(lc_runtime *rt, int ref, long long key)
{
    lc_val v;
    long long packed;
    if (!lc_int_val(key, &v))
        return LC_PACK(LC_ERR_RANGE, LC_P_ERR);
    if (!LC_RAWGETI_TAKES(key))
        return lc_getitem(rt, ref, &v);
    if (lc_fast_table(rt, ref)) {
        lua_rawgeti(rt->L, -1, key);
        if (lc_fast_packed(rt->L, &packed)) {
            lc_fast_end(rt);
            return packed;
        }
        /* (the result buffer, a thread-local, only off the packed way) */
        if (lc_fast_result(rt, lc_thread_out()))
            return lc_packed(1, lc_thread_out());
    }
    /* (lc_getitem's fast path would find what lc_fast_table found) */
    return lc_getitem_protected(rt, ref, &v, lc_thread_out());
}

long long lc_getitem_s(lc_runtime *rt, int ref, const char *key, size_t len)
{
    lc_val v;
    v.tag = LC_STR;
    v.s = key;
    v.i = (long long)len;
    return lc_getitem(rt, ref, &v);
}

static int fn_setitem(lua_State *L, lc_ctx *c)
{
    lc_remember_key(c->rt, L, &c->args[0]);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    lc_push_val(c->rt, L, &c->args[0]);
    lc_push_val(c->rt, L, &c->args[1]);
    lua_settable(L, -3);
    c->result = 0;
    return 0;
}

static int lc_setitem_protected(lc_runtime *rt, int ref, lc_val *key, lc_val *value)
{
    lc_ctx c;
    lc_val kv[2];
    kv[0] = *key;
    kv[1] = *value;
    lc_ctx_init(&c, fn_setitem, ref, lc_thread_out(), 0);
    c.args = kv;
    return lc_op(rt, &c, kv, 2);
}

int lc_setitem(lc_runtime *rt, int ref, lc_val *key, lc_val *value)
{
    if (lc_fast_setitem(rt, ref, key, value))
        return 0;
    return lc_setitem_protected(rt, ref, key, value);
}

int lc_setitem_i(lc_runtime *rt, int ref, long long key, long long value)
{
    lc_val k, v;
    if (!lc_int_val(key, &k))
        return LC_ERR_RANGE;
    switch (value & 7) {
    case LC_P_INT:
        if (!lc_int_val(value >> 3, &v))
            return LC_ERR_RANGE;
        break;
    case LC_P_BOOL:
        v.tag = LC_BOOL;
        v.i = value >> 3;
        break;
    case LC_P_NIL:
        v.tag = LC_NIL;
        break;
    default:
        return LC_ERR_RANGE;
    }
    if (!LC_RAWGETI_TAKES(key))
        return lc_setitem(rt, ref, &k, &v);
    /* a key the plain table has already: lua_rawseti makes no Lua memory */
    if (lc_fast_table(rt, ref)) {
        lua_State *L = rt->L;
        lua_rawgeti(L, -1, key);
        if (!lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lc_push_val(rt, L, &v);
            lua_rawseti(L, -2, key);
            lc_fast_end(rt);
            return 0;
        }
        lc_fast_end(rt);
    }
    /* (lc_setitem's fast path would find what this one found) */
    return lc_setitem_protected(rt, ref, &k, &v);
}

static int fn_len(lua_State *L, lc_ctx *c)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    lua_pushinteger(L, (lua_Integer)lc_objlen(L, -1));     /* raw, as lupa's len() */
    c->result = lc_results(c->rt, L, lua_gettop(L), 1, c->out, c->nout);
    return 0;
}

long long lc_len(lc_runtime *rt, int ref)
{
    lc_ctx c;
    lc_val *out = lc_thread_out();
    lc_ctx_init(&c, fn_len, ref, out, 1);
    return lc_packed(lc_op(rt, &c, NULL, 0), out);
}

/* Raw iteration in batches.  *cursor is a registry slot holding the last key
   (LUA_NOREF before the first batch; reset to it after the last).  `what`:
   1 keys, 2 values, 3 both (key, value, key, value...).  Returns the number
   of values written; fewer than `cap` means the end was reached. */
static int fn_next(lua_State *L, lc_ctx *c)
{
    int per = c->what == 3 ? 2 : 1, n = 0;
    if (*c->cursor == LC_CURSOR_DONE) {       /* (another thread took the last batch) */
        c->result = 0;
        return 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);          /* 1: table */
    if (lua_type(L, 1) != LUA_TTABLE)
        luaL_error(L, "not a table");
    if (*c->cursor == LUA_NOREF)
        lua_pushnil(L);
    else
        lua_rawgeti(L, LUA_REGISTRYINDEX, *c->cursor);
    if (!lua_checkstack(L, c->cap + LUA_MINSTACK))
        luaL_error(L, "stack overflow");
    /* stack: table, results..., key; lua_next replaces key by key, value */
    while (n + per <= c->cap && lua_next(L, 1)) {
        if (c->what == 1) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
        } else if (c->what == 2) {
            lua_insert(L, -2);
        } else {
            lua_pushvalue(L, -2);
        }
        n += per;
    }
    if (lua_gettop(L) == 1 + n) {                       /* finished: no key left */
        if (*c->cursor != LUA_NOREF)
            luaL_unref(L, LUA_REGISTRYINDEX, *c->cursor);
        *c->cursor = LC_CURSOR_DONE;
    } else if (*c->cursor == LUA_NOREF) {
        *c->cursor = luaL_ref(L, LUA_REGISTRYINDEX);
        c->rt->serial++;
    } else {
        lua_rawseti(L, LUA_REGISTRYINDEX, *c->cursor);
    }
    c->result = lc_results(c->rt, L, 2, n, c->out, c->nout);
    return 0;
}

int lc_next(lc_runtime *rt, int ref, int *cursor, int what, int cap)
{
    lc_ctx c;
    lc_ctx_init(&c, fn_next, ref, lc_thread_out(), LC_NOUT);
    c.cursor = cursor;
    c.what = what;
    c.cap = cap < 2 ? 2 : cap;                 /* (room for a pair) */
    return lc_op(rt, &c, NULL, 0);
}

static int fn_tostring(lua_State *L, lc_ctx *c)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    /* __tostring's result whatever it is: Python decides (as lupa, a TypeError
       for anything but a string or a number) */
    if (!luaL_callmeta(L, -1, "__tostring")) {
#if LUA_VERSION_NUM >= 502
        luaL_tolstring(L, lua_gettop(L), NULL);   /* absolute: 5.3 gets -1 wrong with __name */
#else
        lua_pushfstring(L, "%s: %p", luaL_typename(L, -1), lua_topointer(L, -1));
#endif
    }
    c->result = lc_results(c->rt, L, lua_gettop(L), 1, c->out, c->nout);
    return 0;
}

int lc_tostring(lc_runtime *rt, int ref, lc_val *out)
{
    lc_ctx c;
    lc_ctx_init(&c, fn_tostring, ref, out, 1);
    return lc_op(rt, &c, NULL, 0);
}

/* Sets npairs key/value pairs (raw) in table `ref`, or in a new table when
   ref is LUA_NOREF; the new table is returned in out[0]. */
static int fn_fill_table(lua_State *L, lc_ctx *c)
{
    int k, narr = 0;
    if (c->ref == LUA_NOREF) {
        /* keys 1..n go to the array part, in order, as Lua's constructor does */
        for (k = 0; k < c->nargs; k++)
            if (c->args[2 * k].tag == LC_INT && c->args[2 * k].i == narr + 1)
                narr++;
        lua_createtable(L, narr, c->nargs - narr);
    } else
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    if (lua_type(L, 1) != LUA_TTABLE)
        luaL_error(L, "not a table");
    for (k = 0; k < c->nargs; k++) {
        lc_push_val(c->rt, L, &c->args[2 * k]);
        lc_push_val(c->rt, L, &c->args[2 * k + 1]);
        lua_rawset(L, 1);
    }
    c->result = c->ref == LUA_NOREF ? lc_results(c->rt, L, 1, 1, c->out, c->nout) : 0;
    return 0;
}

int lc_fill_table(lc_runtime *rt, int ref, lc_val *items, int npairs, lc_val *out)
{
    lc_ctx c;
    lc_ctx_init(&c, fn_fill_table, ref, out, 1);
    c.args = items;
    c.nargs = npairs;
    return lc_op(rt, &c, items, 2 * npairs);
}

/* Pushes value k of a column, converted exactly as the lc_val would be.
   *offset walks through the bytes of a string column. */
static void lc_push_column(lc_runtime *rt, lua_State *L, lc_column *col, int k, size_t *offset)
{
    lc_val v;
    switch (col->kind) {
    case LC_COL_VALS:
        lc_push_val(rt, L, &col->vals[k]);
        return;
    case LC_COL_INDEX:
        v.tag = LC_INT;
        v.i = col->start + k + 1;
        break;
    case LC_COL_INT:
        v.tag = LC_INT;
        v.i = col->ints[k];
        break;
    case LC_COL_FLOAT:
        v.tag = LC_FLOAT;
        v.d = col->floats[k];
        break;
    default:                     /* LC_COL_STR */
        v.tag = LC_STR;
        v.s = col->bytes + *offset;
        v.i = col->ints[k];
        *offset += (size_t)v.i;
    }
    lc_push_val(rt, L, &v);
}

static int fn_fill_columns(lua_State *L, lc_ctx *c)
{
    int k;
    size_t koffset = 0, voffset = 0;
    if (c->ref == LUA_NOREF)
        lua_createtable(L, c->narr, c->nrec);
    else
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    if (lua_type(L, 1) != LUA_TTABLE)
        luaL_error(L, "not a table");
    /* a sequence: no keys to push (lua_rawseti takes an int before Lua 5.3) */
    if (c->keys->kind == LC_COL_INDEX && c->keys->start + c->nargs <= INT_MAX) {
        for (k = 0; k < c->nargs; k++) {
            lc_push_column(c->rt, L, c->values, k, &voffset);
            lua_rawseti(L, 1, (int)(c->keys->start + k + 1));
        }
    } else {
        for (k = 0; k < c->nargs; k++) {
            lc_push_column(c->rt, L, c->keys, k, &koffset);
            lc_push_column(c->rt, L, c->values, k, &voffset);
            lua_rawset(L, 1);
        }
    }
    c->result = c->ref == LUA_NOREF ? lc_results(c->rt, L, 1, 1, c->out, c->nout) : 0;
    return 0;
}

int lc_fill_columns(lc_runtime *rt, int ref, int n, lc_column *keys, lc_column *values,
                    int narr, int nrec, lc_val *out)
{
    lc_ctx c;
    lc_val *pins = NULL;         /* Python objects: only in the column of lc_vals */
    lc_ctx_init(&c, fn_fill_columns, ref, out, 1);
    c.nargs = n;
    c.keys = keys;
    c.values = values;
    c.narr = narr < 0 ? 0 : narr;
    c.nrec = nrec < 0 ? 0 : nrec;
    if (values->kind == LC_COL_VALS)
        pins = values->vals;
    else if (keys->kind == LC_COL_VALS)
        pins = keys->vals;
    return lc_op(rt, &c, pins, pins ? n : 0);
}

long long lc_topointer(lc_runtime *rt, int ref)
{
    long long p;
    int r = lc_enter(rt);
    if (r)
        return 0;
    lua_rawgeti(rt->L, LUA_REGISTRYINDEX, ref);
    p = (long long)(size_t)lua_topointer(rt->L, -1);
    lua_pop(rt->L, 1);
    lc_leave(rt, 0);
    return p;
}

/* ---- garbage collection ------------------------------------------------------- */
static int fn_gc(lua_State *L, lc_ctx *c)
{
    static const int whats[] = {LUA_GCCOLLECT, LUA_GCSTOP, LUA_GCRESTART};
    if (c->what == 3) {
        c->result = lc_gc_running(L);
        return 0;
    }
    lua_gc(L, whats[c->what], 0);
    c->result = 0;
    return 0;
}

int lc_gc(lc_runtime *rt, int what, lc_val *out)
{
    lc_ctx c;
    if (what < 0 || what > 3)
        what = 3;
    lc_ctx_init(&c, fn_gc, 0, out, 0);
    c.what = what;
    return lc_op(rt, &c, NULL, 0);
}
