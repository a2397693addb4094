"""Numbers shared with the C shim (csrc/lc_types.h, lc_api.h), in the one
Python module that holds them.  Every backend checks them against its
compiled C (check() below, called when the backend loads), so that a
renumbering in C cannot go unnoticed: the names here are those of C without
the LC_ prefix."""

# lc_val tags
NIL, BOOL, INT, FLOAT, STR, REF, PYOBJ, NONE = range(8)

# packed results (enum lc_packed): the low 3 bits of a `long long` result
P_INT, P_NIL, P_BOOL, P_REF, P_OUT, P_ERR = range(6)

# entry point status codes (negative results)
(
    ERR_RUN,
    ERR_SYNTAX,
    ERR_MEMORY,
    ERR_ERR,
    ERR_CLOSED,
    ERR_DEPTH,
    ERR_DEAD,
    ERR_INSTRUCTIONS,
    ERR_TIME,
    ERR_INTERRUPTED,
    ERR_RANGE,
) = range(-1, -12, -1)

# callback ops
(
    OP_CALL,
    OP_INDEX,
    OP_NEWINDEX,
    OP_TOSTRING,
    OP_RELEASE,
    OP_EQ,
    OP_LT,
    OP_LE,
    OP_LEN,
    OP_CONCAT,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_POW,
    OP_UNM,
    OP_IDIV,
    OP_ITER_NEXT,
    OP_FETCH,
    OP_THAW,
    OP_PENDING,
) = range(22)
OP_PYFUNC = 32

# callback results besides a count
CB_ERROR, CB_ITER, CB_FUNC = -1, -2, -3

# the size of each thread's result buffer (lc_thread_out)
NOUT = 64

# Lua's registry "no reference"
LUA_NOREF = -2

# Lua type numbers
TNIL, TBOOLEAN, TLIGHTUSERDATA, TNUMBER, TSTRING, TTABLE, TFUNCTION, TUSERDATA, TTHREAD = range(9)

# standard library selection bits
(
    LIB_BASE,
    LIB_PACKAGE,
    LIB_COROUTINE,
    LIB_TABLE,
    LIB_IO,
    LIB_OS,
    LIB_STRING,
    LIB_MATH,
    LIB_UTF8,
    LIB_DEBUG,
    LIB_BIT,
    LIB_JIT,
    LIB_FFI,
) = (1 << k for k in range(13))
LIB_ALL = (1 << 13) - 1

# kinds of lc_column (bulk table building)
COL_INDEX, COL_INT, COL_FLOAT, COL_STR, COL_VALS = range(5)

_NOT_IN_C = frozenset(["LUA_NOREF"])  # Lua's own, not the shim's


def check(lib):
    """Raises ImportError unless every constant above has the value of the
    compiled C shim (lib.LC_<NAME>)."""
    wrong = []
    for name, value in globals().items():
        if name.isupper() and name[0] != "_" and name not in _NOT_IN_C:
            c_value = getattr(lib, "LC_" + name, None)
            if c_value != value:
                wrong.append("%s = %r, LC_%s = %r" % (name, value, name, c_value))
    if wrong:
        raise ImportError("lupacffi: _constants.py does not match the C shim: " + "; ".join(wrong))
