/* CPython only: the scalar callbacks (lc_callbacks.h) through CPython's C
   API rather than cffi's extern "Python" entry, which by itself costs more
   than lupa's whole callback (benchmarks/README.md, `floor` of `callback`).
   - Lua calling a plain Python function with one int: C calls the function
     itself.  Its handle is its id(), which is its address on CPython, and
     the runtime keeps the function while Lua holds it.  An int result that
     packs comes back here; any other result, and an exception, goes to the
     backend's handoff, which packs it or holds it for LC_OP_PENDING, as
     lc_py_call1 would.
   - Lua calling any other Python object with one int, or reading a kept
     name of one: C calls the backend's own Python lc_py_call1 or
     lc_py_index (_callbacks.scalar_callbacks) with the same arguments.
   Backend.__init__ hands over these functions and the function type by
   their addresses; the backend keeps them for the life of the process.
   On PyPy these functions decline, and the cffi callbacks serve. */

#ifndef PYPY_VERSION
static PyTypeObject *lc_function_type;   /* types.FunctionType; NULL: not set */
static PyObject *lc_call1;               /* the Python lc_py_call1(rid, handle, arg) */
static PyObject *lc_index1;              /* the Python lc_py_index(rid, handle, name) */
static PyObject *lc_handoff;             /* handoff(rid, value, raised) -> packed */
static long long lc_pycall_min, lc_pycall_max;   /* ints that pack (the Backend's) */
#endif

void lc_pycall_init(long long function_type, long long call1, long long index1,
                    long long handoff, long long pack_min, long long pack_max)
{
#ifndef PYPY_VERSION
    lc_call1 = (PyObject *)(intptr_t)call1;
    lc_index1 = (PyObject *)(intptr_t)index1;
    lc_handoff = (PyObject *)(intptr_t)handoff;
    lc_pycall_min = pack_min;
    lc_pycall_max = pack_max;
    lc_function_type = (PyTypeObject *)(intptr_t)function_type;
#else
    (void)function_type;
    (void)call1;
    (void)index1;
    (void)handoff;
    (void)pack_min;
    (void)pack_max;
#endif
}

#ifndef PYPY_VERSION
/* The packed int that the Python callback `fn` returned as r (a new
   reference, or NULL); -1, which is no packed result (C then asks for the
   held one and finds the generic error), when it failed: reported as cffi
   reports a callback's error. */
static long long lc_pycall_packed(PyObject *fn, PyObject *r)
{
    long long packed = r != NULL ? PyLong_AsLongLong(r) : -1;
    if (r == NULL || PyErr_Occurred()) {
        PyErr_WriteUnraisable(fn);
        packed = -1;
    }
    Py_XDECREF(r);
    return packed;
}

/* Calls the Python callback fn(rid, a, b) with the GIL held. */
static long long lc_pycall_scalar(PyObject *fn, int rid, long long a, long long b)
{
    PyObject *args[3], *r = NULL;
    int k;
    args[0] = PyLong_FromLong(rid);
    args[1] = PyLong_FromLongLong(a);
    args[2] = PyLong_FromLongLong(b);
    if (args[0] != NULL && args[1] != NULL && args[2] != NULL)
        r = PyObject_CallFunctionObjArgs(fn, args[0], args[1], args[2], NULL);
    for (k = 0; k < 3; k++)
        Py_XDECREF(args[k]);
    return lc_pycall_packed(fn, r);
}

/* What the handoff makes of `result` (a new reference), or of the
   exception raised when it is NULL, with the GIL held. */
static long long lc_pycall_handoff(int rid, PyObject *result)
{
    PyObject *type = NULL, *value = NULL, *tb = NULL, *r = NULL;
    if (result == NULL) {
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (value != NULL && tb != NULL)
            PyException_SetTraceback(value, tb);
    }
    if (result != NULL || value != NULL)
        r = PyObject_CallFunction(lc_handoff, "iOi", rid, result != NULL ? result : value,
                                  result == NULL);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    Py_XDECREF(result);
    return lc_pycall_packed(lc_handoff, r);
}

/* Calls the plain function func with the int arg, with the GIL held. */
static long long lc_pycall_function(int rid, PyObject *func, long long arg)
{
    PyObject *x = PyLong_FromLongLong(arg), *result;
    long long i;
    int overflow;
    result = x != NULL ? PyObject_CallFunctionObjArgs(func, x, NULL) : NULL;
    Py_XDECREF(x);
    if (result != NULL && PyLong_CheckExact(result)) {
        i = PyLong_AsLongLongAndOverflow(result, &overflow);
        if (!overflow && i >= lc_pycall_min && i <= lc_pycall_max) {
            Py_DECREF(result);
            return LC_PACK(i, LC_P_INT);
        }
    }
    return lc_pycall_handoff(rid, result);
}
#endif

/* lc_py_call1 through the C API: 1 with what it would return in *packed;
   0 on PyPy (nothing is called). */
static int lc_pycall1(lc_runtime *rt, long long handle, long long arg, long long *packed)
{
#ifndef PYPY_VERSION
    PyObject *obj = (PyObject *)(intptr_t)handle;
    PyGILState_STATE gil;
    if (lc_function_type == NULL)
        return 0;
    gil = PyGILState_Ensure();
    *packed = Py_TYPE(obj) == lc_function_type ? lc_pycall_function(rt->rid, obj, arg)
                                               : lc_pycall_scalar(lc_call1, rt->rid, handle, arg);
    PyGILState_Release(gil);
    return 1;
#else
    (void)rt;
    (void)handle;
    (void)arg;
    (void)packed;
    return 0;
#endif
}

/* lc_py_index through the C API: 1 with what it would return in *packed;
   0 on PyPy (nothing is called). */
static int lc_pyindex(lc_runtime *rt, long long handle, int name, long long *packed)
{
#ifndef PYPY_VERSION
    PyGILState_STATE gil;
    if (lc_function_type == NULL)
        return 0;
    gil = PyGILState_Ensure();
    *packed = lc_pycall_scalar(lc_index1, rt->rid, handle, name);
    PyGILState_Release(gil);
    return 1;
#else
    (void)rt;
    (void)handle;
    (void)name;
    (void)packed;
    return 0;
#endif
}
