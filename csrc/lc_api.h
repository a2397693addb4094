/* The entry points Python calls (cffi cdef and C prototypes alike).
   Every entry point that touches Lua takes the runtime's re-entrant lock, runs
   its work under a protected call and returns a status (see enum lc_status) or
   a count of results.  Results are written to `out`; strings in them stay
   valid until the calling thread's next entry point.  On error, out[0] is the
   error value and out[1] the Lua traceback (a string, or nil). */

/* Facts about the compiled Lua. */
int lc_lua_version_num(void);
const char *lc_lua_implementation(void);
int lc_system_lua(void);   /* 1: built against a system Lua, without its internals */
long long lc_lua_maxinteger(void);
long long lc_lua_mininteger(void);

/* CPython only (lc_pycall.c), no-ops on PyPy.  lc_pycall_init: the
   addresses of types.FunctionType, of the backend's Python lc_py_call1,
   lc_py_index and handoff, and of _callbacks._ATTRIBUTE_TYPES, so that C
   calls them through the C API.  lc_pycall_bind: those of a runtime's
   _objects and _names dicts (names 0: attribute reads are not plain). */
void lc_pycall_init(long long function_type, long long call1, long long index1,
                    long long handoff, long long attribute_types,
                    long long pack_min, long long pack_max);
void lc_pycall_bind(lc_runtime *rt, long long objects, long long names);

/* Life cycle.  `rid` identifies the runtime in callbacks to Python.
   lc_init_python creates the `python` table; objects = {python.none,
   python.builtins, python.eval} (the latter two may be LC_NIL). */
lc_runtime *lc_new(int rid, int libs, int use_seed, unsigned int seed);
int lc_init_python(lc_runtime *rt, lc_val *objects, lc_val *out);
/* lc_close frees the Lua state (then every entry point returns
   LC_ERR_CLOSED); LC_ERR_DEPTH, and nothing done, while Lua runs (called
   from a callback).  lc_free frees the rest, once nothing uses rt. */
int lc_close(lc_runtime *rt);
/* a runtime that is closed for good (lc_free does nothing to it) */
lc_runtime *lc_closed_runtime(void);
void lc_free(lc_runtime *rt);

/* How the runtime's strings cross: enum lc_encoding in lc_types.h. */
void lc_set_encoding(lc_runtime *rt, int encoding);

/* Locking (re-entrant, per runtime; waiting happens without the GIL). */
void lc_lock(lc_runtime *rt);
void lc_unlock(lc_runtime *rt);

/* Releases a registry reference; safe from any thread at any time. */
void lc_unref(lc_runtime *rt, int ref);

/* Python objects among results are pinned until Python has taken them. */
void lc_unpin(lc_runtime *rt, long long handle);
/* and Python objects that Python registers for an entry, until it returns
   (delta 1, then -1) */
void lc_pin_handles(lc_runtime *rt, const long long *handles, int n, int delta);

/* Memory accounting (bytes; limit < 0 means none). */
long long lc_memory_used(lc_runtime *rt, int total);
long long lc_memory_limit(lc_runtime *rt, int total);
void lc_set_memory_limit(lc_runtime *rt, long long limit, int total);

/* Code. */
int lc_load(lc_runtime *rt, const char *code, size_t len, const char *name,
            const char *mode, lc_val *out);

/* The result buffer of the calling thread (LC_NOUT values): the entry
   points that return a packed result (enum lc_packed) leave there what does
   not fit in it, and their error values. */
#define LC_NOUT 64
lc_val *lc_thread_out(void);
/* Result strings of at least this many bytes are not copied there while
   lc_long_strings_to_python is 1: they reach Python as the str or bytes
   object Python made of them (LC_TAKEN; see lc_take_long_strings).  0 (the
   default, which PyPy keeps: there the copy is not what costs) copies them
   like the others. */
#define LC_LONG_STRING 65536
extern int lc_long_strings_to_python;
/* While lc_pack_results is 1 (CPython sets it: there reading an lc_val field
   costs more than a whole struct.unpack), results 2 to LC_NOUT are also
   written packed into this thread's pack buffer (LC_PACK_BYTES bytes), for
   one struct.unpack_from() to read:
     byte 0       n, or 0: the last results were not packed
     bytes 1..n   the tag of each value (enum lc_tag: LC_NIL, LC_BOOL,
                  LC_INT, LC_FLOAT, LC_STR or LC_REF)
     then         one field per value, native byte order, no padding: nil and
                  booleans 1 byte, the rest 8 (a string its length, a
                  reference its registry reference << 4 | its Lua type)
     then         the strings' bytes, one after the other.
   Results with a Python object among them, a Lua 5.1/LuaJIT float of 2^53
   or more, or too many bytes are not packed. */
#define LC_PACK_BYTES 4096
extern int lc_pack_results;
char *lc_thread_pack(void);

/* Calling (functions and callable objects) and coroutines: packed results. */
long long lc_call(lc_runtime *rt, int ref, lc_val *args, int nargs);
/* the same for a chunk that lc_load compiled (ref): runs a new closure of it,
   as if the same code had been loaded again (see lc_fresh_chunk) */
long long lc_call_chunk(lc_runtime *rt, int ref, lc_val *args, int nargs);
int lc_fetch(lc_val *out, int n);
/* The ints of vals[0..n) copied into `ints` if they are all LC_INT (1), for
   Python to make the list of a batch of them in one go; 0 if not. */
int lc_int_column(const lc_val *vals, int n, long long *ints);
/* The strings of this thread's last results, one after the other (each
   followed by a NUL): for converting a batch of results in one go. */
