/* Types shared by the C shim and cffi's cdef (so: plain C, no preprocessor). */

/* One value crossing the border, in either direction.  Which fields are
   meaningful depends on `tag`:
     LC_NIL, LC_NONE                      -
     LC_BOOL                              i = 0 / 1
     LC_INT                               i (Lua 5.1, LuaJIT: a whole number
                                          within 2^53, from Lua; see lc_to_val)
     LC_FLOAT                             d
     LC_STR                               s, i = length in bytes
     LC_REF    (table, function, ...)     i = registry reference, aux = Lua type
     LC_PYOBJ  (Python object userdata)   i = handle (the object's id())
     LC_TAKEN  (a long result string      i = handle of the str or bytes
               Python made during the     Python made of it and holds
               call: lc_take_long_strings)  itself (no pin, no release)    */
typedef struct lc_val {
    int tag;
    int aux;
    long long i;
    double d;
    const char *s;
} lc_val;

/* A column of n values of one kind, for building tables in bulk
   (table_from): Python packs ints, floats and strings with array/bytes at C
   speed instead of filling one lc_val per value. */
typedef struct lc_column {
    int kind;               /* enum lc_column_kind */
    long long start;        /* LC_COL_INDEX: the values start+1, start+2, ... */
    const long long *ints;  /* LC_COL_INT: the values; LC_COL_STR: the lengths */
    const double *floats;   /* LC_COL_FLOAT */
    const char *bytes;      /* LC_COL_STR: the strings, one after the other */
    lc_val *vals;           /* LC_COL_VALS: any values */
} lc_column;

enum lc_column_kind {
    LC_COL_INDEX = 0,
    LC_COL_INT = 1,
    LC_COL_FLOAT = 2,
    LC_COL_STR = 3,
    LC_COL_VALS = 4
};

enum lc_tag {
    LC_NIL = 0,
    LC_BOOL = 1,
    LC_INT = 2,
    LC_FLOAT = 3,
    LC_STR = 4,
    LC_REF = 5,
    LC_PYOBJ = 6,
    LC_NONE = 7,
    LC_TAKEN = 8
};

/* Lua's own type numbers, the same in every Lua version. */
enum lc_luatype {
    LC_TNIL = 0,
    LC_TBOOLEAN = 1,
    LC_TLIGHTUSERDATA = 2,
    LC_TNUMBER = 3,
    LC_TSTRING = 4,
    LC_TTABLE = 5,
    LC_TFUNCTION = 6,
    LC_TUSERDATA = 7,
    LC_TTHREAD = 8
};

/* The cursor of a table traversal (lc_next): LUA_NOREF (-2) before the
   first batch, then the registry reference of the last key, and at the end
   this (no reference: never a registry reference, nor LUA_REFNIL). */
enum lc_cursor {
    LC_CURSOR_DONE = -3
};

/* Status codes of the entry points.  Results are counted by values >= 0. */
enum lc_status {
    LC_ERR_RUN = -1,      /* runtime error; out[0] = error value, tb = traceback */
    LC_ERR_SYNTAX = -2,
    LC_ERR_MEMORY = -3,
    LC_ERR_ERR = -4,      /* error in the error handler */
    LC_ERR_CLOSED = -5,   /* the runtime was closed */
    LC_ERR_DEPTH = -6,    /* too many nested entries */
    LC_ERR_DEAD = -7,     /* resuming a dead coroutine */
    LC_ERR_INSTRUCTIONS = -8,  /* the instruction limit stopped Lua */
    LC_ERR_TIME = -9,     /* the time limit stopped Lua */
    LC_ERR_INTERRUPTED = -10,  /* lc_interrupt() stopped Lua */
    LC_ERR_RANGE = -11    /* a fast path's number does not fit: take the general way */
};

/* Why Lua is being stopped (lc_runtime.stop). */
enum lc_stop {
    LC_STOP_NONE = 0,
    LC_STOP_INSTRUCTIONS = 1,
    LC_STOP_TIME = 2,
    LC_STOP_PYTHON = 3,   /* KeyboardInterrupt & co from a callback */
    LC_STOP_INTERRUPT = 4 /* lc_interrupt() */
};

