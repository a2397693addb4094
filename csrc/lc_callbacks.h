/* The one callback from C into Python (cffi `extern "Python"`).
   `op` says what to do (enum lc_op), `args` are the Lua values involved, and
   the return value counts the results written to `out` (at most `nout`; a larger
   count means "call again with LC_OP_FETCH"), or is an enum lc_cb_status. */
extern "Python" int lc_py_dispatch(int rid, int op, lc_val *args, int nargs,
                                   lc_val *out, int nout);

/* The two most common callbacks, with scalars only (no lc_val buffers):
   Lua calls a Python object with one int (one that Python gets as an int),
   or reads a string key of a Python object.  They return the one result
   packed (enum lc_packed: an int, a boolean or nil); LC_P_OUT (or anything
   else) means that the result, or the error, waits in Python, and C then
   asks for it with lc_py_dispatch(LC_OP_PENDING).  A key is read by its
   `name`, its number among the names the runtime keeps (lc_name_number in
   lc_pyobject.c), so that Python decodes each name once: lc_py_index when
   Python knows the number (else it returns LC_P_ERR), lc_py_index_key with
   the key's bytes when not, with its number (0 for a key not kept). */
extern "Python" long long lc_py_call1(int rid, long long handle, long long arg);
extern "Python" long long lc_py_index(int rid, long long handle, int name);
extern "Python" long long lc_py_index_key(int rid, long long handle, const char *key,
                                          size_t len, int name);
