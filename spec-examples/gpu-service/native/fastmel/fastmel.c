/* fastmel: the frame count of a short-time transform, a stand-in for the native
 * feature extractors real speech services build (C, linked into the venv). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *frames(PyObject *self, PyObject *args) {
    long samples, window, hop;
    if (!PyArg_ParseTuple(args, "lll", &samples, &window, &hop))
        return NULL;
    if (window <= 0 || hop <= 0) {
        PyErr_SetString(PyExc_ValueError, "window and hop must be positive");
        return NULL;
    }
    long n = samples < window ? 0 : 1 + (samples - window) / hop;
    return PyLong_FromLong(n);
}

static PyMethodDef methods[] = {
    {"frames", frames, METH_VARARGS, "frames(samples, window, hop) -> int"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "fastmel", NULL, -1, methods};

PyMODINIT_FUNC PyInit_fastmel(void) { return PyModule_Create(&module); }
