"""Numbers shared with the C shim, in the one Python module that holds them.

Their one source is C: csrc/lc_types.h (and the #defines of lc_api.h), compiled
into the small module _lc_constants (no Lua in it, see build_ffi.py), from
which they are read here.  The names are those of C without the LC_ prefix.
Each backend also checks them against its own compiled C when it loads
(check() below), so that a backend built from other headers cannot go
unnoticed either."""

from ._lc_constants import lib as _c

# lc_val tags (enum lc_tag)
NIL, BOOL, INT, FLOAT, STR = _c.LC_NIL, _c.LC_BOOL, _c.LC_INT, _c.LC_FLOAT, _c.LC_STR
REF, PYOBJ, NONE, TAKEN = _c.LC_REF, _c.LC_PYOBJ, _c.LC_NONE, _c.LC_TAKEN

# packed results (enum lc_packed): the low 3 bits of a `long long` result
P_INT, P_NIL, P_BOOL = _c.LC_P_INT, _c.LC_P_NIL, _c.LC_P_BOOL
P_REF, P_OUT, P_ERR = _c.LC_P_REF, _c.LC_P_OUT, _c.LC_P_ERR
P_STR, P_FLOAT = _c.LC_P_STR, _c.LC_P_FLOAT

# how a runtime's strings cross in the wrappers' C base type (enum lc_encoding)
ENC_OTHER, ENC_UTF8, ENC_NONE = _c.LC_ENC_OTHER, _c.LC_ENC_UTF8, _c.LC_ENC_NONE

# entry point status codes, negative (enum lc_status)
ERR_RUN = _c.LC_ERR_RUN
ERR_SYNTAX = _c.LC_ERR_SYNTAX
ERR_MEMORY = _c.LC_ERR_MEMORY
ERR_ERR = _c.LC_ERR_ERR
ERR_CLOSED = _c.LC_ERR_CLOSED
ERR_DEPTH = _c.LC_ERR_DEPTH
ERR_DEAD = _c.LC_ERR_DEAD
ERR_INSTRUCTIONS = _c.LC_ERR_INSTRUCTIONS
ERR_TIME = _c.LC_ERR_TIME
ERR_INTERRUPTED = _c.LC_ERR_INTERRUPTED
ERR_RANGE = _c.LC_ERR_RANGE

# callback ops (enum lc_op)
OP_CALL = _c.LC_OP_CALL
OP_INDEX = _c.LC_OP_INDEX
OP_NEWINDEX = _c.LC_OP_NEWINDEX
OP_TOSTRING = _c.LC_OP_TOSTRING
OP_RELEASE = _c.LC_OP_RELEASE
OP_EQ = _c.LC_OP_EQ
OP_LT = _c.LC_OP_LT
OP_LE = _c.LC_OP_LE
OP_LEN = _c.LC_OP_LEN
OP_CONCAT = _c.LC_OP_CONCAT
OP_ADD = _c.LC_OP_ADD
OP_SUB = _c.LC_OP_SUB
OP_MUL = _c.LC_OP_MUL
OP_DIV = _c.LC_OP_DIV
OP_MOD = _c.LC_OP_MOD
OP_POW = _c.LC_OP_POW
OP_UNM = _c.LC_OP_UNM
OP_IDIV = _c.LC_OP_IDIV
OP_ITER_NEXT = _c.LC_OP_ITER_NEXT
OP_FETCH = _c.LC_OP_FETCH
OP_THAW = _c.LC_OP_THAW
OP_PENDING = _c.LC_OP_PENDING
OP_STRING = _c.LC_OP_STRING
OP_PYFUNC = _c.LC_OP_PYFUNC

# callback results besides a count (enum lc_cb_status)
CB_ERROR, CB_ITER, CB_FUNC = _c.LC_CB_ERROR, _c.LC_CB_ITER, _c.LC_CB_FUNC

# the size of each thread's result buffer (lc_thread_out)
NOUT = _c.LC_NOUT
# result strings this long reach Python without that buffer (lc_api.h)
LONG_STRING = _c.LC_LONG_STRING
MAX_PACKED_ARGS = _c.LC_MAX_PACKED_ARGS
# the size of each thread's pack buffer (lc_thread_pack)
PACK_BYTES = _c.LC_PACK_BYTES

# Lua type numbers (enum lc_luatype)
TNIL, TBOOLEAN, TLIGHTUSERDATA = _c.LC_TNIL, _c.LC_TBOOLEAN, _c.LC_TLIGHTUSERDATA
TNUMBER, TSTRING, TTABLE = _c.LC_TNUMBER, _c.LC_TSTRING, _c.LC_TTABLE
TFUNCTION, TUSERDATA, TTHREAD = _c.LC_TFUNCTION, _c.LC_TUSERDATA, _c.LC_TTHREAD

# standard library selection bits (enum lc_lib)
LIB_BASE = _c.LC_LIB_BASE
LIB_PACKAGE = _c.LC_LIB_PACKAGE
LIB_COROUTINE = _c.LC_LIB_COROUTINE
LIB_TABLE = _c.LC_LIB_TABLE
LIB_IO = _c.LC_LIB_IO
LIB_OS = _c.LC_LIB_OS
LIB_STRING = _c.LC_LIB_STRING
LIB_MATH = _c.LC_LIB_MATH
LIB_UTF8 = _c.LC_LIB_UTF8
LIB_DEBUG = _c.LC_LIB_DEBUG
LIB_BIT = _c.LC_LIB_BIT
LIB_JIT = _c.LC_LIB_JIT
LIB_FFI = _c.LC_LIB_FFI
LIB_ALL = _c.LC_LIB_ALL

# kinds of lc_column, bulk table building (enum lc_column_kind)
COL_INDEX, COL_INT, COL_FLOAT = _c.LC_COL_INDEX, _c.LC_COL_INT, _c.LC_COL_FLOAT
COL_STR, COL_VALS = _c.LC_COL_STR, _c.LC_COL_VALS

# the cursor of a finished table traversal (enum lc_cursor)
CURSOR_DONE = _c.LC_CURSOR_DONE

# Lua's registry "no reference" (Lua's own, the same in every version)
LUA_NOREF = -2

_NOT_IN_C = frozenset(["LUA_NOREF"])


def check(lib):
    """Raises ImportError unless every constant above has the value of the
    backend's compiled C shim (lib.LC_<NAME>)."""
    wrong = []
    for name, value in globals().items():
        if name.isupper() and name[0] != "_" and name not in _NOT_IN_C:
            c_value = getattr(lib, "LC_" + name, None)
            if c_value != value:
                wrong.append("%s = %r, LC_%s = %r" % (name, value, name, c_value))
    if wrong:
        raise ImportError(
            "lupacffi: the backend's C shim does not match _lc_constants (rebuild both): "
            + "; ".join(wrong)
        )
