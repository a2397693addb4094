/* CPython only: the scalar callbacks through CPython's C API rather than
   cffi's extern "Python" entry, which by itself costs more than lupa's
   whole callback (benchmarks/README.md, `floor` of `callback`).
   - Lua calling a plain Python function with one int: C calls the function
     itself.  Its handle is its id(), which is its address on CPython, and
     the runtime keeps the function while Lua holds it.  An int result that
     packs comes back here; any other result, and an exception, goes to the
     backend's handoff, which packs it or holds it for LC_OP_PENDING, as
     lc_py_call1 would.
   - Lua reading a kept name of a Python object: C calls the backend's own
     lc_py_index function (_callbacks.scalar_callbacks) with the same
     arguments.
   Backend.__init__ hands over these functions and the function type by
   their addresses; they live as long as the process.  On PyPy, and for
   anything else, the cffi callbacks serve. */

#ifndef PYPY_VERSION
static PyTypeObject *lc_function_type;   /* types.FunctionType; NULL: not set */
static PyObject *lc_handoff;             /* handoff(rid, value, raised) -> packed */
static PyObject *lc_index1;              /* the Python lc_py_index(rid, handle, name) */
static long long lc_pycall_min, lc_pycall_max;   /* ints that pack (the Backend's) */
#endif

void lc_pycall_init(long long function_type, long long handoff, long long index1,
                    long long pack_min, long long pack_max)
{
#ifndef PYPY_VERSION
    lc_handoff = (PyObject *)(intptr_t)handoff;
    lc_index1 = (PyObject *)(intptr_t)index1;
    lc_pycall_min = pack_min;
    lc_pycall_max = pack_max;
    lc_function_type = (PyTypeObject *)(intptr_t)function_type;
#else
    (void)function_type;
    (void)handoff;
    (void)index1;
    (void)pack_min;
    (void)pack_max;
#endif
}

#ifndef PYPY_VERSION
/* What the handoff makes of `result`, or of the exception raised when it is
   NULL; -1 (which is no packed result: C then asks for the held one, and
   finds the generic error) if the handoff fails too. */
static long long lc_pycall_handoff(lc_runtime *rt, PyObject *result)
{
    PyObject *type = NULL, *value = NULL, *tb = NULL, *r;
    long long packed = -1;
    if (result == NULL) {
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (value != NULL && tb != NULL)
            PyException_SetTraceback(value, tb);
    }
    r = result != NULL || value != NULL
            ? PyObject_CallFunction(lc_handoff, "iOi", rt->rid, result != NULL ? result : value,
                                    result == NULL)
            : NULL;
    if (r != NULL)
        packed = PyLong_AsLongLong(r);
    if (r == NULL || PyErr_Occurred()) {
        PyErr_Clear();
        packed = -1;
    }
    Py_XDECREF(r);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    Py_XDECREF(result);
    return packed;
}
#endif

/* Calls the Python object `handle` with the int `arg` when it is a plain
   function: 1 with what lc_py_call1 would return in *packed; 0 when it is
   not one (or on PyPy), and nothing is called. */
static int lc_pycall1(lc_runtime *rt, long long handle, long long arg, long long *packed)
{
#ifndef PYPY_VERSION
    PyObject *func = (PyObject *)(intptr_t)handle, *x, *result;
    PyGILState_STATE gil;
    long long i;
    int overflow;
    /* (the type read without the GIL: the runtime keeps the object, and a
       function's type cannot be changed) */
    if (lc_function_type == NULL || Py_TYPE(func) != lc_function_type)
        return 0;
    gil = PyGILState_Ensure();
    x = PyLong_FromLongLong(arg);
    result = x != NULL ? PyObject_CallFunctionObjArgs(func, x, NULL) : NULL;
    Py_XDECREF(x);
    if (result != NULL && PyLong_CheckExact(result)) {
        i = PyLong_AsLongLongAndOverflow(result, &overflow);
        if (!overflow && i >= lc_pycall_min && i <= lc_pycall_max) {
            Py_DECREF(result);
            PyGILState_Release(gil);
            *packed = LC_PACK(i, LC_P_INT);
            return 1;
        }
        PyErr_Clear();        /* (the overflow: no error is set, but be sure) */
    }
    *packed = lc_pycall_handoff(rt, result);
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

/* lc_py_index through the C API: 1 with its result in *packed; 0 on PyPy. */
static int lc_pyindex(lc_runtime *rt, long long handle, int name, long long *packed)
{
#ifndef PYPY_VERSION
    PyObject *args[3] = {NULL, NULL, NULL}, *r = NULL;
    PyGILState_STATE gil;
    int k;
    if (lc_function_type == NULL)
        return 0;
    gil = PyGILState_Ensure();
    args[0] = PyLong_FromLong(rt->rid);
    args[1] = PyLong_FromLongLong(handle);
    args[2] = PyLong_FromLong(name);
    if (args[0] != NULL && args[1] != NULL && args[2] != NULL)
        r = PyObject_CallFunctionObjArgs(lc_index1, args[0], args[1], args[2], NULL);
    *packed = r != NULL ? PyLong_AsLongLong(r) : -1;
    if (r == NULL || PyErr_Occurred()) {   /* (as cffi reports a callback's error) */
        PyErr_WriteUnraisable(lc_index1);
        *packed = -1;
    }
    Py_XDECREF(r);
    for (k = 0; k < 3; k++)
        Py_XDECREF(args[k]);
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
