/* Python objects inside Lua: the userdata metatable, the `python` table and
   the trampoline that carries every Lua->Python operation to the one cffi
   callback, lc_py_dispatch.  A Python exception never unwinds through C: the
   callback returns LC_CB_ERROR and the trampoline raises the Lua error after
   Python has returned. */

#define LC_NVALS 8            /* arguments and results kept on the C stack */

static void lc_release_handle(lc_runtime *rt, long long h)
{
    lc_val v;
    v.tag = LC_PYOBJ;
    v.i = h;
    lc_py_dispatch(rt->rid, LC_OP_RELEASE, &v, 1, NULL, 0);
}

static int lc_callback(lua_State *L);

/* Pushes a trampoline closure for `op`; with_obj binds the value on top of
   the stack (replacing it) as the callback's first argument. */
static void lc_push_callback(lua_State *L, lc_runtime *rt, int op, int with_obj)
{
    lua_pushlightuserdata(L, rt);
    lua_pushinteger(L, op);
    if (with_obj) {
        lua_pushvalue(L, -3);
        lua_pushcclosure(L, lc_callback, 3);
        lua_remove(L, -2);
    } else {
        lua_pushcclosure(L, lc_callback, 2);
    }
}

static int fn_push_results(lua_State *L, lc_ctx *c)
{
    /* (+ 4: pushing a Python object uses three slots above it for a moment) */
    luaL_checkstack(L, c->nargs + 4, "too many results");
    lc_push_vals(c->rt, L, c->args, c->nargs);
    return c->nargs;
}

/* Pushes a callback's n results.  Python objects among them were registered
   by Python and are pinned until they are in Lua; the pushing runs protected
   so that a memory error cannot skip the unpinning (and leak the objects).
   Raises that error after unpinning. */
static void lc_push_results(lc_runtime *rt, lua_State *L, lc_val *vals, int n)
{
    lc_ctx c;
    int k, pyobjs = 0, status;
    for (k = 0; k < n; k++)
        pyobjs |= vals[k].tag == LC_PYOBJ;
    if (!pyobjs) {
        luaL_checkstack(L, n, "too many results");
        lc_push_vals(rt, L, vals, n);
        return;
    }
    memset(&c, 0, sizeof c);
    c.rt = rt;
    c.fn = fn_push_results;
    c.args = vals;
    c.nargs = n;
    luaL_checkstack(L, n + 2, "too many results");   /* (may raise: before pinning) */
    lc_pin(rt, vals, n, +1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->body_ref);
    lua_pushlightuserdata(L, &c);
    /* LUA_MULTRET: a count of results is limited (250 in Lua 5.5) */
    status = lua_pcall(L, 1, LUA_MULTRET, 0);
    lc_pin(rt, vals, n, -1);
    if (status != LUA_OK)
        lua_error(L);
}

/* The number of the string at idx among the attribute names rt keeps, which
   Python decodes once each (lc_py_index_key): the names table maps each to
   its number and keeps it alive, so that a number never means another
   string.  0 for a string it does not keep: a long one, or a new one when
   LC_NAMES are kept already or under a memory limit (where the table's growth
   could fail the read).  *fresh is 1 for a number given now, which Python
   does not know yet.  A slot of rt->name_slots remembers a numbered name by
   a copy of its bytes, so that a read of a recent name asks no table. */
static int lc_name_number(lc_runtime *rt, lua_State *L, int idx, const char *key, size_t len,
                          int *fresh)
{
    lc_name_slot *slot = &rt->name_slots[((size_t)key >> 4) % LC_NAME_SLOTS];
    int number;
    *fresh = 0;
    if (len > LC_KEY_MAX)
        return 0;
    if (slot->number != 0 && slot->len == len && memcmp(slot->bytes, key, len) == 0)
        return slot->number;
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->names_ref);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    number = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (number == 0 && rt->nnames < LC_NAMES && rt->limit == 0) {
        number = ++rt->nnames;         /* (before rawset, which may run finalizers) */
        *fresh = 1;
        lua_pushvalue(L, idx);
        lua_pushinteger(L, number);
        lua_rawset(L, -3);
    }
    lua_pop(L, 1);
    if (number != 0) {
        slot->number = number;
        slot->len = len;
        memcpy(slot->bytes, key, len);
    }
    return number;
}

/* Lua reads the string key at 2 of the Python object ud: by its number
   when Python knows the name, else with its bytes. */
static long long lc_index_packed(lc_runtime *rt, lua_State *L, lc_pyud *ud)
{
    size_t len;
    int fresh;
    const char *key = lua_tolstring(L, 2, &len);
    int number = lc_name_number(rt, L, 2, key, len, &fresh);
    long long r = LC_P_ERR;
    if (number != 0 && !fresh && !lc_pycall(rt, LC_PYCALL_INDEX, ud->h, number, &r))
        r = lc_py_index(rt->rid, ud->h, number);
    if (r == LC_P_ERR)
        r = lc_py_index_key(rt->rid, ud->h, key, len, number);
    return r;
}