const char *lc_result_strings(size_t *len);
/* the same with one argument of a common type, no struct to fill; an int
   that Lua cannot hold exactly (Lua 5.1, LuaJIT: beyond 2^53) gives
   LC_P_ERR with status LC_ERR_RANGE, and Python takes the general way */
long long lc_call_i(lc_runtime *rt, int ref, long long i);
long long lc_call_d(lc_runtime *rt, int ref, double d);
long long lc_call_s(lc_runtime *rt, int ref, const char *s, size_t len);
/* the same with up to LC_MAX_PACKED_ARGS arguments of the common types
   packed by Python's struct module (see lc_unpack_args in lc_ops.c) */
#define LC_MAX_PACKED_ARGS 16
long long lc_call_p(lc_runtime *rt, int ref, int n, const char *sig, const char *data,
                    const char *strs);
long long lc_call_chunk_p(lc_runtime *rt, int ref, int n, const char *sig, const char *data,
                          const char *strs);
int lc_newthread(lc_runtime *rt, int fref, lc_val *out);
long long lc_resume(lc_runtime *rt, int coref, lc_val *args, int nargs);
long long lc_resume_i(lc_runtime *rt, int coref, long long i);
long long lc_resume_p(lc_runtime *rt, int coref, int n, const char *sig, const char *data,
                      const char *strs);
int lc_costatus(lc_runtime *rt, int coref);

/* Tables and other objects. */
int lc_globals(lc_runtime *rt, lc_val *out);
long long lc_getitem(lc_runtime *rt, int ref, lc_val *key);
long long lc_getitem_i(lc_runtime *rt, int ref, long long key);
long long lc_getitem_s(lc_runtime *rt, int ref, const char *key, size_t len);
/* status 0 or < 0 (the error in the thread's result buffer) */
int lc_setitem(lc_runtime *rt, int ref, lc_val *key, lc_val *value);
/* the same for an int key (as lc_call_i) and a value that packs (enum
   lc_packed: an int, a boolean or nil) */
int lc_setitem_i(lc_runtime *rt, int ref, long long key, long long value);
long long lc_len(lc_runtime *rt, int ref);
/* The next batch of a raw traversal of table ref: up to cap keys (what 1),
   values (2) or keys and values (3), as results (the first LC_NOUT in this
   thread's result buffer, all of them for lc_fetch); *cursor (enum
   lc_cursor) says where the last batch ended.  The cursor is read and moved
   under the runtime's lock: threads sharing it each get batches of their
   own. */
int lc_next(lc_runtime *rt, int ref, int *cursor, int what, int cap);
int lc_tostring(lc_runtime *rt, int ref, lc_val *out);
int lc_fill_table(lc_runtime *rt, int ref, lc_val *items, int npairs, lc_val *out);
/* the same from a column of n keys and one of n values (at most one of the
   two of kind LC_COL_VALS); a new table is made with room for narr + nrec */
int lc_fill_columns(lc_runtime *rt, int ref, int n, lc_column *keys, lc_column *values,
                    int narr, int nrec, lc_val *out);
long long lc_topointer(lc_runtime *rt, int ref);

/* Execution limits for each outermost call: instructions < 0 and
   seconds <= 0 mean none. */
void lc_set_limits(lc_runtime *rt, long long instructions, double seconds);
void lc_limits_carry(long long used_instructions, long long used_ns);
void lc_limits_used(long long *out);

/* From any thread (or a signal handler), without the lock: stops the Lua
   code running in rt at its next instruction (LC_ERR_INTERRUPTED).  Returns
   1 if a call was running, 0 if not (then nothing happens). */
int lc_interrupt(lc_runtime *rt);

/* After LC_ERR_INSTRUCTIONS or LC_ERR_TIME: the frame records (see
   lc_traceback.c) of where this thread's Lua was stopped, once; 0 if none. */
int lc_stop_traceback(lc_val *out);

/* From a callback: the error being raised must not be catchable in Lua. */
void lc_abort(lc_runtime *rt);

/* The metatable of Python-object userdata, as a table reference in out[0]
   (asyncio support replaces its __call). */
int lc_pyobj_metatable(lc_runtime *rt, lc_val *out);

/* Reference cycles through Lua and Python (lc_gc.c, used by _cycles.py).
   lc_gc_begin locks rt if no thread uses it (1; else 0, nothing locked);
   lc_gc_scan (locked) finds the Python objects that Lua reaches only through
   the wrappers' references refs (sorted): *pairs = (index in refs, handle)
   for each, a buffer for lc_free_buffer; returns their number.  lc_gc_end
   unlocks; frozen = 1 makes the next entry call back (LC_OP_THAW) first.
   lc_gc_pending: did rt get new references or Python objects since its last
   scan (without the lock: a hint)?  lc_gc_relock locks rt again to end its
   window from outside an entry (1; 0, nothing locked, when another thread
   holds rt or an entry ended the window already); lc_gc_end unlocks. */
int lc_gc_pending(lc_runtime *rt);
int lc_gc_begin(lc_runtime *rt);
int lc_gc_relock(lc_runtime *rt);
int lc_gc_scan(lc_runtime *rt, const int *refs, int nrefs, long long **pairs, lc_val *out);
void lc_gc_end(lc_runtime *rt, int frozen);
void lc_gc_thawed(lc_runtime *rt);
void lc_free_buffer(void *p);

/* Garbage collection: what = 0 collect, 1 stop, 2 restart, 3 is it running? */
int lc_gc(lc_runtime *rt, int what, lc_val *out);
