/* Internal header of the C shim: Lua headers, version compatibility and the
   runtime struct.  Compiled once per backend against that backend's Lua. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
#ifdef LC_LUAJIT
#include "luajit.h"
#endif

/* Internal headers, for what the API does not offer: L->allowhook and the
   collector's state (PUC Lua), hook_leave() (LuaJIT), new closures of a
   compiled chunk (lc_fresh_chunk).  A system Lua (LC_SYSTEM_LUA, the
   pkg-config fallback of build_ffi.py) has none of them: its build goes
   without those features (see where LC_SYSTEM_LUA is tested). */
#if defined(LC_SYSTEM_LUA)
#elif defined(LC_LUAJIT)
#include "lj_obj.h"
#include "lj_func.h"
#ifndef LUAJIT_USE_SYSMALLOC
#include "lj_alloc.h"
#include "lj_prng.h"
#define LC_LJ_ALLOC 1             /* LuaJIT's own allocator (lc_alloc.c) */
#endif
#else
#include "lstate.h"
#include "lfunc.h"
#include "lgc.h"
#endif

#include "lc_types.h"
#include "lc_api.h"
#include "lc_wrapper.h"

/* ---- Lua version compatibility ------------------------------------------ */
#if LUA_VERSION_NUM < 502
#define LUA_OK 0
#define lc_objlen(L, i) lua_objlen(L, i)
#define lc_pushglobaltable(L) lua_pushvalue(L, LUA_GLOBALSINDEX)
#else
#define lc_objlen(L, i) lua_rawlen(L, i)
#define lc_pushglobaltable(L) lua_pushglobaltable(L)
#endif

#if LUA_VERSION_NUM >= 503
#define LC_HAS_INTEGERS 1
#else
#define LC_HAS_INTEGERS 0
#endif

#if LUA_VERSION_NUM >= 504
#define lc_newuserdata(L, n) lua_newuserdatauv(L, n, 0)
#else
#define lc_newuserdata(L, n) lua_newuserdata(L, n)
#endif

/* ---- the runtime ------------------------------------------------------- */
#define LC_CHAIN 256           /* coroutine nesting lc_interrupt() can reach */

typedef struct lc_counts {     /* handle -> count, open addressing */
    long long *keys;           /* 0 = empty slot */
    int *counts;
    size_t cap, len;
} lc_counts;

/* A string key remembered for the fast paths of t[k] (lc_ops.c): a registry
   reference to its Lua string, so that pushing it makes no new string. */
#define LC_KEYS 64             /* remembered per runtime, one per hash slot */
#define LC_KEY_MAX 64          /* the longest key remembered, in bytes */
#define LC_NAMES 256           /* attribute names numbered per runtime (lc_pyobject.c) */
typedef struct lc_key {
    unsigned hash;
    int len;
    int ref;                   /* 0: empty slot (luaL_ref never gives 0) */
} lc_key;

#define LC_NAME_SLOTS 64       /* attribute names remembered by their bytes */
typedef struct lc_name_slot {
    size_t len;
    int number;                /* 0: empty slot (names are numbered from 1) */
    char bytes[LC_KEY_MAX];
} lc_name_slot;

