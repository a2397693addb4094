/* What a call from Python into C costs through CPython's C API, beside
   cffi (benchmarks/capi_probe.py builds and times it; CPython only).
   - noop(ptr, ref, i): a METH_FASTCALL function of lc_call_i's shape that
     does nothing but read its arguments and return i << 3.
   - Entry(entry, ptr, ref): a wrapper of lupacffi's own shape in C, with
     no Python frame: e(i) and e[i] call the C entry point at address
     `entry` (lc_call_i, lc_getitem_i, or the no-op lc_floor_call_i) with
     the runtime pointer and the reference it holds, the GIL released
     around it as cffi does, and an int result unpacked (else None). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *noop(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    long long i;
    (void)self;
    if (n != 3) {
        PyErr_SetString(PyExc_TypeError, "noop takes 3 arguments");
        return NULL;
    }
    (void)PyLong_AsVoidPtr(args[0]);
    (void)PyLong_AsLong(args[1]);
    i = PyLong_AsLongLong(args[2]);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromLongLong(i << 3);
}

typedef long long (*lc_entry)(void *rt, int ref, long long i);

typedef struct {
    PyObject_HEAD
    lc_entry entry;
    void *rt;
    int ref;
} Entry;

static int entry_init(PyObject *self, PyObject *args, PyObject *kw)
{
    Entry *e = (Entry *)self;
    unsigned long long entry, rt;
    (void)kw;
    if (!PyArg_ParseTuple(args, "KKi", &entry, &rt, &e->ref))
        return -1;
    e->entry = (lc_entry)(uintptr_t)entry;
    e->rt = (void *)(uintptr_t)rt;
    return 0;
}

static PyObject *entry_result(long long r)
{
    if ((r & 7) == 0)
        return PyLong_FromLongLong(r >> 3);
    Py_RETURN_NONE;
}

static PyObject *entry_run(Entry *e, PyObject *arg)
{
    long long i = PyLong_AsLongLong(arg), r;
    if (i == -1 && PyErr_Occurred())
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    r = e->entry(e->rt, e->ref, i);
    Py_END_ALLOW_THREADS
    return entry_result(r);
}

static PyObject *entry_call(PyObject *self, PyObject *args, PyObject *kw)
{
    if (PyTuple_GET_SIZE(args) != 1 || kw != NULL) {
        PyErr_SetString(PyExc_TypeError, "Entry takes 1 argument");
        return NULL;
    }
    return entry_run((Entry *)self, PyTuple_GET_ITEM(args, 0));
}

static PyObject *entry_subscript(PyObject *self, PyObject *key)
{
    return entry_run((Entry *)self, key);
}

static PyMappingMethods entry_mapping = {NULL, entry_subscript, NULL};

static PyTypeObject EntryType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "capi_probe.Entry",
    .tp_basicsize = sizeof(Entry),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_init = entry_init,
    .tp_call = entry_call,
    .tp_as_mapping = &entry_mapping,
};

static PyMethodDef methods[] = {
    {"noop", (PyCFunction)(void (*)(void))noop, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "capi_probe", NULL, -1, methods};

PyMODINIT_FUNC PyInit_capi_probe(void)
{
    PyObject *m;
    if (PyType_Ready(&EntryType) < 0 || (m = PyModule_Create(&module)) == NULL)
        return NULL;
    Py_INCREF(&EntryType);
    PyModule_AddObject(m, "Entry", (PyObject *)&EntryType);
    return m;
}
