/* Runtime life cycle, locking, and the protected-call machinery that every
   entry point goes through. */

/* What an entry point asks its body function to do. */
typedef struct lc_ctx lc_ctx;
typedef int (*lc_fn)(lua_State *L, lc_ctx *c);
struct lc_ctx {
    lc_runtime *rt;
    lc_fn fn;                  /* the work, run under lua_pcall */
    int ref;                   /* the object operated on */
    lc_val *args;
    int nargs;
    lc_val *out;               /* results; out[0], out[1] = error, traceback */
    int nout;
    int result;                /* the entry point's return value on success */
    const char *code, *name, *mode;
    size_t len;
    int *cursor;
    int what;
    int cap;                   /* lc_next: values per batch */
    lc_column *keys, *values;  /* lc_fill_columns */
    int narr, nrec;
    long long **pairs;         /* lc_gc_scan */
};

/* ---- facts about the compiled Lua --------------------------------------- */
int lc_lua_version_num(void) { return LUA_VERSION_NUM; }

int lc_system_lua(void)
{
#ifdef LC_SYSTEM_LUA
    return 1;
#else
    return 0;
#endif
}

const char *lc_lua_implementation(void)
{
#ifdef LC_LUAJIT
    return LUAJIT_VERSION;
#else
    return LUA_RELEASE;
#endif
}

#if LC_HAS_INTEGERS
long long lc_lua_maxinteger(void) { return (long long)LUA_MAXINTEGER; }
long long lc_lua_mininteger(void) { return (long long)LUA_MININTEGER; }
#else
/* integers travel as doubles: only those of up to 53 bits are exact */
long long lc_lua_maxinteger(void) { return 9007199254740991LL; }
long long lc_lua_mininteger(void) { return -9007199254740991LL; }
#endif

/* ---- protected calls ---------------------------------------------------- */

/* Runs a C function under lua_pcall without the stored runner; for setup,
   before the runner exists. */
static int lc_pcall_raw(lua_State *L, lua_CFunction f, void *ud)
{
#if LUA_VERSION_NUM < 502
    return lua_cpcall(L, f, ud);
#else
    lua_pushcfunction(L, f);
    lua_pushlightuserdata(L, ud);
    return lua_pcall(L, 1, 0, 0);
#endif
}

static void lc_drain_unrefs(lc_runtime *rt, lua_State *L)
{
    int *q, n, k;
    if (rt->nunrefs == 0)     /* unlocked peek: a late unref waits for next time */
        return;
    pthread_mutex_lock(&rt->qlock);
    q = rt->unrefs;
    n = rt->nunrefs;
    rt->unrefs = NULL;
    rt->nunrefs = rt->capunrefs = 0;
    pthread_mutex_unlock(&rt->qlock);
    for (k = 0; k < n; k++)
        luaL_unref(L, LUA_REGISTRYINDEX, q[k]);
    free(q);
}

/* The runner: lua_pcall(lc_body, ctx) calls ctx->fn with ctx removed from
   the stack.  It is stored in the registry so that pushing it never
   allocates (Lua 5.1 would allocate a closure outside any protection). */
static int lc_body(lua_State *L)
{
    lc_ctx *c = (lc_ctx *)lua_touserdata(L, 1);
    lua_remove(L, 1);
    lc_drain_unrefs(c->rt, L);
    return c->fn(L, c);
}

static int lc_fn_ref_value(lua_State *L, lc_ctx *c)
{
    c->out[0].tag = LC_REF;
    c->out[0].aux = lua_type(L, 1);
    c->out[0].i = luaL_ref(L, LUA_REGISTRYINDEX);
    c->rt->serial++;
    return 0;
}

/* Turns the error value on top of the stack into out[0] and the recorded
   traceback into out[1]; returns the status code for Python. */
