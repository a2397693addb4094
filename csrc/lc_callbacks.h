/* The one callback from C into Python (cffi `extern "Python"`).
   `op` says what to do (enum lc_op), `args` are the Lua values involved, and
   the return value counts the results written to `out` (at most `nout`; a larger
   count means "call again with LC_OP_FETCH"), or is an enum lc_cb_status. */
extern "Python" int lc_py_dispatch(int rid, int op, lc_val *args, int nargs,
                                   lc_val *out, int nout);
