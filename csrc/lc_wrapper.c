/* The C base type of the wrappers of Lua values (_lua_objects._LuaObject),
   on CPython.  The most common crossings call the backend's C entry point
   from here, without a Python frame or cffi's argument conversion
   (benchmarks/capi_probe.py measured what that leaves): calls with up to 8
   arguments that are None, bools, ints, floats, str or bytes, t[i],
   t["name"] and t.name, and t[i] = v with an int, None or bool value; and
   it makes their common results (int, nil, boolean, float, string, a new
   wrapper through _wrap).
   Everything else goes to the Python methods (_call_general, _finish_call,
   _getitem_general, ...: the end of _lua_objects.py), which are the whole
   behaviour; PyPy uses them directly (its JIT makes them fast).

   The type holds the two fields every wrapper has: _rt, its LuaRuntime, and
   _ref, its registry reference.  The lc_runtime comes from the runtime's
   _addr attribute, read at each use: LuaRuntime keeps it equal to its _ptr
   (once the state is freed, lc_closed_runtime(), which answers
   LC_ERR_CLOSED), and the wrapper holds the runtime, so it is never freed
   memory.  The entry points are those of the runtime's own backend, found
   at the head of its lc_runtime (lc_wrapper.h): one type serves every
   backend.  (cffi builds with Python's limited API: the type is made from a
   spec.) */
#ifndef PYPY_VERSION
#include <string.h>
#include <structmember.h>

typedef struct {
    PyObject_HEAD
    PyObject *rt;             /* _rt */
    int ref;                  /* _ref */
} lc_wrapper;

static PyObject *lcw_name_addr, *lcw_name_getattr_general, *lcw_dunder;
/* what the Python side hands over (lc_wrapper_methods): the tables' class,
   the names it has, _wrap, and the Python methods */
static PyObject *lcw_table_type, *lcw_table_class_names, *lcw_wrap;
static PyObject *lcw_call_general, *lcw_getitem_general, *lcw_finish_call, *lcw_finish_getitem;
static PyObject *lcw_setitem_general, *lcw_delitem_general, *lcw_setitem_failed;

/* The runtime's lc_runtime, or NULL (no exception set) when it has none. */
static struct lc_runtime *lcw_runtime(lc_wrapper *w)
{
    PyObject *addr;
    void *p;
    if (w->rt == NULL)
        return NULL;
    addr = PyObject_GetAttr(w->rt, lcw_name_addr);
    if (addr == NULL) {
        PyErr_Clear();
        return NULL;
    }
    p = PyLong_Check(addr) ? PyLong_AsVoidPtr(addr) : NULL;
    Py_DECREF(addr);
    if (p == NULL)
        PyErr_Clear();
    return (struct lc_runtime *)p;
}