/* Whether the value at idx is a number that Python gets as an int (*i). */
static int lc_int_arg(lua_State *L, int idx, long long *i)
{
#if LC_HAS_INTEGERS
    if (!lua_isinteger(L, idx))
        return 0;
    *i = (long long)lua_tointeger(L, idx);
    return 1;
#else
    return lua_type(L, idx) == LUA_TNUMBER && lc_whole_int((double)lua_tonumber(L, idx), i);
#endif
}

/* The scalar callbacks (lc_callbacks.h) where they apply: Lua calls the
   Python object at 1 with one int, or reads a string key of it, from an
   entry nested LC_FAST_DEPTH deep at most.  Returns the number of results
   pushed, -1 when Python holds the result (LC_OP_PENDING fetches it), -2
   when they do not apply. */
static int lc_callback_packed(lc_runtime *rt, lua_State *L, int op)
{
    lc_pyud *ud;
    long long arg, r;
    if (lua_type(L, 1) != LUA_TUSERDATA || (ud = lc_topyud(rt, L, 1)) == NULL || ud->h == 0)
        return -2;
    if (op == LC_OP_INDEX) {
        if (lua_type(L, 2) != LUA_TSTRING)
            return -2;
        r = lc_index_packed(rt, L, ud);
    } else {
        if (!lc_int_arg(L, 2, &arg))
            return -2;
        if (!lc_pycall(rt, LC_PYCALL_CALL1, ud->h, arg, &r))   /* (CPython: lc_pycall.c) */
            r = lc_py_call1(rt->rid, ud->h, arg);
    }
    switch (r & 7) {
    case LC_P_INT:
        lc_push_int(L, r >> 3);
        return 1;
    case LC_P_BOOL:
        lua_pushboolean(L, (int)(r >> 3));
        return 1;
    case LC_P_NIL:
        lua_pushnil(L);
        return 1;
    default:
        return -1;
    }
}

/* A Lua finalizer can still see a userdata whose own finalizer ran in the
   same cycle: its Python object is released (lc_to_val made it a plain
   reference).  Using it is a Lua error, as in lupa ("deleted python object"),
   after the references of the converted arguments are dropped. */
static void lc_check_live(lc_runtime *rt, lua_State *L, lc_val *args, int n, int k)
{
    int j;
    if (lc_topyud(rt, L, k + 1) == NULL)      /* some other userdata */
        return;
    for (j = 0; j < n; j++)
        if (args[j].tag == LC_REF)
            luaL_unref(L, LUA_REGISTRYINDEX, (int)args[j].i);
    luaL_argerror(L, k + 1, "deleted python object");
}

static int lc_callback(lua_State *L)
{
    lc_runtime *rt = (lc_runtime *)lua_touserdata(L, lua_upvalueindex(1));
    int op = (int)lua_tointeger(L, lua_upvalueindex(2));
    lc_val argbuf[LC_NVALS], outbuf[LC_NVALS];
    lc_check_deadline(rt, L);
    lc_val *args = argbuf, *out = outbuf;
    int n, k, r;
    if (!lua_isnoneornil(L, lua_upvalueindex(3))) {
        lua_pushvalue(L, lua_upvalueindex(3));
        lua_insert(L, 1);
    }
    n = lua_gettop(L);
    r = n == 2 && (op == LC_OP_CALL || op == LC_OP_INDEX) && rt->depth <= LC_FAST_DEPTH
            ? lc_callback_packed(rt, L, op)
            : -2;
    if (r >= 0)
        return r;
    if (r == -1) {            /* what Python holds goes through out */
        op = LC_OP_PENDING;
        n = 0;
    }
    if (n > LC_NVALS)
        args = (lc_val *)lc_newuserdata(L, sizeof(lc_val) * (size_t)n);
    for (k = 0; k < n; k++)
        lc_to_val(rt, L, k + 1, &args[k]);
    for (k = 0; k < n; k++)
        if (args[k].tag == LC_REF && args[k].aux == LUA_TUSERDATA)
            lc_check_live(rt, L, args, n, k);
    /* the error raised if Python fails before it can report anything itself
       (cffi returns LC_CB_ERROR then, e.g. when Python's stack is exhausted) */
    out[0].tag = LC_STR;
    out[0].s = "Python callback failed (is Python's recursion limit reached?)";
    out[0].i = (long long)strlen(out[0].s);
    r = lc_py_dispatch(rt->rid, op, args, n, out, LC_NVALS);
    if (r == LC_CB_ERROR) {
        if (out[0].tag == LC_STR) {
            /* a message ("bad argument #1 to 'iter' ..."): prefixed with
               where Lua made the call, as luaL_error does */
            luaL_where(L, 1);
            lc_push_results(rt, L, out, 1);
            lua_concat(L, 2);
        } else {
            lc_push_results(rt, L, out, 1);     /* the error value (or a memory error) */
        }
        if (rt->stop == LC_STOP_PYTHON)
            lc_begin_abort(rt, L);
        return lua_error(L);
    }
    if (r == LC_CB_ITER) {
        /* out: the iterator's state object, then the state and control
           values of a generic for; returns a closure over the first instead */
        lc_push_results(rt, L, out, 3);
        lua_pushvalue(L, -3);
        lc_push_callback(L, rt, LC_OP_ITER_NEXT, 1);
        lua_replace(L, -4);
        return 3;
    }
    if (r == LC_CB_FUNC) {
        lc_push_results(rt, L, out, 1);
        lc_push_callback(L, rt, LC_OP_CALL, 1);
        return 1;
    }
    if (r <= 0)
        return 0;
    if (r > LC_NVALS) {       /* many results: fetch them into a Lua buffer */
        out = (lc_val *)lc_newuserdata(L, sizeof(lc_val) * (size_t)r);
        r = lc_py_dispatch(rt->rid, LC_OP_FETCH, NULL, 0, out, r);
        if (r < 0)
            r = 0;
    }
    lc_push_results(rt, L, out, r);
    return r;
}

