/* Reference cycles through Lua and Python: the scan of the Lua heap.

   A Python object held by Lua is kept alive by the runtime (Python's
   `_objects`), and a Lua value held by Python by a registry reference of its
   wrapper.  A cycle Python object -> wrapper -> Lua table -> userdata ->
   Python object is then invisible to both collectors.  Before Python's full
   collection, the Python side (_cycles.py) asks lc_gc_scan which Python
   objects Lua can reach *only* through the references of Python's wrappers,
   and through which of them; it moves those objects' strong references onto
   the wrappers, so that Python's collector sees the whole cycle.

   The scan is conservative: whatever it cannot see through counts as
   reachable from Lua's roots, so at worst a cycle is not collected.  It runs
   a full Lua collection first (no finalizer of an unreachable object is left
   pending), treats every object with a __gc metamethod as a root, walks the
   frames of suspended coroutines slot by slot (Lua 5.2+; Lua 5.1 and LuaJIT:
   it gives up, lua_getlocal() does not reach their varargs), and gives up on
   LuaJIT's FFI (cdata finalizers are roots the API cannot see) and when Lua's
   collector is stopped. */

/* Objects seen by the scan: their address (lua_topointer) -> the mark of
   the walk that saw them; open addressing, in C so that the scan allocates
   no Lua memory for it. */
typedef struct gc_set {
    const void **keys;
    int *marks;
    size_t cap, len;
} gc_set;

static size_t gc_set_slot(const gc_set *s, const void *p)
{
    size_t i = (size_t)(((unsigned long long)(size_t)p >> 3) * 0x9E3779B97F4A7C15ULL >> 17);
    i &= s->cap - 1;
    while (s->keys[i] != NULL && s->keys[i] != p)
        i = (i + 1) & (s->cap - 1);
    return i;
}

/* The mark of p, or NULL if unseen. */
static int *gc_set_find(const gc_set *s, const void *p)
{
    size_t i;
    if (s->cap == 0)
        return NULL;
    i = gc_set_slot(s, p);
    return s->keys[i] != NULL ? &s->marks[i] : NULL;
}

/* Adds p (unseen) with mark; 0 when out of memory. */
static int gc_set_add(gc_set *s, const void *p, int mark)
{
    size_t i;
    if ((s->len + 1) * 2 > s->cap) {
        gc_set old = *s;
        s->cap = old.cap ? old.cap * 2 : 1024;
        s->keys = (const void **)calloc(s->cap, sizeof(void *));
        s->marks = (int *)calloc(s->cap, sizeof(int));
        if (s->keys == NULL || s->marks == NULL) {
            free((void *)s->keys);
            free(s->marks);
            *s = old;
            return 0;
        }
        for (i = 0; i < old.cap; i++) {
            if (old.keys[i] != NULL) {
                size_t j = gc_set_slot(s, old.keys[i]);
                s->keys[j] = old.keys[i];
                s->marks[j] = old.marks[i];
            }
        }
        free((void *)old.keys);
        free(old.marks);
    }
    i = gc_set_slot(s, p);
    s->keys[i] = p;
    s->marks[i] = mark;
    s->len++;
    return 1;
}

/* The scan's state; work, found and fin are tables on the stack. */
typedef struct gc_walk {
    lc_runtime *rt;
    const int *refs;           /* the wrappers' references, sorted */
    int nrefs;
    gc_set seen;               /* object -> 0 (reachable from a root) or the walk's mark */
    int work, nwork;           /* objects to traverse (an array) */
    int found, nfound;         /* userdata of Python objects: ud, mark, ud, mark, ... */
    int fin, nfin;             /* objects with a finalizer met in wrapper walks */
    int mark;                  /* 0 while walking from roots, else 1 + index in refs */
    long long steps, budget;
    int failed;                /* gave up: nothing may be moved */
} gc_walk;

static int gc_is_wrapper_ref(gc_walk *w, lua_Integer k)
{
    int lo = 0, hi = w->nrefs - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (w->refs[mid] == k)
            return 1;
        if (w->refs[mid] < k)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}

