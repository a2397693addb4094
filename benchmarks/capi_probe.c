/* What a call from Python into C costs through CPython's C API, beside
   cffi (benchmarks/capi_probe.py builds and times it; CPython only).
   - noop(ptr, ref, i): a METH_FASTCALL function of lc_call_i's shape that
     does nothing but read its arguments and return i << 3.
   - Fn: a type whose instances are called like a function wrapper, fn(i),
     through its own tp_call: no Python frame at all. */
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

static PyObject *fn_call(PyObject *self, PyObject *args, PyObject *kw)
{
    long long i;
    (void)self;
    if (PyTuple_GET_SIZE(args) != 1 || kw != NULL) {
        PyErr_SetString(PyExc_TypeError, "Fn takes 1 argument");
        return NULL;
    }
    i = PyLong_AsLongLong(PyTuple_GET_ITEM(args, 0));
    if (i == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromLongLong(i);
}

static PyTypeObject FnType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "capi_probe.Fn",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_call = fn_call,
};

static PyMethodDef methods[] = {
    {"noop", (PyCFunction)(void (*)(void))noop, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "capi_probe", NULL, -1, methods};

PyMODINIT_FUNC PyInit_capi_probe(void)
{
    PyObject *m;
    if (PyType_Ready(&FnType) < 0 || (m = PyModule_Create(&module)) == NULL)
        return NULL;
    Py_INCREF(&FnType);
    PyModule_AddObject(m, "Fn", (PyObject *)&FnType);
    return m;
}