static int lc_pyobj_gc(lua_State *L)
{
    lc_runtime *rt = (lc_runtime *)lua_touserdata(L, lua_upvalueindex(1));
    lc_pyud *ud = lc_topyud(rt, L, 1);
    if (ud != NULL && ud->h != 0) {
        long long h = ud->h;
        ud->h = 0;
        if (lc_counts_decr(&rt->counts, h) == 0)
            lc_release_handle(rt, h);
    }
    return 0;
}

static const struct { const char *name; int op; } lc_metamethods[] = {
    {"__index", LC_OP_INDEX}, {"__newindex", LC_OP_NEWINDEX},
    {"__call", LC_OP_CALL}, {"__tostring", LC_OP_TOSTRING},
    {"__eq", LC_OP_EQ}, {"__lt", LC_OP_LT}, {"__le", LC_OP_LE},
    {"__len", LC_OP_LEN}, {"__concat", LC_OP_CONCAT},
    {"__add", LC_OP_ADD}, {"__sub", LC_OP_SUB}, {"__mul", LC_OP_MUL},
    {"__div", LC_OP_DIV}, {"__mod", LC_OP_MOD}, {"__pow", LC_OP_POW},
    {"__unm", LC_OP_UNM}, {"__idiv", LC_OP_IDIV},
    {NULL, 0}
};

/* Creates the metatable of Python-object userdata (registry: rt->mt_ref). */
static void lc_open_pyobject(lc_runtime *rt, lua_State *L)
{
    int k;
    lua_newtable(L);
    for (k = 0; lc_metamethods[k].name != NULL; k++) {
        lc_push_callback(L, rt, lc_metamethods[k].op, 0);
        lua_setfield(L, -2, lc_metamethods[k].name);
    }
    lua_pushlightuserdata(L, rt);
    lua_pushcclosure(L, lc_pyobj_gc, 1);
    lua_setfield(L, -2, "__gc");
    lua_pushstring(L, "python object");
    lua_setfield(L, -2, "__name");
    rt->mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* The functions of the `python` table, in the order Python numbers them. */
static const char *const lc_pyfunc_names[] = {
    "", "iter", "iterex", "enumerate", "as_attrgetter", "as_itemgetter",
    "as_function", "args", "set_overflow_handler", NULL
};

static int fn_init_python(lua_State *L, lc_ctx *c)
{
    int k;
    lua_newtable(L);
    for (k = 1; lc_pyfunc_names[k] != NULL; k++) {
        lc_push_callback(L, c->rt, LC_OP_PYFUNC + k, 0);
        lua_setfield(L, -2, lc_pyfunc_names[k]);
    }
    lc_push_val(c->rt, L, &c->args[0]);         /* python.none */
    lua_pushvalue(L, -1);
    c->rt->none_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_setfield(L, -2, "none");
    if (c->args[1].tag == LC_PYOBJ) {
        lc_push_val(c->rt, L, &c->args[1]);
        lua_setfield(L, -2, "builtins");
    }
    if (c->args[2].tag == LC_PYOBJ) {
        lc_push_val(c->rt, L, &c->args[2]);
        lua_setfield(L, -2, "eval");
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");   /* package.loaded.python */
    if (lua_istable(L, -1)) {
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "python");
    }
    lua_pop(L, 1);
#if LUA_VERSION_NUM >= 502
    lua_setglobal(L, "python");
#else
    lua_setfield(L, LUA_GLOBALSINDEX, "python");
#endif
    c->result = 0;
    return 0;
}

int lc_init_python(lc_runtime *rt, lc_val *objects, lc_val *out)
{
    lc_ctx c;
    int r;
    lc_ctx_init(&c, fn_init_python, 0, out, 0);
    c.args = objects;
    r = lc_op(rt, &c, objects, 3);
    rt->base = rt->used;
    return r;
}

static int fn_pyobj_metatable(lua_State *L, lc_ctx *c)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->rt->mt_ref);
    c->result = lc_results(c->rt, L, 1, 1, c->out, c->nout);
    return 0;
}

int lc_pyobj_metatable(lc_runtime *rt, lc_val *out)
{
    lc_ctx c;
    lc_ctx_init(&c, fn_pyobj_metatable, 0, out, 1);
    return lc_op(rt, &c, NULL, 0);
}
