/* The benchmarks' floor functions (lc_floor.h): they do nothing. */

static long long lc_py_floor_call1(int rid, long long handle, long long arg);
static long long lc_py_floor_index(int rid, long long handle, int name);

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
        lc_py_floor_call1(0, handle, (long long)k);
}

void lc_floor_indexes(int n, long long handle, int name)
{
    int k;
    for (k = 0; k < n; k++)
        lc_py_floor_index(0, handle, name);
}

static int lc_floor_ud_call(lua_State *L)
{
    long long r = lc_py_floor_call1(0, 1, (long long)lua_tointeger(L, 2));
    lua_pushinteger(L, (lua_Integer)(r >> 3));
    return 1;
}

static int lc_floor_ud_index(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)(lc_py_floor_index(0, 1, 1) >> 3));
    return 1;
}

int lc_floor_lua_loop(lc_runtime *rt, int n, int index)
{
    lua_State *L = rt->L;
    int status;
    status = luaL_loadstring(L, index
            ? "local o, n = ... local x for i = 1, n do x = o.attr end return x"
            : "local o, n = ... local x for i = 1, n do x = o(i) end return x");
    if (status != LUA_OK) {
        lua_settop(L, 0);
        return status;
    }
    lua_newuserdata(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, index ? lc_floor_ud_index : lc_floor_ud_call);
    lua_setfield(L, -2, index ? "__index" : "__call");
    lua_setmetatable(L, -2);
    lua_pushinteger(L, (lua_Integer)n);
    status = lua_pcall(L, 2, 1, 0);
    lua_settop(L, 0);
    return status;
}

long long lc_floor_getitem_i(lc_runtime *rt, int ref, long long i)
{
    lua_State *L = rt->L;
    long long r;
    pthread_mutex_lock(&rt->lock);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_rawgeti(L, -1, (int)i);
    r = (long long)lua_tointeger(L, -1) << 3;
    lua_settop(L, 0);
    pthread_mutex_unlock(&rt->lock);
    return r;
}

int lc_floor_setitem_lua(lc_runtime *rt, int ref, long long i, long long value)
{
    lua_State *L = rt->L;
    pthread_mutex_lock(&rt->lock);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushinteger(L, (lua_Integer)(value >> 3));
    lua_rawseti(L, -2, (int)i);
    lua_settop(L, 0);
    pthread_mutex_unlock(&rt->lock);
    return 0;
}

long long lc_floor_lua_call(lc_runtime *rt, int ref, long long unused)
{
    lua_State *L = rt->L;
    (void)unused;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        lua_settop(L, 0);
        return LC_P_NIL;
    }
    return (long long)luaL_ref(L, LUA_REGISTRYINDEX) << 3;
}

long long lc_floor_lua_unref(lc_runtime *rt, int ref, long long unused)
{
    (void)unused;
    luaL_unref(rt->L, LUA_REGISTRYINDEX, ref);
    return 0;
}

int lc_floor_next_ints(lc_runtime *rt, int ref, long long *column, int npairs)
{
    lua_State *L = rt->L;
    int n = 0;
    if (lua_gettop(L) == 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        lua_pushnil(L);
    }
    while (n < npairs && lua_next(L, 1)) {
        column[2 * n] = (long long)lua_tointeger(L, -2);
        column[2 * n + 1] = (long long)lua_tointeger(L, -1);
        lua_pop(L, 1);
        n++;
    }
    if (n < npairs)
        lua_settop(L, 0);
    return n;
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
