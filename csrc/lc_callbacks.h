/* The one callback from C into Python (cffi `extern "Python"`).
   `op` says what to do (enum lc_op), `args` are the Lua values involved, and
   the return value counts the results written to `out` (at most `nout`; a larger
   count means "call again with LC_OP_FETCH"), or is an enum lc_cb_status. */
extern "Python" int lc_py_dispatch(int rid, int op, lc_val *args, int nargs,
                                   lc_val *out, int nout);

/* The two most common callbacks, with scalars only (no lc_val buffers):
   Lua calls a Python object with one argument that packs (enum lc_packed:
   an int, a boolean or nil), or reads a string key of a Python object.
   They return the one result packed; LC_P_OUT (or anything else) means that
   the result, or the error, waits in Python, and C then asks for it with
   lc_py_dispatch(LC_OP_PENDING).  `name` numbers the key among the names
   the runtime keeps (lc_name_number in lc_pyobject.c), so that Python
   decodes each name once; 0 for a key it does not keep. */
extern "Python" long long lc_py_call1(int rid, long long handle, long long arg);
extern "Python" long long lc_py_index(int rid, long long handle, const char *key, size_t len,
                                      int name);