static int lc_error_result(lc_runtime *rt, lua_State *L, int status, lc_val *out)
{
    int t = lua_type(L, -1);
    int result = status == LUA_ERRSYNTAX ? LC_ERR_SYNTAX
               : status == LUA_ERRMEM ? LC_ERR_MEMORY
               : status == LUA_ERRERR ? LC_ERR_ERR : LC_ERR_RUN;
    if (t == LUA_TTABLE || t == LUA_TFUNCTION || t == LUA_TTHREAD
            || t == LUA_TLIGHTUSERDATA
            || (t == LUA_TUSERDATA && lc_topyud(rt, L, -1) == NULL)) {
        lc_ctx c;
        memset(&c, 0, sizeof c);
        c.rt = rt;
        c.fn = lc_fn_ref_value;
        c.out = out;
        lua_rawgeti(L, LUA_REGISTRYINDEX, rt->body_ref);
        lua_pushlightuserdata(L, &c);
        lua_pushvalue(L, -3);
        if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
            lua_pop(L, 1);
            out[0].tag = LC_STR;
            out[0].s = "not enough memory";
            out[0].i = (long long)strlen(out[0].s);
            result = LC_ERR_MEMORY;
        }
    } else {
        lc_to_val(rt, L, -1, &out[0]);
        lc_pin(rt, out, 1, +1);       /* until Python calls lc_unpin */
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->tb_ref);
    if (lua_type(L, -1) == LUA_TSTRING)
        lc_to_val(rt, L, -1, &out[1]);
    else
        out[1].tag = LC_NIL;
    lc_copy_strings(out, 2);
    lua_pop(L, 1);
    lua_pushboolean(L, 0);            /* the slot is clear for the next error */
    lua_rawseti(L, LUA_REGISTRYINDEX, rt->tb_ref);
    return result;
}

static int lc_gc_running(lua_State *L)
{
#if LUA_VERSION_NUM >= 502 || defined(LC_LUAJIT)
    return lua_gc(L, LUA_GCISRUNNING, 0);
#elif defined(LC_SYSTEM_LUA)
    (void)L;
    return 1;         /* cannot tell: a heap scan or an emergency collection may restart it */
#else
    return G(L)->GCthreshold != MAX_LUMEM;      /* what LUA_GCSTOP sets */
#endif
}

#if LUA_VERSION_NUM < 502
static int fn_collect(lua_State *L, lc_ctx *c)
{
    (void)c;
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}

/* Lua 5.1 and LuaJIT do not collect when an allocation fails: without this,
   a runtime that hit its memory limit stays full until the next cycle.  Run
   after every entry during which the limit refused an allocation, also when
   a pcall in Lua caught the error: its garbage (e.g. the pieces of a failed
   string.rep) would make the next chunk's load fail. */
static void lc_emergency_gc(lc_runtime *rt, lua_State *L)
{
    lc_ctx c;
    if (!lc_gc_running(L))
        return;
    memset(&c, 0, sizeof c);
    c.rt = rt;
    c.fn = fn_collect;
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->body_ref);
    lua_pushlightuserdata(L, &c);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        lua_pop(L, 1);
}
#endif

/* Runs c->fn protected, with the traceback handler. */
static int lc_run(lc_runtime *rt, lc_ctx *c)
{
    lua_State *L = rt->L;
    int top = lua_gettop(L), status, result, chain = rt->nchain;
#if LUA_VERSION_NUM >= 502
    if (!lua_checkstack(L, 8)) {
        c->out[0].tag = LC_STR;
        c->out[0].s = "stack overflow";
        c->out[0].i = 14;
        c->out[1].tag = LC_NIL;
        return LC_ERR_RUN;
    }
#endif
    c->rt = rt;
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->msgh_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->body_ref);
    lua_pushlightuserdata(L, c);
    status = lua_pcall(L, 1, 0, top + 1);
    if (rt->nchain != chain)          /* (outermost calls: unchanged) */
        __atomic_store_n(&rt->nchain, chain, __ATOMIC_SEQ_CST);    /* see lc_interrupt */
    if (status == LUA_OK && rt->stop == LC_STOP_PYTHON) {
        /* a KeyboardInterrupt & co that a pcall caught as the last thing Lua
           did (e.g. `return pcall(f)`): the call fails with it all the same */
        lc_drop_results(rt, c->result);
        lua_rawgeti(L, LUA_REGISTRYINDEX, rt->stop_ref);
        status = LUA_ERRRUN;
    }
    result = status == LUA_OK ? c->result : lc_error_result(rt, L, status, c->out);
    lua_settop(L, top);
#if LUA_VERSION_NUM < 502
    if (status == LUA_ERRMEM || rt->refused) {
        rt->refused = 0;
        lc_emergency_gc(rt, L);
    }
#endif
    return result;
}

/* ---- locking ------------------------------------------------------------ */
/* `held` counts the lock's holds that may run Python code in between (see
   lc_gc_begin). */
void lc_set_encoding(lc_runtime *rt, int encoding)
{
    rt->head.encoding = encoding;
}

void lc_lock(lc_runtime *rt)
{
    pthread_mutex_lock(&rt->lock);
    rt->held++;
}