/* An int argument that C takes as a long long, in *i. */
static int lcw_int_arg(PyObject *arg, long long *i)
{
    int overflow;
    if (!PyLong_CheckExact(arg))
        return 0;
    *i = PyLong_AsLongLongAndOverflow(arg, &overflow);
    if (overflow || (*i == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* The packed result r as a Python value, when it is an int, nil, a
   boolean, a float or a string that needs no Python; otherwise the Python
   method `finish` of w makes it. */
static PyObject *lcw_result(PyObject *w, long long r, PyObject *finish, PyObject *arg)
{
    PyObject *packed, *value;
    switch (r & 7) {
    case LC_P_INT:
        return PyLong_FromLongLong(r >> 3);
    case LC_P_NIL:
        Py_RETURN_NONE;
    case LC_P_BOOL:
        return PyBool_FromLong((long)(r >> 3));
    case LC_P_REF:            /* a table, function...: _wrap(rt, ref, type) */
        return PyObject_CallFunction(lcw_wrap, "(OLi)", ((lc_wrapper *)w)->rt, r >> 7,
                                     (int)((r >> 3) & 15));
    case LC_P_FLOAT:
    case LC_P_STR: {          /* in this thread's pack buffer */
        struct lc_runtime *rt = lcw_runtime((lc_wrapper *)w);
        const char *pack = rt != NULL ? ((lc_runtime_head *)rt)->entries->thread_pack() : NULL;
        int encoding = rt != NULL ? ((lc_runtime_head *)rt)->encoding : LC_ENC_OTHER;
        if (pack == NULL)
            break;
        if ((r & 7) == LC_P_FLOAT) {
            double d;
            memcpy(&d, pack, sizeof(d));
            return PyFloat_FromDouble(d);
        }
        if (encoding == LC_ENC_NONE)
            return PyBytes_FromStringAndSize(pack, (Py_ssize_t)(r >> 3));
        if (encoding == LC_ENC_UTF8) {
            value = PyUnicode_DecodeUTF8(pack, (Py_ssize_t)(r >> 3), NULL);
            if (value != NULL)
                return value;
            PyErr_Clear();    /* (Python raises it, or handles it as it does) */
        }
        break;
    }
    }
    packed = PyLong_FromLongLong(r);
    if (packed == NULL)
        return NULL;
    value = PyObject_CallFunctionObjArgs(finish, w, packed, arg, NULL);
    Py_DECREF(packed);
    return value;
}

/* f(arg) for one int, float, str (in a UTF-8 runtime) or bytes argument:
   the packed result, or 0 with *done = 0 for any other argument. */
static long long lcw_call1(lc_wrapper *w, PyObject *arg, int *done)
{
    struct lc_runtime *rt = lcw_runtime(w);
    const lc_entries *entries;
    PyObject *bytes = NULL;
    char *data;
    Py_ssize_t len;
    long long i, r;
    double d;
    int ref = w->ref;
    *done = 0;
    if (rt == NULL)
        return 0;
    entries = ((lc_runtime_head *)rt)->entries;
    if (lcw_int_arg(arg, &i)) {
        Py_BEGIN_ALLOW_THREADS
        r = entries->call_i(rt, ref, i);
        Py_END_ALLOW_THREADS
    } else if (PyFloat_CheckExact(arg)) {
        d = PyFloat_AsDouble(arg);
        Py_BEGIN_ALLOW_THREADS
        r = entries->call_d(rt, ref, d);
        Py_END_ALLOW_THREADS
    } else if ((PyUnicode_CheckExact(arg) && ((lc_runtime_head *)rt)->encoding == LC_ENC_UTF8)
               || PyBytes_CheckExact(arg)) {
        if (PyBytes_CheckExact(arg)) {
            bytes = arg;
            Py_INCREF(bytes);
        } else if ((bytes = PyUnicode_AsUTF8String(arg)) == NULL) {
            PyErr_Clear();    /* (not encodable: the general way raises it) */
            return 0;
        }
        if (PyBytes_AsStringAndSize(bytes, &data, &len) < 0) {
            PyErr_Clear();
            Py_DECREF(bytes);
            return 0;
        }
        Py_BEGIN_ALLOW_THREADS
        r = entries->call_s(rt, ref, data, (size_t)len);
        Py_END_ALLOW_THREADS
        Py_DECREF(bytes);
    } else {
        return 0;
    }
    *done = 1;
    return r;
}

#define LCW_MAX_ARGS 8     /* f(a, b, ...) with at most this many, in C */

/* f(a, b, ...) when every argument is None, a bool, an int within 2^53
   (exact in every Lua), a float, a str (in a UTF-8 runtime) or bytes: the
   packed result of lc_call, or 0 with *done = 0. */
static long long lcw_call_n(lc_wrapper *w, PyObject *args, Py_ssize_t n, int *done)
{
    struct lc_runtime *rt = lcw_runtime(w);
    lc_val vals[LCW_MAX_ARGS];
    PyObject *encoded[LCW_MAX_ARGS];  /* str arguments' UTF-8 bytes */
    Py_ssize_t k, nencoded = 0;
    long long i, r = 0;
    *done = 0;
    if (rt == NULL || n > LCW_MAX_ARGS)
        return 0;
    for (k = 0; k < n; k++) {
        PyObject *arg = PyTuple_GetItem(args, k);
        lc_val *v = &vals[k];
        if (arg == Py_None) {
            v->tag = LC_NIL;
        } else if (PyBool_Check(arg)) {
            v->tag = LC_BOOL;
            v->i = arg == Py_True;
        } else if (lcw_int_arg(arg, &i) && i >= -(1LL << 53) && i <= (1LL << 53)) {
            v->tag = LC_INT;
            v->i = i;
        } else if (PyFloat_CheckExact(arg)) {
            v->tag = LC_FLOAT;
            v->d = PyFloat_AsDouble(arg);
        } else if (PyBytes_CheckExact(arg) || PyUnicode_CheckExact(arg)) {
            PyObject *bytes = arg;
            char *data;
            Py_ssize_t len;
            if (PyUnicode_CheckExact(arg)) {
                if (((lc_runtime_head *)rt)->encoding != LC_ENC_UTF8
                        || (bytes = PyUnicode_AsUTF8String(arg)) == NULL)
                    break;
                encoded[nencoded++] = bytes;
            }
            if (PyBytes_AsStringAndSize(bytes, &data, &len) < 0)
                break;
            v->tag = LC_STR;
            v->s = data;
            v->i = (long long)len;
        } else {
            break;            /* (anything else: the general way) */
        }
    }
    if (k == n) {
        const lc_entries *entries = ((lc_runtime_head *)rt)->entries;
        int ref = w->ref;
        Py_BEGIN_ALLOW_THREADS
        r = entries->call(rt, ref, vals, (int)n);
        Py_END_ALLOW_THREADS
        *done = 1;
    }
    PyErr_Clear();            /* (a str that does not encode: the general way raises it) */
    while (nencoded > 0)
        Py_DECREF(encoded[--nencoded]);
    return r;
}

static PyObject *lcw_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    PyObject *with_self, *result;
    Py_ssize_t n, k;
    long long r;
    int done;
    n = PyTuple_Size(args);
    if (kwargs == NULL || PyDict_Size(kwargs) == 0) {
        if (n == 1)
            r = lcw_call1((lc_wrapper *)self, PyTuple_GetItem(args, 0), &done);
        else
            r = lcw_call_n((lc_wrapper *)self, args, n, &done);   /* (f() too) */
        if (done)
            return lcw_result(self, r, lcw_finish_call, args);
    }
    /* _call_general(self, *args, **kwargs) */
    with_self = PyTuple_New(n + 1);
    if (with_self == NULL)
        return NULL;
    Py_INCREF(self);
    PyTuple_SetItem(with_self, 0, self);
    for (k = 0; k < n; k++) {
        PyObject *arg = PyTuple_GetItem(args, k);
        Py_INCREF(arg);
        PyTuple_SetItem(with_self, k + 1, arg);
    }
    result = PyObject_Call(lcw_call_general, with_self, kwargs);
    Py_DECREF(with_self);
    return result;
}

static PyObject *lcw_getitem(PyObject *self, PyObject *key)
{
    lc_wrapper *w = (lc_wrapper *)self;
    struct lc_runtime *rt;
    long long i, r;
    if (lcw_int_arg(key, &i) && (rt = lcw_runtime(w)) != NULL) {
        const lc_entries *entries = ((lc_runtime_head *)rt)->entries;
        int ref = w->ref;
        Py_BEGIN_ALLOW_THREADS
        r = entries->getitem_i(rt, ref, i);
        Py_END_ALLOW_THREADS
        return lcw_result(self, r, lcw_finish_getitem, key);
    }
    if (PyUnicode_CheckExact(key) && (rt = lcw_runtime(w)) != NULL
            && ((lc_runtime_head *)rt)->encoding == LC_ENC_UTF8) {
        const lc_entries *entries = ((lc_runtime_head *)rt)->entries;
        int ref = w->ref;
        PyObject *bytes = PyUnicode_AsUTF8String(key);
        char *data;
        Py_ssize_t len;
        if (bytes == NULL || PyBytes_AsStringAndSize(bytes, &data, &len) < 0) {
            Py_XDECREF(bytes);
            return NULL;      /* (not encodable: the same error as key.encode()) */
        }
        Py_BEGIN_ALLOW_THREADS
        r = entries->getitem_s(rt, ref, data, (size_t)len);
        Py_END_ALLOW_THREADS
        Py_DECREF(bytes);
        return lcw_result(self, r, lcw_finish_getitem, key);
    }
    return PyObject_CallFunctionObjArgs(lcw_getitem_general, self, key, NULL);
}

/* t[key] = value, and del t[key]: tables only (as for a class without
   __setitem__, the others refuse with CPython's own words). */
static int lcw_setitem(PyObject *self, PyObject *key, PyObject *value)
{
    lc_wrapper *w = (lc_wrapper *)self;
    struct lc_runtime *rt;
    PyObject *result;
    long long k, v, packed = -1;
    if (lcw_table_type == NULL
            || !PyType_IsSubtype(Py_TYPE(self), (PyTypeObject *)lcw_table_type)) {
        PyObject *name = PyObject_GetAttrString((PyObject *)Py_TYPE(self), "__name__");
        if (name != NULL) {
            PyErr_Format(PyExc_TypeError, "'%U' object does not support item %s", name,
                         value != NULL ? "assignment" : "deletion");
            Py_DECREF(name);
        }
        return -1;
    }
    if (value == NULL) {
        result = PyObject_CallFunctionObjArgs(lcw_delitem_general, self, key, NULL);
        Py_XDECREF(result);
        return result != NULL ? 0 : -1;
    }
    /* the value packed (lc_packed); an int beyond 60 bits goes the general way */
    if (value == Py_None)
        packed = LC_P_NIL;
    else if (PyBool_Check(value))
        packed = LC_P_BOOL | (value == Py_True ? 8 : 0);
    else if (lcw_int_arg(value, &v) && v >= -(1LL << 60) && v < (1LL << 60))
        packed = (long long)((unsigned long long)v << 3);
    if (packed != -1 && lcw_int_arg(key, &k) && (rt = lcw_runtime(w)) != NULL) {
        const lc_entries *entries = ((lc_runtime_head *)rt)->entries;
        int ref = w->ref, r;
        Py_BEGIN_ALLOW_THREADS
        r = entries->setitem_i(rt, ref, k, packed);
        Py_END_ALLOW_THREADS
        if (r == 0)
            return 0;
        if (r != LC_ERR_RANGE) {
            PyObject *status = PyLong_FromLong(r);
            if (status != NULL) {
                result = PyObject_CallFunctionObjArgs(lcw_setitem_failed, self, status, NULL);
                Py_XDECREF(result);   /* (it raises) */
                Py_DECREF(status);
            }
            return -1;
        }
    }
    result = PyObject_CallFunctionObjArgs(lcw_setitem_general, self, key, value, NULL);
    Py_XDECREF(result);
    return result != NULL ? 0 : -1;
}

/* self.name for a name no class has: a table reads its key (a str in a
   UTF-8 runtime); anything else goes to the class's _getattr_general. */
static PyObject *lcw_getattro(PyObject *self, PyObject *name)
{
    PyObject *value, *general;
    struct lc_runtime *rt;
    /* (the cheap tests first: the Python methods read their fields, _rt,
       _ref, _state..., through here, as often as any table key is read) */
    if (lcw_table_type != NULL && PyUnicode_CheckExact(name)
            && PyType_IsSubtype(Py_TYPE(self), (PyTypeObject *)lcw_table_type)
            && PySet_Contains(lcw_table_class_names, name) == 0
            && !(PyUnicode_Tailmatch(name, lcw_dunder, 0, PY_SSIZE_T_MAX, -1) == 1
                 && PyUnicode_Tailmatch(name, lcw_dunder, 0, PY_SSIZE_T_MAX, 1) == 1)
            && (rt = lcw_runtime((lc_wrapper *)self)) != NULL
            && ((lc_runtime_head *)rt)->encoding == LC_ENC_UTF8) {
        const lc_entries *entries = ((lc_runtime_head *)rt)->entries;
        int ref = ((lc_wrapper *)self)->ref;
        PyObject *bytes = PyUnicode_AsUTF8String(name);
        char *data;
        Py_ssize_t len;
        long long r;
        if (bytes == NULL || PyBytes_AsStringAndSize(bytes, &data, &len) < 0) {
            Py_XDECREF(bytes);
            return NULL;
        }
        Py_BEGIN_ALLOW_THREADS
        r = entries->getitem_s(rt, ref, data, (size_t)len);
        Py_END_ALLOW_THREADS
        Py_DECREF(bytes);
        return lcw_result(self, r, lcw_finish_getitem, name);
    }
    if (PyErr_Occurred())     /* (from PySet_Contains) */
        return NULL;
    value = PyObject_GenericGetAttr(self, name);
    if (value != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError))
        return value;
    PyErr_Clear();
    general = PyObject_GetAttr((PyObject *)Py_TYPE(self), lcw_name_getattr_general);
    if (general == NULL)
        return NULL;
    value = PyObject_CallFunctionObjArgs(general, self, name, NULL);
    Py_DECREF(general);
    return value;
}

static int lcw_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));  /* (a heap type: its instances hold it) */
    Py_VISIT(((lc_wrapper *)self)->rt);
    return 0;
}