/* What a Python callback is asked to do (the `op` of lc_py_dispatch). */
enum lc_op {
    LC_OP_CALL = 0,       /* args: obj, call args...      */
    LC_OP_INDEX = 1,      /* args: obj, key               */
    LC_OP_NEWINDEX = 2,   /* args: obj, key, value        */
    LC_OP_TOSTRING = 3,   /* args: obj                    */
    LC_OP_RELEASE = 4,    /* handle in args[0].i          */
    LC_OP_EQ = 5,
    LC_OP_LT = 6,
    LC_OP_LE = 7,
    LC_OP_LEN = 8,
    LC_OP_CONCAT = 9,
    LC_OP_ADD = 10,
    LC_OP_SUB = 11,
    LC_OP_MUL = 12,
    LC_OP_DIV = 13,
    LC_OP_MOD = 14,
    LC_OP_POW = 15,
    LC_OP_UNM = 16,
    LC_OP_IDIV = 17,
    LC_OP_ITER_NEXT = 18, /* args: the iterator object    */
    LC_OP_FETCH = 19,     /* copy pending results into out */
    LC_OP_THAW = 20,      /* Lua is entered while a heap scan's results are in use */
    LC_OP_PENDING = 21,   /* the results of lc_py_call1/lc_py_index that did not pack */
    LC_OP_STRING = 22,    /* args[0]: a long result string; out[0]: LC_TAKEN,
                             the Python object made of it (return 1), or return 0 */
    LC_OP_PYFUNC = 32     /* functions of the `python` table: LC_OP_PYFUNC + index */
};

/* The callback's return value: number of results, or one of these. */
enum lc_cb_status {
    LC_CB_ERROR = -1,     /* out[0] holds the error value to raise in Lua */
    LC_CB_ITER = -2,      /* out[0..2]: a state object, the for loop state and control; returns a Lua iterator */
    LC_CB_FUNC = -3       /* out[0]: a callable; return it as a Lua function */
};

/* Which standard libraries a runtime opens (bit mask). */
enum lc_lib {
    LC_LIB_BASE = 1,
    LC_LIB_PACKAGE = 2,
    LC_LIB_COROUTINE = 4,
    LC_LIB_TABLE = 8,
    LC_LIB_IO = 16,
    LC_LIB_OS = 32,
    LC_LIB_STRING = 64,
    LC_LIB_MATH = 128,
    LC_LIB_UTF8 = 256,
    LC_LIB_DEBUG = 512,
    LC_LIB_BIT = 1024,
    LC_LIB_JIT = 2048,
    LC_LIB_FFI = 4096,
    LC_LIB_ALL = 8191
};

/* A packed result: the entry points that return `long long` give their one
   result, when it is of a common kind, in the return value itself, so that
   Python reads no struct field for it.  The low 3 bits say what the rest
   (r >> 3, an arithmetic shift) holds: */
enum lc_packed {
    LC_P_INT = 0,    /* the integer (those of 61 bits) */
    LC_P_NIL = 1,    /* nil, or no result at all: 0 */
    LC_P_BOOL = 2,   /* 0 or 1 */
    LC_P_REF = 3,    /* registry reference << 4 | Lua type */
    LC_P_OUT = 4,    /* the number of results, in this thread's result buffer
                        (lc_thread_out); lc_resume: number << 1 | finished */
    LC_P_ERR = 5,    /* the (negative) status; the error in the result buffer;
                        from lc_py_index: a name Python does not know */
    LC_P_STR = 6,    /* a string of that many bytes, in this thread's pack buffer
                        (only while lc_pack_results is 1: see lc_api.h) */
    LC_P_FLOAT = 7   /* a float, in this thread's pack buffer (the same) */
};

/* How a runtime's strings cross in the wrappers' C base type (lc_wrapper.c,
   lc_set_encoding) */
enum lc_encoding {
    LC_ENC_OTHER = 0,  /* Python converts them (the default) */
    LC_ENC_UTF8 = 1,   /* str, UTF-8 in Lua */
    LC_ENC_NONE = 2    /* bytes as they are (encoding=None) */
};

typedef struct lc_runtime lc_runtime;