void lc_unlock(lc_runtime *rt)
{
    rt->held--;
    pthread_mutex_unlock(&rt->lock);
}

static int lc_enter(lc_runtime *rt)
{
    pthread_mutex_lock(&rt->lock);
    if (rt->closed) {
        pthread_mutex_unlock(&rt->lock);
        return LC_ERR_CLOSED;
    }
    if (rt->depth >= LC_MAX_DEPTH) {
        pthread_mutex_unlock(&rt->lock);
        return LC_ERR_DEPTH;
    }
    rt->held++;
    if (rt->frozen) {         /* Lua is about to change: end the scan's window first */
        rt->frozen = 0;
        lc_py_dispatch(rt->rid, LC_OP_THAW, NULL, 0, NULL, 0);
    }
    if (rt->depth++ == 0)
        lc_limits_begin(rt);
    return 0;
}

/* When the outermost call ends in a limit stop or an interrupt, lc_leave
   turns its error into LC_ERR_INSTRUCTIONS & co, and Python never takes the
   error value (e.g. the LuaError of a callback the stop went through):
   release it here. */
static void lc_drop_stopped_error(lc_runtime *rt, int r, lc_val *out)
{
    int stop = rt->stop;
    if (r >= 0 || rt->depth != 1
            || (stop != LC_STOP_INSTRUCTIONS && stop != LC_STOP_TIME && stop != LC_STOP_INTERRUPT))
        return;
    if (out[0].tag == LC_PYOBJ)
        lc_pin(rt, out, 1, -1);
    else if (out[0].tag == LC_REF)
        lc_unref(rt, (int)out[0].i);
    out[0].tag = LC_NIL;
}

static int lc_leave(lc_runtime *rt, int result)
{
    if (--rt->depth == 0) {
        int stop = rt->stop;
        if (result > 0 && (stop == LC_STOP_INSTRUCTIONS || stop == LC_STOP_TIME
                           || stop == LC_STOP_INTERRUPT)) {
            /* Lua caught the stop (pcall) just before returning: the call
               still fails, and its results (this thread's buffer) are dropped */
            lc_drop_results(rt, result);
        }
        if (stop == LC_STOP_INSTRUCTIONS)
            result = LC_ERR_INSTRUCTIONS;
        else if (stop == LC_STOP_TIME)
            result = LC_ERR_TIME;
        else if (stop == LC_STOP_INTERRUPT)
            result = LC_ERR_INTERRUPTED;
        lc_limits_end(rt);
    }
    rt->held--;
    pthread_mutex_unlock(&rt->lock);
    return result;
}

/* Entry point skeleton: lock, pin the Python handles among the inputs, run,
   unpin, unlock.  The handles are copied first: `in` is often the calling
   thread's argument buffer, which a nested call from a callback reuses. */
static int lc_op(lc_runtime *rt, lc_ctx *c, lc_val *in, int nin)
{
    lc_val local[8], *pins = local;
    int r, k, npins = 0;
    for (k = 0; k < nin; k++)
        npins += in[k].tag == LC_PYOBJ;
    if (npins > 8 && (pins = (lc_val *)malloc(sizeof(lc_val) * (size_t)npins)) == NULL) {
        c->out[0].tag = LC_STR;
        c->out[0].s = "not enough memory";
        c->out[0].i = 17;
        c->out[1].tag = LC_NIL;
        return LC_ERR_MEMORY;
    }
    for (k = 0, npins = 0; k < nin; k++)
        if (in[k].tag == LC_PYOBJ)
            pins[npins++] = in[k];
    r = lc_enter(rt);
    if (r == 0) {
        c->rt = rt;
        lc_pin(rt, pins, npins, +1);
        r = lc_run(rt, c);
        lc_pin(rt, pins, npins, -1);
        lc_drop_stopped_error(rt, r, c->out);
        r = lc_leave(rt, r);
    }
    if (pins != local)
        free(pins);
    return r;
}

void lc_unref(lc_runtime *rt, int ref)
{
    if (ref < 0)
        return;
    pthread_mutex_lock(&rt->qlock);
    if (!rt->closed) {
        if (rt->nunrefs == rt->capunrefs) {
            int cap = rt->capunrefs ? rt->capunrefs * 2 : 64;
            int *q = (int *)realloc(rt->unrefs, sizeof(int) * (size_t)cap);
            if (q == NULL) {          /* keep the reference: a leak, not a crash */
                pthread_mutex_unlock(&rt->qlock);
                return;
            }
            rt->unrefs = q;
            rt->capunrefs = cap;
        }
        rt->unrefs[rt->nunrefs++] = ref;
    }
    pthread_mutex_unlock(&rt->qlock);
}

