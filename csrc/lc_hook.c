/* Stopping Lua for sure: execution limits (instructions, wall-clock time)
   and aborts requested by Python (KeyboardInterrupt, SystemExit raised in a
   callback).  Both work through a count hook.  Once a stop is triggered the
   hook fires on every instruction and raises the stop again, so `pcall` and
   `xpcall` cannot swallow it; it is cleared when control returns to Python.

   PUC Lua has per-coroutine hooks, inherited by new coroutines; LuaJIT's hook
   is global, and a limited LuaJIT runtime runs with the JIT compiler off,
   since compiled code never calls hooks.

   lc_interrupt() stops Lua from another thread (or a signal handler) without
   the lock, through the same hook; see "interrupts" below. */
#include <time.h>
#include <sched.h>

#define LC_HOOK_EVERY 1000    /* instructions between two checks */

/* LuaJIT has no limit on C recursion: coroutines resuming each other,
   string.gsub callbacks calling string.gsub (8 KiB of buffer per level) and
   the like recurse on the C stack until the process dies.  With the hook
   installed (limits, the sandbox), it measures the C stack used since the
   outermost entry and raises "C stack overflow" beyond LC_CSTACK_MAX.  The
   hook runs every 1000 instructions, which nest at most a few hundred
   levels more (about 1.5 MiB of gsub levels in the worst case): the total
   stays far below the 8 MiB of a main thread or a default pthread.  PUC
   Lua counts its C calls itself (LUAI_MAXCCALLS). */
#define LC_CSTACK_MAX (1 << 20)

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

/* Did lc_interrupt() ask to stop the running call? */
static int lc_interrupt_pending(lc_runtime *rt)
{
    return __atomic_load_n(&rt->ireq, __ATOMIC_SEQ_CST) == rt->gen && (rt->gen & 1);
}

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
#if defined(LC_SYSTEM_LUA)
    /* (not possible through the API: such a handler is not stoppable) */
#elif defined(LC_LUAJIT)
    hook_leave(G(L));
#else
    L->allowhook = 1;
#endif
    if (rt->stop == LC_STOP_PYTHON)
        lua_rawgeti(L, LUA_REGISTRYINDEX, rt->stop_ref);
    else
        lua_pushstring(L, rt->stop == LC_STOP_INSTRUCTIONS ? "instruction limit exceeded"
                          : rt->stop == LC_STOP_TIME ? "time limit exceeded" : "interrupted");
    lua_error(L);
}

/* Raises "C stack overflow" (an ordinary, catchable error) beyond
   LC_CSTACK_MAX, and checks on every instruction until the stack is back
   below it: a pcall that catches the error and recurses again cannot go
   deeper. */
static void lc_check_cstack(lc_runtime *rt, lua_State *L)
{
#ifdef LC_LUAJIT
    if (rt->cstack != NULL && rt->cstack - (char *)__builtin_frame_address(0) > LC_CSTACK_MAX) {
        if (lua_gethookcount(L) != 1)
            lc_install_hook(L, 1);
        hook_leave(G(L));
        lua_pushstring(L, "C stack overflow");
        lua_error(L);
    }
#else
    (void)rt;
    (void)L;
#endif
}

/* The checks that the hook, the pattern matcher and every coroutine resume
   share: a pending interrupt, then n more instructions counted against the
   budget, then the deadline.  Raises the stop that is due (a Lua error). */
static void lc_charge(lc_runtime *rt, lua_State *L, long long n)
{
    if (!rt->stop && lc_interrupt_pending(rt))
        rt->stop = LC_STOP_INTERRUPT;
    if (!rt->stop && rt->budget >= 0 && (rt->budget -= n) < 0)
        rt->stop = LC_STOP_INSTRUCTIONS;
    if (!rt->stop && rt->deadline && lc_now_ns() > rt->deadline)
        rt->stop = LC_STOP_TIME;
    if (rt->stop)
        lc_raise_stop(rt, L);
}

static void lc_hook(lua_State *L, lua_Debug *ar)
{
    lc_runtime *rt = lc_runtime_of(L);
    (void)ar;
    if (!rt->stop && lc_interrupt_pending(rt))
        rt->stop = LC_STOP_INTERRUPT;
    if (rt->stop)
        lc_raise_stop(rt, L);
    if (!lc_hook_wanted(rt)) {           /* limits were lifted */
        lua_sethook(L, NULL, 0, 0);
        return;
    }
    if (lua_gethookcount(L) == 1) {      /* a stop is over: back to normal */
        lc_check_cstack(rt, L);
        lc_install_hook(L, LC_HOOK_EVERY);
        return;
    }
    lc_charge(rt, L, LC_HOOK_EVERY);
    lc_check_cstack(rt, L);
}

