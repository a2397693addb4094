/* Stopping Lua for sure: execution limits (instructions, wall-clock time)
   and aborts requested by Python (KeyboardInterrupt, SystemExit raised in a
   callback).  Both work through a count hook.  Once a stop is triggered the
   hook fires on every instruction and raises the stop again, so `pcall` and
   `xpcall` cannot swallow it; it is cleared when control returns to Python.

   PUC Lua has per-coroutine hooks, inherited by new coroutines; LuaJIT's hook
   is global, and a limited LuaJIT runtime runs with the JIT compiler off,
   since compiled code never calls hooks. */
#include <time.h>

#define LC_HOOK_EVERY 1000    /* instructions between two checks */

static long long lc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static lc_runtime *lc_runtime_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return (lc_runtime *)ud;
}

static void lc_hook(lua_State *L, lua_Debug *ar);
static int lc_hook_wanted(lc_runtime *rt);

static void lc_install_hook(lua_State *L, int every)
{
    lua_sethook(L, lc_hook, LUA_MASKCOUNT, every);
}


/* Raises the pending stop in L, and makes L check on every instruction. */
static void lc_raise_stop(lc_runtime *rt, lua_State *L)
{
    if (lua_gethookcount(L) != 1)
        lc_install_hook(L, 1);
    /* Lua runs hooks with hooks off and an error handler (xpcall's) called
       for an error raised here would run without them, unstoppable: allow
       hooks again first.  (Lua restores the flag itself at the pcall.) */
#ifdef LC_LUAJIT
    hook_leave(G(L));
#else
    L->allowhook = 1;
#endif
    if (rt->stop == LC_STOP_PYTHON)
        lua_rawgeti(L, LUA_REGISTRYINDEX, rt->stop_ref);
    else
        lua_pushstring(L, rt->stop == LC_STOP_INSTRUCTIONS ? "instruction limit exceeded"
                                                           : "time limit exceeded");
    lua_error(L);
}

static void lc_hook(lua_State *L, lua_Debug *ar)
{
    lc_runtime *rt = lc_runtime_of(L);
    (void)ar;
    if (rt->stop)
        lc_raise_stop(rt, L);
    if (!lc_hook_wanted(rt)) {           /* limits were lifted */
        lua_sethook(L, NULL, 0, 0);
        return;
    }
    if (lua_gethookcount(L) == 1) {      /* a stop is over: back to normal */
        lc_install_hook(L, LC_HOOK_EVERY);
        return;
    }
    if (rt->budget >= 0) {
        rt->budget -= LC_HOOK_EVERY;
        if (rt->budget < 0) {
            rt->stop = LC_STOP_INSTRUCTIONS;
            lc_raise_stop(rt, L);
        }
    }
    if (rt->deadline && lc_now_ns() > rt->deadline) {
        rt->stop = LC_STOP_TIME;
        lc_raise_stop(rt, L);
    }
}

/* A hook slows every instruction down (Lua 5.4 checks it per instruction;
   LuaJIT stops compiling): it is installed only while limits are set or a
   stop is pending.  Once installed it stays, so that coroutines created after
   it inherit it (PUC Lua): limits set when the runtime is created cover all
   coroutines, limits set later do not cover coroutines created before. */
static int lc_hook_wanted(lc_runtime *rt)
{
    return rt->stop || rt->max_instructions >= 0 || rt->max_ns > 0;
}

/* At the start of an outermost entry: a fresh budget. */
static void lc_limits_begin(lc_runtime *rt)
{
    rt->budget = rt->max_instructions;
    rt->deadline = rt->max_ns > 0 ? lc_now_ns() + rt->max_ns : 0;
    if (lc_hook_wanted(rt) && lua_gethook(rt->L) == NULL)
        lc_install_hook(rt->L, LC_HOOK_EVERY);
}

/* At the end of an outermost entry: whatever stopped Lua is over. */
static void lc_limits_end(lc_runtime *rt)
{
    rt->stop = LC_STOP_NONE;
    rt->budget = -1;
    rt->deadline = 0;
    if (!lc_hook_wanted(rt))
        lua_sethook(rt->L, NULL, 0, 0);
    else if (lua_gethook(rt->L) == NULL || lua_gethookcount(rt->L) == 1)
        lc_install_hook(rt->L, LC_HOOK_EVERY);
}

void lc_set_limits(lc_runtime *rt, long long instructions, double seconds)
{
    pthread_mutex_lock(&rt->lock);
    rt->max_instructions = instructions >= 0 ? instructions : -1;
    rt->max_ns = seconds > 0 ? (seconds < 1e-9 ? 1 : (long long)(seconds * 1e9)) : 0;
    if (rt->depth > 0) {      /* a call is running: the new limits apply now */
        rt->budget = rt->max_instructions;
        rt->deadline = rt->max_ns > 0 ? lc_now_ns() + rt->max_ns : 0;
    }
    if (lc_hook_wanted(rt) && rt->L != NULL && lua_gethook(rt->L) == NULL)
        lc_install_hook(rt->L, LC_HOOK_EVERY);
#ifdef LC_LUAJIT
    /* compiled code never runs hooks: a limited runtime runs interpreted */
    if (rt->L != NULL) {
        int limited = rt->max_instructions >= 0 || rt->max_ns > 0;
        if (limited)
            luaJIT_setmode(rt->L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_FLUSH);
        luaJIT_setmode(rt->L, 0, LUAJIT_MODE_ENGINE | (limited ? LUAJIT_MODE_OFF : LUAJIT_MODE_ON));
    }
#endif
    pthread_mutex_unlock(&rt->lock);
}

void lc_abort(lc_runtime *rt)
{
    rt->stop = LC_STOP_PYTHON;        /* lc_callback raises it (lock held) */
}

/* Called by lc_callback with the error value on top of the stack when
   Python asked for an abort: remember the value and raise it everywhere. */
static void lc_begin_abort(lc_runtime *rt, lua_State *L)
{
    lua_pushvalue(L, -1);
    lua_rawseti(L, LUA_REGISTRYINDEX, rt->stop_ref);
#ifdef LC_LUAJIT
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_FLUSH);
#endif
    lc_install_hook(L, 1);
    if (L != rt->L)
        lc_install_hook(rt->L, 1);
}

/* Before Python resumes a coroutine: give it the hook if limits are on (a
   coroutine created before the limits were set has none of its own). */
static void lc_hook_coroutine(lc_runtime *rt, lua_State *co)
{
    if (lc_hook_wanted(rt) && lua_gethook(co) == NULL)
        lc_install_hook(co, LC_HOOK_EVERY);
}

/* Called by lc_callback: a C loop that calls Python (gsub with a Python
   function, say) runs no Lua instructions, so the hook alone would miss the
   deadline. */
static void lc_check_deadline(lc_runtime *rt, lua_State *L)
{
    if (rt->deadline && !rt->stop && lc_now_ns() > rt->deadline) {
        rt->stop = LC_STOP_TIME;
        lc_raise_stop(rt, L);
    }
}