/* ---- life cycle ----------------------------------------------------------- */
static void lc_openlib(lua_State *L, const char *name, lua_CFunction f)
{
#if LUA_VERSION_NUM >= 502
    luaL_requiref(L, name, f, 1);
    lua_pop(L, 1);
#else
    lua_pushcfunction(L, f);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
#endif
}

static void lc_openlibs(lua_State *L, int libs)
{
    if ((libs & LC_LIB_ALL) == LC_LIB_ALL) {
        luaL_openlibs(L);
        return;
    }
#if LUA_VERSION_NUM >= 502
    if (libs & LC_LIB_BASE) lc_openlib(L, "_G", luaopen_base);
    if (libs & LC_LIB_COROUTINE) lc_openlib(L, LUA_COLIBNAME, luaopen_coroutine);
#else
    if (libs & LC_LIB_BASE) {
        lc_openlib(L, "", luaopen_base);
        if (!(libs & LC_LIB_COROUTINE)) {   /* Lua 5.1's base library opens it too */
            lua_pushnil(L);
            lua_setfield(L, LUA_GLOBALSINDEX, LUA_COLIBNAME);
            lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
            lua_pushnil(L);
            lua_setfield(L, -2, LUA_COLIBNAME);
            lua_pop(L, 1);
        }
    }
#endif
    if (libs & LC_LIB_PACKAGE) lc_openlib(L, LUA_LOADLIBNAME, luaopen_package);
    if (libs & LC_LIB_TABLE) lc_openlib(L, LUA_TABLIBNAME, luaopen_table);
    if (libs & LC_LIB_IO) lc_openlib(L, LUA_IOLIBNAME, luaopen_io);
    if (libs & LC_LIB_OS) lc_openlib(L, LUA_OSLIBNAME, luaopen_os);
    if (libs & LC_LIB_STRING) lc_openlib(L, LUA_STRLIBNAME, luaopen_string);
    if (libs & LC_LIB_MATH) lc_openlib(L, LUA_MATHLIBNAME, luaopen_math);
#if LUA_VERSION_NUM >= 503
    if (libs & LC_LIB_UTF8) lc_openlib(L, LUA_UTF8LIBNAME, luaopen_utf8);
#endif
    if (libs & LC_LIB_DEBUG) lc_openlib(L, LUA_DBLIBNAME, luaopen_debug);
#if LUA_VERSION_NUM == 502
    if (libs & LC_LIB_BIT) lc_openlib(L, LUA_BITLIBNAME, luaopen_bit32);
#endif
#ifdef LC_LUAJIT
    if (libs & LC_LIB_BIT) lc_openlib(L, LUA_BITLIBNAME, luaopen_bit);
    if (libs & LC_LIB_JIT) lc_openlib(L, LUA_JITLIBNAME, luaopen_jit);
    if (libs & LC_LIB_FFI) lc_openlib(L, LUA_FFILIBNAME, luaopen_ffi);
#endif
}

typedef struct lc_setup { lc_runtime *rt; int libs; } lc_setup;

static int lc_setup_state(lua_State *L)
{
    lc_setup *s = (lc_setup *)lua_touserdata(L, 1);
    lc_runtime *rt = s->rt;
    lua_settop(L, 0);
#if LUA_VERSION_NUM < 504
    /* the head of luaL_ref's free list, registry[0], from the start: the
       first luaL_unref would add that key, which needs memory and so could
       fail under a memory limit (and with it the call it was drained in) */
    lua_rawgeti(L, LUA_REGISTRYINDEX, 0);
    if (lua_isnil(L, -1)) {
        lua_pushinteger(L, 0);
        lua_rawseti(L, LUA_REGISTRYINDEX, 0);
    }
    lua_pop(L, 1);
#endif
    rt->tb_debug = (s->libs & LC_LIB_DEBUG) != 0;
    lc_openlibs(L, s->libs);
    lc_wrap_coroutine_lib(rt, L);
    lua_pushcfunction(L, lc_body);
    rt->body_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    rt->names_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, rt);
    lua_pushcclosure(L, lc_msgh, 1);
    rt->msgh_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushboolean(L, 0);
    rt->tb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushboolean(L, 0);
    rt->stop_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);                       /* handle -> userdata, weak values */
    lua_newtable(L);
    lua_pushstring(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    rt->cache_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lc_open_pyobject(rt, L);
    return 0;
}