/* A hook slows every instruction down (Lua 5.4 checks it per instruction;
   LuaJIT stops compiling): it is installed only while limits are set or a
   stop is pending.  Coroutines created while it is installed inherit it
   (PUC Lua); those created before get it when they are resumed
   (lc_hook_coroutine, from Python and from the coroutine library's
   wrappers below). */
static int lc_hook_wanted(lc_runtime *rt)
{
    return rt->stop || rt->max_instructions >= 0 || rt->max_ns > 0 || lc_interrupt_pending(rt);
}

/* One budget for several outermost entries (an async call resumes its Lua
   coroutine once per await): lc_limits_carry() gives the next entry of this
   thread only what the earlier ones left, and lc_limits_used() reports what
   the last entry of this thread had used, the carried amounts included. */
LC_TLS int tls_carry;
LC_TLS long long tls_carry_instructions, tls_carry_ns, tls_used_instructions, tls_used_ns;

void lc_limits_carry(long long used_instructions, long long used_ns)
{
    tls_carry = used_instructions >= 0;       /* (-1: forget it) */
    tls_carry_instructions = used_instructions;
    tls_carry_ns = used_ns;
}

void lc_limits_used(long long *out)
{
    out[0] = tls_used_instructions;
    out[1] = tls_used_ns;
}

/* At the start of an outermost entry: a fresh budget, and the call can be
   interrupted (the chain first: lc_interrupt() reads it once gen is odd). */
static void lc_limits_begin(lc_runtime *rt)
{
    rt->budget = rt->max_instructions;
    rt->deadline = rt->max_ns > 0 ? lc_now_ns() + rt->max_ns : 0;
    if (tls_carry) {
        tls_carry = 0;
        if (rt->budget >= 0)
            rt->budget = rt->budget > tls_carry_instructions ? rt->budget - tls_carry_instructions : 0;
        if (rt->deadline)
            rt->deadline -= tls_carry_ns < rt->max_ns ? tls_carry_ns : rt->max_ns;
    }
    rt->cstack = (char *)__builtin_frame_address(0);
    /* Release stores, no fences (a fence costs as much as the rest of a
       short call): lc_interrupt() reads gen first, and the store of gen
       publishes chain and nchain to it.  Whichever way the store of gen and
       our own read of ireq (lc_hook_wanted) are ordered, an lc_interrupt()
       that sees the call running hooks chain[0] itself. */
    if (rt->chain[0] != rt->L)          /* the main thread: set once */
        __atomic_store_n(&rt->chain[0], rt->L, __ATOMIC_RELEASE);
    __atomic_store_n(&rt->nchain, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&rt->gen, rt->gen + 1, __ATOMIC_RELEASE);
    if (lc_hook_wanted(rt) && lua_gethook(rt->L) == NULL)
        lc_install_hook(rt->L, LC_HOOK_EVERY);
}

