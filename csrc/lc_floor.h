/* Do-nothing functions with the signatures of the hot entry points: the
   benchmarks' "floor" column, what one cffi call of that shape costs by
   itself (benchmarks/run.py times them in the same run as the real ones). */
long long lc_floor_call_i(lc_runtime *rt, int ref, long long i);    /* also getitem_i, resume_i */
long long lc_floor_call(lc_runtime *rt, int ref, lc_val *args, int nargs);
long long lc_floor_call_p(lc_runtime *rt, int ref, int n, const char *sig, const char *data,
                          const char *strs);
long long lc_floor_getitem_s(lc_runtime *rt, int ref, const char *key, size_t len);
int lc_floor_setitem_i(lc_runtime *rt, int ref, long long key, long long value);
/* call the callbacks of the signatures of lc_py_call1 (lc_py_floor_call1,
   with the arguments 1..n) and lc_py_index (lc_py_floor_index, with `name`
   each time) n times */
void lc_floor_call1s(int n, long long handle);
void lc_floor_indexes(int n, long long handle, int name);
extern "Python" long long lc_py_floor_call1(int rid, long long handle, long long arg);
extern "Python" long long lc_py_floor_index(int rid, long long handle, int name);
/* What Lua itself does in the callback rows, which lupa's time holds too:
   a Lua loop that calls (index 0: o(i)) or indexes (1: o.attr) a userdata
   n times, whose __call or __index is a C function calling the floor
   callback above (the frame floors of callback and py_attr).  Returns the
   lua_pcall status.  On a runtime of its own, one thread at a time. */
int lc_floor_lua_loop(lc_runtime *rt, int n, int index);
/* What t[i] needs in C whatever the wrapper, which lupa's time holds too:
   the runtime's lock, the table `ref` from the registry, its value at i (an
   int, returned packed) and the stack emptied (the frame floor of getitem). */
long long lc_floor_getitem_i(lc_runtime *rt, int ref, long long i);
/* The same for t[i] = v (v an int, packed): the lock, the table, the value
   pushed and raw-set at i, the stack emptied (the frame floor of setitem). */
int lc_floor_setitem_lua(lc_runtime *rt, int ref, long long i, long long value);
/* What Lua itself does in wrappers_10k: the function `ref` called without
   arguments under lua_pcall and its result referenced in the registry
   (returns that reference, packed as an int); and the reference released. */
long long lc_floor_lua_call(lc_runtime *rt, int ref, long long unused);
long long lc_floor_lua_unref(lc_runtime *rt, int ref, long long unused);
/* What Lua itself does in items_100k: the next `npairs` entries of the
   table `ref` (ints) by lua_next, keys and values into column; the table
   and the last key stay on the stack between calls.  Returns the number of
   pairs written, fewer than npairs at the end (the stack is then empty
   again).  On a runtime of its own, one thread at a time. */
int lc_floor_next_ints(lc_runtime *rt, int ref, long long *column, int npairs);
/* What Lua itself does with a long string pushed (lua_pushlstring): a new
   block of n bytes, s copied into it; the block of the call before is freed
   first (as Lua's collector frees the last call's string).  For the frame
   floors of the 1 MB string rows; one thread at a time. */
const char *lc_floor_copy(const char *s, size_t n);