/* Pops the value on top; queues it unless it holds no references, is
   reachable from a root, or this walk has already queued it. */
static void gc_queue(gc_walk *w, lua_State *L)
{
    int t = lua_type(L, -1), *mark;
    const void *p;
    if (t != LUA_TTABLE && t != LUA_TFUNCTION && t != LUA_TUSERDATA && t != LUA_TTHREAD) {
        lua_pop(L, 1);
        return;
    }
    p = lua_topointer(L, -1);
    mark = gc_set_find(&w->seen, p);
    if (mark != NULL && (*mark == 0 || *mark == w->mark)) {
        lua_pop(L, 1);
        return;
    }
    if (mark != NULL) {
        *mark = w->mark;
    } else if (!gc_set_add(&w->seen, p, w->mark)) {
        w->failed = 1;
        lua_pop(L, 1);
        return;
    }
    lua_rawseti(L, w->work, ++w->nwork);
}

/* Queues the metatable of the object at idx; in a wrapper walk, an object
   with a finalizer is remembered, to be made a root later. */
static void gc_metatable(gc_walk *w, lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return;
    if (w->mark > 0) {
        lua_pushliteral(L, "__gc");
        lua_rawget(L, -2);
        if (!lua_isnil(L, -1)) {
            lua_pushvalue(L, idx);
            lua_rawseti(L, w->fin, ++w->nfin);
        }
        lua_pop(L, 1);
    }
    gc_queue(w, L);
}

static void gc_userdata(gc_walk *w, lua_State *L, int idx)
{
    lc_pyud *ud = lc_topyud(w->rt, L, idx);
    if (ud != NULL) {
        /* a Python object: in a wrapper walk, a candidate when this
           userdata is Lua's only reference to it (no pins either) */
        if (w->mark > 0 && ud->h > 0 && lc_counts_get(&w->rt->counts, ud->h) == 1) {
            lua_pushvalue(L, idx);
            lua_rawseti(L, w->found, ++w->nfound);
            lua_pushinteger(L, w->mark);
            lua_rawseti(L, w->found, ++w->nfound);
        }
        return;               /* (its metatable is ours: reachable from the registry) */
    }
    gc_metatable(w, L, idx);
#if LUA_VERSION_NUM >= 504
    {
        int n;
        for (n = 1; lua_getiuservalue(L, idx, n) != LUA_TNONE; n++)
            gc_queue(w, L);
        lua_pop(L, 1);
    }
#elif LUA_VERSION_NUM >= 502
    lua_getuservalue(L, idx);
    gc_queue(w, L);
#else
    lua_getfenv(L, idx);
    gc_queue(w, L);
#endif
}

static void gc_thread(gc_walk *w, lua_State *L, int idx)
{
    lua_State *co = lua_tothread(L, idx);
    lua_Debug ar;
    int k, n;
    if (co == w->rt->L)       /* the main thread: its stack is ours */
        return;
    if (lua_getstack(co, 0, &ar)) {   /* suspended (or failed) with frames */
#if LUA_VERSION_NUM >= 502 && !defined(LC_LUAJIT)
        /* every slot of every frame: its function, its locals and
           temporaries up to the next frame (or the top), and its varargs */
        int level;
        for (level = 0; lua_getstack(co, level, &ar); level++) {
            if (!lua_checkstack(co, 1)) {
                w->failed = 1;
                return;
            }
            lua_getinfo(co, "f", &ar);
            lua_xmove(co, L, 1);
            gc_queue(w, L);
            for (k = 1; lua_getlocal(co, &ar, k) != NULL; k++) {
                lua_xmove(co, L, 1);
                gc_queue(w, L);
            }
            for (k = -1; lua_getlocal(co, &ar, k) != NULL; k--) {
                lua_xmove(co, L, 1);
                gc_queue(w, L);
            }
        }
#else
        /* Lua 5.1 and LuaJIT: lua_getlocal() does not reach the varargs */
        w->failed = 1;
#endif
        return;
    }
    n = lua_gettop(co);       /* not started: the function and arguments */
    if (n > 0 && !lua_checkstack(co, 1)) {
        w->failed = 1;
        return;
    }
    for (k = 1; k <= n; k++) {
        lua_pushvalue(co, k);
        lua_xmove(co, L, 1);
        gc_queue(w, L);
    }
#if LUA_VERSION_NUM < 502
    lua_getfenv(L, idx);
    gc_queue(w, L);
#endif
}