/* At the end of an outermost entry: whatever stopped Lua is over. */
static void lc_limits_end(lc_runtime *rt)
{
    /* (release only, as in lc_limits_begin: a late lc_interrupt() may still
       hook the main thread, and that hook removes itself) */
    tls_used_instructions = rt->budget >= 0 ? rt->max_instructions - rt->budget : 0;
    tls_used_ns = rt->deadline ? lc_now_ns() - (rt->deadline - rt->max_ns) : 0;
    if (rt->gen & 1)
        __atomic_store_n(&rt->gen, rt->gen + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&rt->nchain, 0, __ATOMIC_RELEASE);
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

/* Before a coroutine is resumed (by Python, or by Lua through the wrappers
   below): it joins the chain of running threads that lc_interrupt() hooks,
   and it gets the hook if limits are on (a coroutine created before the
   limits were set has none of its own) or a stop is pending.  The caller
   truncates the chain again afterwards (lc_run, lc_co_call). */
static void lc_hook_coroutine(lc_runtime *rt, lua_State *co)
{
    int d = rt->nchain;
    if (d < LC_CHAIN)         /* (published by the store of nchain) */
        __atomic_store_n(&rt->chain[d], co, __ATOMIC_RELEASE);
    __atomic_store_n(&rt->nchain, d + 1, __ATOMIC_SEQ_CST);     /* a fence before ireq is read */
    if (rt->stop || lc_interrupt_pending(rt))
        lc_install_hook(co, 1);
    else if (lc_hook_wanted(rt) && lua_gethook(co) == NULL)
        lc_install_hook(co, LC_HOOK_EVERY);
}

/* Called by lc_callback: a C loop that calls Python (gsub with a Python
   function, say) runs no Lua instructions, so the hook alone would miss the
   deadline. */
static void lc_check_deadline(lc_runtime *rt, lua_State *L)
{
    if (!rt->stop)
        lc_charge(rt, L, 0);
}

/* ---- pattern matching --------------------------------------------------------
   The string library's matcher (patched by vendor/patch_strlib.py) calls this
   every LC_MATCH_EVERY steps: the stop of a limit or an interrupt is raised
   there as in the hook, and the steps count as instructions.  Lua raises its
   own errors from the same place (malformed patterns). */
#ifdef LC_MATCH_HOOK
#define LC_MATCH_EVERY 4096
extern void (*lc_match_check)(lua_State *L);

static void lc_match_step(lua_State *L)
{
    lc_runtime *rt = lc_runtime_of(L);
    if (rt->depth == 0 || !lc_hook_wanted(rt))
        return;                   /* (a runtime without limits: nothing to do) */
    lc_charge(rt, L, LC_MATCH_EVERY);
}
#endif

static void lc_init_match_hook(void)
{
#ifdef LC_MATCH_HOOK
    lc_match_check = lc_match_step;
#endif
}

/* ---- interrupts ------------------------------------------------------------
   lc_interrupt() runs in another thread (or in a signal handler) while Lua
   runs, so it takes no lock: it marks the running call (rt->gen, odd while a
   call runs, changes with every call, so a late interrupt cannot hit the next
   call) and sets a count hook of 1 on every thread that may be running Lua:
   PUC Lua's hooks are per coroutine, and a running coroutine has no hook
   unless limits are on.  lua_sethook is meant for this (lua.c calls it from
   its SIGINT handler).

   The chain lists the main thread and the coroutines resumed since (by the
   wrappers below and by Python), innermost last; a resume truncates it again
   when it returns.  An error thrown through a resume skips the truncation,
   so the chain may hold coroutines that no longer run (harmless: the hook
   removes itself) until an outer resume returns.  Those may even be
   collected: the allocator (lc_alloc_chain) removes a thread from the chain
   before freeing it, and waits while lc_interrupt() is reading the chain. */
int lc_interrupt(lc_runtime *rt)
{
    long long gen = __atomic_load_n(&rt->gen, __ATOMIC_SEQ_CST);
    int k, n;
    if (!(gen & 1))
        return 0;                       /* nothing runs */
    __atomic_store_n(&rt->ireq, gen, __ATOMIC_SEQ_CST);
    if (__atomic_exchange_n(&rt->ilock, 1, __ATOMIC_SEQ_CST))
        return 1;                       /* another lc_interrupt() is at it */
    n = __atomic_load_n(&rt->nchain, __ATOMIC_SEQ_CST);
#ifdef LC_LUAJIT
    n = n > 1 ? 1 : n;                  /* one hook for all coroutines */
#endif
    for (k = 0; k < n && k < LC_CHAIN; k++) {
        lua_State *L = __atomic_load_n(&rt->chain[k], __ATOMIC_SEQ_CST);
        if (L != NULL)
            lua_sethook(L, lc_hook, LUA_MASKCOUNT, 1);
    }
    __atomic_store_n(&rt->ilock, 0, __ATOMIC_SEQ_CST);
    return 1;
}

/* The allocator of every runtime: lc_alloc, and before a block that may be
   a thread is freed, the thread leaves the chain (see above). */
#ifdef LC_SYSTEM_LUA
#define LC_THREAD_SIZE 1          /* unknown: any block may be a thread */
#else
#define LC_THREAD_SIZE sizeof(lua_State)
#endif
static void *lc_alloc_chain(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lc_runtime *rt = (lc_runtime *)ud;
    if (nsize == 0 && ptr != NULL && osize >= LC_THREAD_SIZE) {
        char *p = (char *)ptr;
        int k, n = __atomic_load_n(&rt->nchain, __ATOMIC_SEQ_CST);
        for (k = 0; k < n && k < LC_CHAIN; k++) {
            char *s = (char *)rt->chain[k];
            if (s >= p && s < p + osize)
                __atomic_store_n(&rt->chain[k], NULL, __ATOMIC_SEQ_CST);
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        while (__atomic_load_n(&rt->ilock, __ATOMIC_SEQ_CST))
            sched_yield();
    }
    return lc_alloc(ud, ptr, osize, nsize);
}

/* ---- the coroutine library -------------------------------------------------
   On PUC Lua a coroutine resumed by Lua code must get the hook (and join the
   chain) as well: coroutine.resume, coroutine.close and the functions made
   by coroutine.wrap are replaced by C functions that do that and then run
   the library's own C function in their own frame (a plain C call: no extra
   Lua frame or C-stack level, the same error messages; the originals are
   not reachable from Lua at all).  LuaJIT's hook is global: nothing to do. */
#ifndef LC_LUAJIT
#define LC_RESUME_COST 100        /* instructions charged per resume */
static int lc_co_call(lua_State *L, lua_State *co, lua_CFunction f)
{
    lc_runtime *rt = lc_runtime_of(L);
    int d = rt->nchain, n;
    if (co == NULL)
        return f(L);                    /* the library reports the error */
    /* A pending stop is raised in the resumer too, before and after: else a
       pcall around each resume would need a hook check (up to 1000
       instructions) per level to unwind, and a coroutine that keeps
       resuming new ones under pcall would never be stopped. */
    /* The count hook is per coroutine and a new coroutine starts counting
       afresh: a tree of short coroutines (each resuming the next before
       its 1000th instruction) would never reach a hook check.  So every
       resume costs LC_RESUME_COST instructions and checks the deadline and
       interrupts itself. */
    lc_charge(rt, L, LC_RESUME_COST);
    lc_hook_coroutine(rt, co);
    n = f(L);
    __atomic_store_n(&rt->nchain, d, __ATOMIC_SEQ_CST);
    if (rt->stop)
        lc_raise_stop(rt, L);
    return n;
}

static int lc_co_resume(lua_State *L)
{
    return lc_co_call(L, lua_tothread(L, 1), lc_runtime_of(L)->co_resume);
}

static int lc_co_close(lua_State *L)
{
    return lc_co_call(L, lua_tothread(L, 1), lc_runtime_of(L)->co_close);
}

/* A function made by coroutine.wrap: the library's own reads its coroutine
   from upvalue 1, which this closure has too. */
static int lc_co_auxwrap(lua_State *L)
{
    return lc_co_call(L, lua_tothread(L, lua_upvalueindex(1)), lc_runtime_of(L)->co_auxwrap);
}

static int lc_co_wrap(lua_State *L)
{
    lc_runtime *rt = lc_runtime_of(L);
    rt->co_wrap(L);                     /* pushes the library's function */
    rt->co_auxwrap = lua_tocfunction(L, -1);
    lua_getupvalue(L, -1, 1);           /* its coroutine */
    lua_pushcclosure(L, lc_co_auxwrap, 1);
    return 1;
}

static void lc_wrap_cofunction(lua_State *L, const char *name, lua_CFunction *orig,
                               lua_CFunction wrapper)
{
    lua_getfield(L, -1, name);
    *orig = lua_tocfunction(L, -1);
    lua_pop(L, 1);
    if (*orig != NULL) {
        lua_pushcfunction(L, wrapper);
        lua_setfield(L, -2, name);
    }
}
#endif

/* After the libraries are opened (the global `coroutine` is the same table
   as package.loaded.coroutine). */
static void lc_wrap_coroutine_lib(lc_runtime *rt, lua_State *L)
{
    lc_init_match_hook();
#ifndef LC_LUAJIT
    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, LUA_COLIBNAME);
        if (lua_istable(L, -1)) {
            lc_wrap_cofunction(L, "resume", &rt->co_resume, lc_co_resume);
            lc_wrap_cofunction(L, "wrap", &rt->co_wrap, lc_co_wrap);
            lc_wrap_cofunction(L, "close", &rt->co_close, lc_co_close);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
#else
    (void)rt;
    (void)L;
#endif
}
