/* CPython only: the scalar callbacks (lc_callbacks.h) through CPython's C
   API rather than cffi's extern "Python" entry, which by itself costs about
   as much as lupa's whole callback (benchmarks/README.md, `floor` of
   `callback`): C calls the backend's own Python lc_py_call1 and lc_py_index
   (_callbacks.scalar_callbacks) with the same arguments.  Backend.__init__
   hands them over by their addresses (their id() on CPython); the backend
   keeps them for the life of the process.  On PyPy lc_pycall declines, and
   the cffi callbacks serve. */

enum { LC_PYCALL_CALL1, LC_PYCALL_INDEX };   /* which callback lc_pycall calls */

#ifndef PYPY_VERSION
static PyObject *lc_pycall_fns[2];   /* by the enum above; NULL: not set */
#endif

void lc_pycall_init(long long call1, long long index1)
{
#ifndef PYPY_VERSION
    lc_pycall_fns[LC_PYCALL_INDEX] = (PyObject *)(intptr_t)index1;
    lc_pycall_fns[LC_PYCALL_CALL1] = (PyObject *)(intptr_t)call1;
#else
    (void)call1;
    (void)index1;
#endif
}

/* Calls the backend's Python callback `which` with (rt->rid, handle, b):
   1 with the packed int it returned in *packed, or -1 there (which is no
   packed result: C then asks for the held one and finds the generic error)
   when it failed, reported as cffi reports a callback's error; 0 on PyPy,
   or before lc_pycall_init (nothing is called). */
static int lc_pycall(lc_runtime *rt, int which, long long handle, long long b, long long *packed)
{
#ifndef PYPY_VERSION
    PyObject *fn = lc_pycall_fns[which], *args[3], *r = NULL;
    PyGILState_STATE gil;
    int k;
    if (fn == NULL)
        return 0;
    gil = PyGILState_Ensure();
    args[0] = PyLong_FromLong(rt->rid);
    args[1] = PyLong_FromLongLong(handle);
    args[2] = PyLong_FromLongLong(b);
    if (args[0] != NULL && args[1] != NULL && args[2] != NULL)
        r = PyObject_CallFunctionObjArgs(fn, args[0], args[1], args[2], NULL);
    for (k = 0; k < 3; k++)
        Py_XDECREF(args[k]);
    *packed = r != NULL ? PyLong_AsLongLong(r) : -1;
    if (r == NULL || PyErr_Occurred()) {
        PyErr_WriteUnraisable(fn);
        *packed = -1;
    }
    Py_XDECREF(r);
    PyGILState_Release(gil);
    return 1;
#else
    (void)rt;
    (void)which;
    (void)handle;
    (void)b;
    (void)packed;
    return 0;
#endif
}