/* What the wrappers' C base type calls (lc_wrapper.h): this backend's. */
static const lc_entries lc_backend_entries = {lc_call, lc_call_i, lc_call_d, lc_call_s, lc_getitem_i,
                                                    lc_getitem_s, lc_setitem_i,
                                                    lc_thread_pack};

lc_runtime *lc_new(int rid, int libs, int use_seed, unsigned int seed)
{
    lc_runtime *rt = (lc_runtime *)calloc(1, sizeof(lc_runtime));
    pthread_mutexattr_t attr;
    lc_setup s;
    lua_State *L;
    if (rt == NULL)
        return NULL;
    rt->rid = rid;
    rt->head.entries = &lc_backend_entries;
    rt->none_ref = LUA_NOREF;
    rt->max_instructions = rt->budget = -1;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&rt->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    pthread_mutex_init(&rt->qlock, NULL);
    if (lc_heap_open(rt) != 0) {
        lc_free(rt);
        return NULL;
    }
#if LUA_VERSION_NUM >= 505
    L = lua_newstate(lc_alloc_chain, rt, use_seed ? seed : luaL_makeseed(NULL));
#else
    (void)use_seed;
    (void)seed;
    L = lua_newstate(lc_alloc_chain, rt);
#endif
    if (L == NULL) {
        lc_free(rt);
        return NULL;
    }
    rt->L = L;
    s.rt = rt;
    s.libs = libs;
    if (lc_pcall_raw(L, lc_setup_state, &s) != LUA_OK) {
        lua_close(L);
        rt->L = NULL;
        lc_free(rt);
        return NULL;
    }
    lc_limits_end(rt);                 /* installs the hook where wanted */
    rt->base = rt->used;
    return rt;
}

int lc_close(lc_runtime *rt)
{
    pthread_mutex_lock(&rt->lock);
    if (rt->depth > 0) {      /* Lua runs below us, in this thread (a callback) */
        pthread_mutex_unlock(&rt->lock);
        return LC_ERR_DEPTH;
    }
    if (!rt->closed) {
        pthread_mutex_lock(&rt->qlock);
        rt->closed = 1;
        pthread_mutex_unlock(&rt->qlock);
        rt->py_objects = rt->py_names = NULL;   /* (Python may free them from now on) */
        rt->depth++;          /* finalizers may call back into Python */
        lua_close(rt->L);
        rt->depth--;
        rt->L = NULL;
    }
    pthread_mutex_unlock(&rt->lock);
    return 0;
}

/* A runtime closed for good, shared: what Python's LuaRuntime points at once
   its own is freed, so that a wrapper that outlives it (finalizers of a
   cycle run in any order) gets LC_ERR_CLOSED instead of freed memory. */
static lc_runtime lc_closed_rt;
static pthread_once_t lc_closed_once = PTHREAD_ONCE_INIT;

static void lc_init_closed_runtime(void)
{
    lc_closed_rt.head.entries = &lc_backend_entries;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&lc_closed_rt.lock, &attr);
    pthread_mutexattr_destroy(&attr);
    pthread_mutex_init(&lc_closed_rt.qlock, NULL);
    lc_closed_rt.closed = 1;
    lc_closed_rt.none_ref = LUA_NOREF;
    lc_closed_rt.max_instructions = lc_closed_rt.budget = -1;
}

lc_runtime *lc_closed_runtime(void)
{
    pthread_once(&lc_closed_once, lc_init_closed_runtime);
    return &lc_closed_rt;
}

void lc_free(lc_runtime *rt)
{
    if (rt == &lc_closed_rt)
        return;
    /* Called by a finalizer, when no Python code can use rt any more.  A lock
       another thread still holds was left taken (at PyPy's stack limit even
       the call in a `finally` that releases it can fail): leak the runtime
       rather than make this thread, maybe a finalizer in a thread that the
       holder waits for, wait forever. */
    if (pthread_mutex_trylock(&rt->lock) != 0)
        return;
    pthread_mutex_unlock(&rt->lock);
    if (rt->L != NULL)
        lc_close(rt);
    if (rt->L == NULL)        /* (else its blocks stay in use: leaked with it) */
        lc_heap_close(rt);
    pthread_mutex_destroy(&rt->lock);
    pthread_mutex_destroy(&rt->qlock);
    free(rt->unrefs);
    lc_counts_free(&rt->counts);
    free(rt);
}