/* Traverses the queued objects until none is left. */
static void gc_drain(gc_walk *w, lua_State *L)
{
    while (w->nwork > 0 && !w->failed) {
        int obj, k;
        if (++w->steps > w->budget) {
            w->failed = 1;
            break;
        }
        lua_rawgeti(L, w->work, w->nwork);
        lua_pushnil(L);
        lua_rawseti(L, w->work, w->nwork--);
        obj = lua_gettop(L);
        switch (lua_type(L, obj)) {
        case LUA_TTABLE:
            gc_metatable(w, L, obj);
            lua_pushnil(L);
            while (lua_next(L, obj)) {
                lua_pushvalue(L, -2);
                gc_queue(w, L);           /* the key */
                gc_queue(w, L);           /* the value */
            }
            break;
        case LUA_TFUNCTION:
            for (k = 1; lua_getupvalue(L, obj, k) != NULL; k++)
                gc_queue(w, L);
#if LUA_VERSION_NUM < 502
            lua_getfenv(L, obj);
            gc_queue(w, L);
#endif
            break;
        case LUA_TUSERDATA:
            gc_userdata(w, L, obj);
            break;
        case LUA_TTHREAD:
            gc_thread(w, L, obj);
            break;
        }
        lua_settop(L, obj - 1);
    }
}

/* The roots: the registry (except the wrappers' references and the weak
   cache of userdata, which keeps nothing alive), the metatables of the basic
   types and, for Lua 5.1, the globals. */
static void gc_roots(gc_walk *w, lua_State *L)
{
    int k, top;
    lua_pushthread(L);                /* the main thread */
    if (!gc_set_add(&w->seen, lua_topointer(L, LUA_REGISTRYINDEX), 0)
            || !gc_set_add(&w->seen, lua_topointer(L, -1), 0))
        w->failed = 1;
    lua_pop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, LUA_REGISTRYINDEX)) {
        if (lua_type(L, -2) == LUA_TNUMBER) {
            lua_Integer k = (lua_Integer)lua_tonumber(L, -2);
            if (k == w->rt->cache_ref || gc_is_wrapper_ref(w, k)) {
                lua_pop(L, 1);
                continue;
            }
        }
        lua_pushvalue(L, -2);
        gc_queue(w, L);
        gc_queue(w, L);
    }
    top = lua_gettop(L);              /* the metatables of the basic types */
    lua_pushnil(L);
    lua_pushboolean(L, 0);
    lua_pushnumber(L, 0);
    lua_pushliteral(L, "");
    lua_pushlightuserdata(L, w);
    lua_pushcfunction(L, lc_msgh);
    lua_pushthread(L);
    for (k = top + 1; k <= top + 7; k++)
        if (lua_getmetatable(L, k))
            gc_queue(w, L);
    lua_settop(L, top);
#if LUA_VERSION_NUM < 502
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    gc_queue(w, L);
#endif
    gc_drain(w, L);
}

