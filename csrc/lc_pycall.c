/* CPython only: the scalar callbacks (lc_callbacks.h) through CPython's C
   API rather than cffi's extern "Python" entry, which by itself costs about
   as much as lupa's whole callback (benchmarks/README.md, `floor` of
   `callback`).
   - Their common cases run here: Lua calling a plain Python function with
     one int, and reading an attribute of a plain object by a name the
     runtime keeps.  The object is the one the runtime's _objects dict has
     for the handle (looked up, never taken from the handle itself, so that
     a stale handle finds nothing).  An int result that packs comes back
     here; any other result, and an exception, goes to the backend's
     handoff, which packs or holds it as the Python callbacks would.
   - Anything else: C calls the backend's own Python lc_py_call1 or
     lc_py_index (_callbacks.scalar_callbacks) with the same arguments.
   Backend.__init__ hands over those functions, the function type and the
   dict of attribute-read classes by their addresses (their id() on
   CPython); the backend keeps them for the life of the process.  Each
   runtime hands over its two dicts (lc_pycall_bind), which C lets go of
   when the runtime closes.  On PyPy lc_pycall declines, and the cffi
   callbacks serve. */

enum { LC_PYCALL_CALL1, LC_PYCALL_INDEX };   /* which callback lc_pycall calls */

#ifndef PYPY_VERSION
static PyObject *lc_pycall_fns[2];   /* by the enum above; NULL: not set */
static PyObject *lc_handoff;         /* handoff(rid, value, raised, which) -> packed */
static PyObject *lc_function_type;   /* types.FunctionType */
static PyObject *lc_attribute_types; /* class -> True when Lua's obj.name is getattr */
static long long lc_pycall_min, lc_pycall_max;   /* ints that pack (the backend's) */
#endif

void lc_pycall_init(long long function_type, long long call1, long long index1,
                    long long handoff, long long attribute_types,
                    long long pack_min, long long pack_max)
{
#ifndef PYPY_VERSION
    lc_function_type = (PyObject *)(intptr_t)function_type;
    lc_handoff = (PyObject *)(intptr_t)handoff;
    lc_attribute_types = (PyObject *)(intptr_t)attribute_types;
    lc_pycall_min = pack_min;
    lc_pycall_max = pack_max;
    lc_pycall_fns[LC_PYCALL_INDEX] = (PyObject *)(intptr_t)index1;
    lc_pycall_fns[LC_PYCALL_CALL1] = (PyObject *)(intptr_t)call1;
#else
    (void)function_type;
    (void)call1;
    (void)index1;
    (void)handoff;
    (void)attribute_types;
    (void)pack_min;
    (void)pack_max;
#endif
}

void lc_pycall_bind(lc_runtime *rt, long long objects, long long names)
{
    pthread_mutex_lock(&rt->lock);
    if (!rt->closed) {
        rt->py_objects = (void *)(intptr_t)objects;
        rt->py_names = (void *)(intptr_t)names;
    }
    pthread_mutex_unlock(&rt->lock);
}

#ifndef PYPY_VERSION
/* The value of dict[i] as a new reference, or NULL (no dict, no such key,
   or an error, cleared).  The GIL is held. */
static PyObject *lc_pycall_lookup(void *dict, long long i)
{
    PyObject *key, *value = NULL;
    if (dict == NULL || (key = PyLong_FromLongLong(i)) == NULL) {
        PyErr_Clear();
        return NULL;
    }
    value = PyDict_GetItemWithError((PyObject *)dict, key);   /* (borrowed) */
    Py_DECREF(key);
    if (value == NULL)
        PyErr_Clear();
    Py_XINCREF(value);
    return value;
}

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

/* Calls the Python callback fn(rid, a, b). */
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

/* `result` (a new reference) packed when it is an int that packs; else what
   the handoff makes of it, or of the exception raised when it is NULL. */
static long long lc_pycall_result(int rid, int which, PyObject *result)
{
    PyObject *type = NULL, *value = NULL, *tb = NULL, *r = NULL;
    long long i;
    int overflow;
    if (result != NULL && PyLong_CheckExact(result)) {
        i = PyLong_AsLongLongAndOverflow(result, &overflow);
        if (!overflow && i >= lc_pycall_min && i <= lc_pycall_max) {
            Py_DECREF(result);
            return LC_PACK(i, LC_P_INT);
        }
        PyErr_Clear();
    }
    if (result == NULL) {
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (value != NULL && tb != NULL)
            PyException_SetTraceback(value, tb);
    }
    if (result != NULL || value != NULL)
        r = PyObject_CallFunction(lc_handoff, "iOii", rid, result != NULL ? result : value,
                                  result == NULL, which);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    Py_XDECREF(result);
    return lc_pycall_packed(lc_handoff, r);
}

/* Lua calls the Python object of `handle` with the int arg: a plain
   function is called here. */
static long long lc_pycall_call1(lc_runtime *rt, long long handle, long long arg)
{
    PyObject *func = lc_pycall_lookup(rt->py_objects, handle), *x, *result;
    if (func == NULL || Py_TYPE(func) != (PyTypeObject *)lc_function_type) {
        Py_XDECREF(func);
        return lc_pycall_scalar(lc_pycall_fns[LC_PYCALL_CALL1], rt->rid, handle, arg);
    }
    x = PyLong_FromLongLong(arg);
    result = x != NULL ? PyObject_CallFunctionObjArgs(func, x, NULL) : NULL;
    Py_XDECREF(x);
    Py_DECREF(func);
    return lc_pycall_result(rt->rid, LC_PYCALL_CALL1, result);
}

/* Lua reads the attribute numbered `name` of the Python object of `handle`:
   read here when the runtime's attribute reads are plain getattr, the name
   is decoded and the object's class is known to use attributes. */
static long long lc_pycall_index(lc_runtime *rt, long long handle, long long name)
{
    PyObject *view = lc_pycall_lookup(rt->py_objects, handle), *decoded = NULL, *uses, *value;
    if (view != NULL)
        decoded = lc_pycall_lookup(rt->py_names, name);
    uses = view != NULL ? PyDict_GetItemWithError(lc_attribute_types, (PyObject *)Py_TYPE(view))
                        : NULL;
    if (uses != Py_True || decoded == NULL || !PyUnicode_CheckExact(decoded)) {
        PyErr_Clear();
        Py_XDECREF(view);
        Py_XDECREF(decoded);
        return lc_pycall_scalar(lc_pycall_fns[LC_PYCALL_INDEX], rt->rid, handle, name);
    }
    value = PyObject_GetAttr(view, decoded);
    Py_DECREF(view);
    Py_DECREF(decoded);
    return lc_pycall_result(rt->rid, LC_PYCALL_INDEX, value);
}
#endif

/* The scalar callback `which` for (handle, b) through the C API: 1 with
   what lc_py_call1 or lc_py_index would return in *packed, where -1 (no
   packed result) stands for a failure of the Python callback; 0 on PyPy,
   or before lc_pycall_init (nothing is called). */
static int lc_pycall(lc_runtime *rt, int which, long long handle, long long b, long long *packed)
{
#ifndef PYPY_VERSION
    PyGILState_STATE gil;
    if (lc_handoff == NULL)
        return 0;
    gil = PyGILState_Ensure();
    *packed = which == LC_PYCALL_CALL1 ? lc_pycall_call1(rt, handle, b)
                                       : lc_pycall_index(rt, handle, b);
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