static int lcw_clear(PyObject *self)
{
    Py_CLEAR(((lc_wrapper *)self)->rt);
    return 0;
}

static void lcw_dealloc(PyObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_CLEAR(((lc_wrapper *)self)->rt);
    PyObject_GC_Del(self);    /* (the type's tp_free: it has Py_TPFLAGS_HAVE_GC) */
    Py_DECREF(type);
}

static PyMemberDef lcw_members[] = {
    {"_rt", T_OBJECT_EX, offsetof(lc_wrapper, rt), 0, NULL},
    {"_ref", T_INT, offsetof(lc_wrapper, ref), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot lcw_slots[] = {
    {Py_tp_doc, "The C base of lupacffi's wrappers of Lua values (CPython)."},
    {Py_tp_call, lcw_call},
    {Py_mp_subscript, lcw_getitem},
    {Py_mp_ass_subscript, lcw_setitem},
    {Py_tp_getattro, lcw_getattro},
    {Py_tp_traverse, lcw_traverse},
    {Py_tp_clear, lcw_clear},
    {Py_tp_dealloc, lcw_dealloc},
    {Py_tp_members, lcw_members},
    {Py_tp_new, PyType_GenericNew},
    {0, NULL},
};

static PyType_Spec lcw_spec = {
    "lupacffi._lc_constants.LuaWrapperBase",
    sizeof(lc_wrapper),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    lcw_slots,
};

static PyObject *lcw_type;

/* Puts the type into the dict whose id() is `namespace`, as LuaWrapperBase;
   -1 on failure. */
int lc_wrapper_install(uintptr_t namespace)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    int r = -1;
    if (lcw_type == NULL) {
        lcw_name_addr = PyUnicode_InternFromString("_addr");
        lcw_name_getattr_general = PyUnicode_InternFromString("_getattr_general");
        lcw_dunder = PyUnicode_InternFromString("__");
        if (lcw_name_addr != NULL && lcw_name_getattr_general != NULL && lcw_dunder != NULL)
            lcw_type = PyType_FromSpec(&lcw_spec);
    }
    if (lcw_type != NULL)
        r = PyDict_SetItemString((PyObject *)namespace, "LuaWrapperBase", lcw_type);
    if (r != 0)
        PyErr_Clear();        /* (Python raises its own ImportError) */
    PyGILState_Release(gil);
    return r;
}
/* What the Python side hands over (see the end of _lua_objects.py): the
   tuple whose id() is `handed`, of the tables' class, the names it has,
   _wrap, and the Python methods _call_general, _getitem_general,
   _finish_call, _finish_getitem, _setitem_general, _delitem_general and
   _setitem_failed.  Kept for good.  -1 if it is not such a tuple. */
int lc_wrapper_methods(uintptr_t handed)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *tuple = (PyObject *)handed;
    PyObject **slots[] = {&lcw_table_type, &lcw_table_class_names, &lcw_wrap,
                          &lcw_call_general, &lcw_getitem_general, &lcw_finish_call,
                          &lcw_finish_getitem, &lcw_setitem_general, &lcw_delitem_general,
                          &lcw_setitem_failed};
    Py_ssize_t k, n = (Py_ssize_t)(sizeof(slots) / sizeof(slots[0]));
    int r = -1;
    if (PyTuple_Check(tuple) && PyTuple_Size(tuple) == n) {
        for (k = 0; k < n; k++) {
            *slots[k] = PyTuple_GetItem(tuple, k);
            Py_INCREF(*slots[k]);
        }
        r = 0;
    }
    PyGILState_Release(gil);
    return r;
}
#else
int lc_wrapper_methods(uintptr_t handed)
{
    (void)handed;
    return -1;                /* PyPy: nothing to hand over */
}

int lc_wrapper_install(uintptr_t namespace)
{
    (void)namespace;
    return -1;                /* PyPy: the wrappers are plain Python classes */
}
#endif