static int fn_gc_scan(lua_State *L, lc_ctx *c)
{
    gc_walk w;
    long long *pairs;
    int k, n = 0, base;
    memset(&w, 0, sizeof w);
    w.rt = c->rt;
    w.refs = (const int *)c->cursor;
    w.nrefs = c->nargs;
    c->result = 0;            /* (giving up: nothing to move) */
    if (!lc_gc_running(L))
        return 0;             /* (and not done: again next time) */
    c->rt->scanned = c->rt->serial;
#ifdef LC_LUAJIT
    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
    lua_getfield(L, -1, "ffi");
    if (!lua_isnil(L, -1))
        return 0;
    lua_pop(L, 2);
#endif
    lua_gc(L, LUA_GCCOLLECT, 0);      /* runs every pending finalizer */
    luaL_checkstack(L, 32, "gc scan");
    base = lua_gettop(L);
    lua_newtable(L);
    w.work = base + 1;
    lua_newtable(L);
    w.found = base + 2;
    lua_newtable(L);
    w.fin = base + 3;
    /* each object is traversed once from the roots, and again by every
       wrapper walk that reaches it: bounded, to bound the pause */
    w.budget = (long long)1 << 62;
    gc_roots(&w, L);
    w.budget = w.steps * 2 + 100000;
    for (k = 0; k < w.nrefs && !w.failed; k++) {
        w.mark = k + 1;
        lua_rawgeti(L, LUA_REGISTRYINDEX, w.refs[k]);
        gc_queue(&w, L);
        gc_drain(&w, L);
    }
    w.mark = 0;                        /* objects with finalizers are roots */
    for (k = 1; k <= w.nfin && !w.failed; k++) {
        lua_rawgeti(L, w.fin, k);
        gc_queue(&w, L);
        gc_drain(&w, L);
    }
    pairs = w.failed ? NULL : (long long *)malloc(sizeof(long long) * (size_t)(w.nfound + 1));
    for (k = 1; pairs != NULL && k < w.nfound; k += 2) {
        lc_pyud *ud;
        int *mark;
        lua_rawgeti(L, w.found, k);
        ud = (lc_pyud *)lua_touserdata(L, -1);
        mark = gc_set_find(&w.seen, ud);
        if (mark != NULL && *mark != 0) {  /* not reachable from a root after all */
            lua_rawgeti(L, w.found, k + 1);
            pairs[n++] = lua_tointeger(L, -1) - 1;
            pairs[n++] = ud->h;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    free((void *)w.seen.keys);
    free(w.seen.marks);
    lua_settop(L, base);
    if (c->len > 0 && c->rt->used > c->len)   /* over the real limit (c->len) */
        lua_gc(L, LUA_GCCOLLECT, 0);  /* (frees the scan's tables) */
    *c->pairs = pairs;
    c->result = pairs != NULL ? n / 2 : 0;
    return 0;
}

int lc_gc_begin(lc_runtime *rt)
{
    if (rt->serial == rt->scanned)     /* no new reference or Python object since */
        return 0;
    if (pthread_mutex_trylock(&rt->lock) != 0)
        return 0;
    if (rt->held > 0 || rt->depth > 0 || rt->closed) {   /* busy (maybe on this thread) */
        pthread_mutex_unlock(&rt->lock);
        return 0;
    }
    rt->held++;
    return 1;
}

/* The thread that froze rt ends the window under the lock too: a thaw
   running beside another thread's entry could put back objects that Lua
   has released since, or take those of a newer window.  When another thread
   holds rt, the window waits for the next entry, which ends it first. */
int lc_gc_relock(lc_runtime *rt)
{
    if (pthread_mutex_trylock(&rt->lock) != 0)
        return 0;
    if (!rt->frozen || rt->held > 0 || rt->closed) {
        pthread_mutex_unlock(&rt->lock);
        return 0;
    }
    rt->held++;
    return 1;
}

int lc_gc_scan(lc_runtime *rt, const int *refs, int nrefs, long long **pairs, lc_val *out)
{
    lc_ctx c;
    size_t limit = rt->limit;
    int r;
    *pairs = NULL;
    lc_ctx_init(&c, fn_gc_scan, 0, out, 0);
    c.cursor = (int *)refs;
    c.nargs = nrefs;
    c.pairs = pairs;
    c.len = limit;
    rt->limit = 0;            /* the scan's own tables must not fail */
    r = lc_op(rt, &c, NULL, 0);
    rt->limit = limit;
    return r;
}

int lc_gc_pending(lc_runtime *rt)
{
    return rt->serial != rt->scanned;
}

void lc_gc_end(lc_runtime *rt, int frozen)
{
    rt->frozen = frozen;
    rt->held--;
    pthread_mutex_unlock(&rt->lock);
}

void lc_gc_thawed(lc_runtime *rt)
{
    rt->frozen = 0;
}

void lc_free_buffer(void *p)
{
    free(p);
}