struct lc_runtime {
    lc_runtime_head head;      /* first: read by lc_wrapper.c, see lc_wrapper.h */
    lua_State *L;
    int rid;                   /* the Python side's id of this runtime */
    int closed;
    pthread_mutex_t lock;      /* re-entrant: one thread in Lua at a time */
    pthread_mutex_t qlock;     /* guards the unref queue only */
    int *unrefs;               /* references released while we were busy */
    int nunrefs, capunrefs;
#ifdef LC_LJ_ALLOC
    void *heap;                /* LuaJIT's allocator's heap (lc_alloc.c) */
    PRNGState prng;            /* ... and its randomness */
#endif
    size_t used;               /* bytes allocated by Lua */
    size_t peak;               /* the most it has been */
    size_t base;               /* bytes used by a fresh runtime */
    size_t limit;              /* total bytes allowed; 0 = unlimited */
    int grace;                 /* > 0: allocations may pass the limit (lc_globals) */
    int refused;               /* the limit refused an allocation (Lua 5.1, LuaJIT:
                                  see lc_emergency_gc) */
    int tb_debug;              /* the debug library was opened: the traceback
                                  text needs debug.traceback (lc_traceback.c) */
    int depth;                 /* nesting of entry points */
    int held;                  /* holds of the lock that may run Python (lc_gc.c) */
    volatile int frozen;       /* a heap scan's results are in use (lc_gc.c) */
    unsigned long serial;      /* counts new references and Python userdata ... */
    unsigned long scanned;     /* ... and its value at the last heap scan */
    lc_counts counts;          /* Python handles referenced from Lua */
    int cache_ref;             /* registry: weak table handle -> userdata */
    int none_ref;              /* registry: python.none */
    int mt_ref;                /* registry: the Python-object metatable */
    int body_ref;              /* registry: lc_body, the protected-call runner */
    int names_ref;             /* registry: attribute name -> its number (lc_pyobject.c) */
    /* CPython (lc_pycall.c): the runtime's dicts _objects (handle -> object)
       and _names (number -> attribute name), borrowed; NULL once closed,
       and _names NULL where attribute reads are not plain getattr */
    void *py_objects, *py_names;
    int nnames;                /* names numbered so far, at most LC_NAMES */
    int msgh_ref;              /* registry: lc_msgh, the error message handler */
    int tb_ref;                /* registry slot: traceback of the last error */
    int stop_ref;              /* registry slot: the error value of an abort */
    int stop;                  /* enum lc_stop: why Lua is being stopped */
    long long max_instructions;  /* per outermost call; -1 = none */
    long long max_ns;          /* per outermost call; 0 = none */
    long long budget;          /* instructions left in this call; -1 = none */
    long long deadline;        /* monotonic ns; 0 = none */
    char *cstack;              /* the C stack at the outermost entry (lc_hook.c) */
    /* lc_interrupt() (lc_hook.c): written without the lock */
    volatile long long gen;    /* odd while an outermost call runs */
    volatile long long ireq;   /* the gen of the call lc_interrupt() stops */
    volatile int ilock;        /* lc_interrupt() is reading the chain */
    volatile int nchain;       /* entries in chain (may exceed LC_CHAIN) */
    lua_State *volatile chain[LC_CHAIN];  /* [0] main thread, then the
                                 coroutines resumed since, innermost last */
    /* the coroutine library's own functions, which lc_hook.c wraps */
    lua_CFunction co_resume, co_wrap, co_auxwrap, co_close;
    lc_key keys[LC_KEYS];      /* string keys of recent t[k] (lc_ops.c) */
    lc_name_slot name_slots[LC_NAME_SLOTS];  /* numbered names (lc_name_number) */
};

#define LC_MAX_DEPTH 200       /* nested Python->Lua->Python... entries */
/* The scalar callbacks (lc_py_call1, lc_py_index, lc_py_index_key) serve
   calls from entries nested this deep at most: they do not count the
   nesting, so that deeper down only the general callback runs, which does
   (Callbacks._callback). */
#define LC_FAST_DEPTH 4
#define LC_PYOBJ_MT "lupacffi.pyobject"
#define LC_TB_KEY "lupacffi.traceback"

/* prototypes shared between the shim's .c files */
static int lc_py_dispatch(int rid, int op, lc_val *args, int nargs, lc_val *out, int nout);
static long long lc_py_call1(int rid, long long handle, long long arg);
static long long lc_py_index(int rid, long long handle, int name);
static long long lc_py_index_key(int rid, long long handle, const char *key, size_t len,
                                 int name);
static void lc_to_val(lc_runtime *rt, lua_State *L, int idx, lc_val *v);
static void lc_push_vals(lc_runtime *rt, lua_State *L, lc_val *vals, int n);
static void lc_push_val(lc_runtime *rt, lua_State *L, lc_val *v);
static void lc_pin(lc_runtime *rt, lc_val *vals, int n, int delta);
static int lc_results(lc_runtime *rt, lua_State *L, int first, int n, lc_val *out, int nout);
static void lc_copy_strings(lc_val *vals, int n);
static void lc_drop_results(lc_runtime *rt, int n);
static void lc_counts_incr(lc_counts *c, long long h);
static int lc_counts_decr(lc_counts *c, long long h);
static void lc_counts_free(lc_counts *c);
static int lc_counts_get(lc_counts *c, long long h);
static void lc_release_handle(lc_runtime *rt, long long h);
static int lc_msgh(lua_State *L);
static void lc_push_traceback(lua_State *L, lua_State *co, int level);
static void lc_open_pyobject(lc_runtime *rt, lua_State *L);
static void *lc_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
static void lc_limits_begin(lc_runtime *rt);
static void lc_limits_end(lc_runtime *rt);
static void lc_begin_abort(lc_runtime *rt, lua_State *L);
static void lc_install_hook(lua_State *L, int every);
static void lc_hook_coroutine(lc_runtime *rt, lua_State *co);
static void lc_check_deadline(lc_runtime *rt, lua_State *L);
static void lc_wrap_coroutine_lib(lc_runtime *rt, lua_State *L);
static void *lc_alloc_chain(void *ud, void *ptr, size_t osize, size_t nsize);
