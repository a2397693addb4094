/* Do-nothing functions with the signatures of the hot entry points: the
   benchmarks' "floor" column, what one cffi call of that shape costs by
   itself (benchmarks/run.py times them in the same run as the real ones). */
long long lc_floor_call_i(lc_runtime *rt, int ref, long long i);    /* also getitem_i, resume_i */
long long lc_floor_call(lc_runtime *rt, int ref, lc_val *args, int nargs);
long long lc_floor_call_p(lc_runtime *rt, int ref, int n, const char *sig, const char *data,
                          const char *strs);
long long lc_floor_getitem_s(lc_runtime *rt, int ref, const char *key, size_t len);
int lc_floor_setitem_i(lc_runtime *rt, int ref, long long key, long long value);
/* calls lc_py_floor (a callback of lc_py_dispatch's signature) n times */
void lc_floor_callbacks(int n, lc_val *args, lc_val *out);
extern "Python" int lc_py_floor(int rid, int op, lc_val *args, int nargs, lc_val *out, int nout);
