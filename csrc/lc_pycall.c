/* CPython only: the scalar callbacks (lc_callbacks.h) through CPython's C
   API rather than cffi's extern "Python" entry, which by itself costs about
   as much as lupa's whole callback (benchmarks/README.md, `floor` of
   `callback`): C calls the backend's own Python lc_py_call1 and lc_py_index
   (_callbacks.scalar_callbacks) with the same arguments.  Backend.__init__
   hands them over by their addresses (their id() on CPython); the backend
   keeps them for the life of the process.  On PyPy these functions decline,
   and the cffi callbacks serve. */

#ifndef PYPY_VERSION
static PyObject *lc_call1;     /* the Python lc_py_call1(rid, handle, arg); NULL: not set */
static PyObject *lc_index1;    /* the Python lc_py_index(rid, handle, name) */
#endif

void lc_pycall_init(long long call1, long long index1)
{
#ifndef PYPY_VERSION
    lc_index1 = (PyObject *)(intptr_t)index1;
    lc_call1 = (PyObject *)(intptr_t)call1;
#else
    (void)call1;
    (void)index1;
#endif
}

#ifndef PYPY_VERSION
/* Calls the Python callback fn(rid, a, b); returns the packed int it
   returned, or -1 (which is no packed result: C then asks for the held one
   and finds the generic error) when it failed, reported as cffi reports a
   callback's error. */
static long long lc_pycall_scalar(PyObject *fn, int rid, long long a, long long b)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *args[3], *r = NULL;
    long long packed;
    int k;
    args[0] = PyLong_FromLong(rid);
    args[1] = PyLong_FromLongLong(a);
    args[2] = PyLong_FromLongLong(b);
    if (args[0] != NULL && args[1] != NULL && args[2] != NULL)
        r = PyObject_CallFunctionObjArgs(fn, args[0], args[1], args[2], NULL);
    for (k = 0; k < 3; k++)
        Py_XDECREF(args[k]);
    packed = r != NULL ? PyLong_AsLongLong(r) : -1;
    if (r == NULL || PyErr_Occurred()) {
        PyErr_WriteUnraisable(fn);
        packed = -1;
    }
    Py_XDECREF(r);
    PyGILState_Release(gil);
    return packed;
}
#endif

/* lc_py_call1 through the C API: 1 with what it returns in *packed; 0 on
   PyPy (nothing is called). */
static int lc_pycall1(lc_runtime *rt, long long handle, long long arg, long long *packed)
{
#ifndef PYPY_VERSION
    if (lc_call1 == NULL)
        return 0;
    *packed = lc_pycall_scalar(lc_call1, rt->rid, handle, arg);
    return 1;
#else
    (void)rt;
    (void)handle;
    (void)arg;
    (void)packed;
    return 0;
#endif
}

/* lc_py_index through the C API: the same. */
static int lc_pyindex(lc_runtime *rt, long long handle, int name, long long *packed)
{
#ifndef PYPY_VERSION
    if (lc_call1 == NULL)
        return 0;
    *packed = lc_pycall_scalar(lc_index1, rt->rid, handle, name);
    return 1;
#else
    (void)rt;
    (void)handle;
    (void)name;
    (void)packed;
    return 0;
#endif
}
