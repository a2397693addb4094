"""Numbers shared with the C shim (csrc/lc_types.h)."""

# lc_val tags
NIL, BOOL, INT, FLOAT, STR, REF, PYOBJ, NONE = range(8)

# entry point status codes (negative results)
(ERR_RUN, ERR_SYNTAX, ERR_MEMORY, ERR_ERR, ERR_CLOSED, ERR_DEPTH, ERR_DEAD, ERR_INSTRUCTIONS,
 ERR_TIME) = range(-1, -10, -1)

# callback ops
(OP_CALL, OP_INDEX, OP_NEWINDEX, OP_TOSTRING, OP_RELEASE, OP_EQ, OP_LT, OP_LE, OP_LEN,
 OP_CONCAT, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_POW, OP_UNM, OP_IDIV,
 OP_ITER_NEXT, OP_FETCH, OP_THAW) = range(21)
OP_PYFUNC = 32

# callback results besides a count
CB_ERROR, CB_ITER, CB_FUNC = -1, -2, -3

# Lua's registry "no reference"
LUA_NOREF = -2

# Lua type numbers
TLIGHTUSERDATA, TTABLE, TFUNCTION, TUSERDATA, TTHREAD = 2, 5, 6, 7, 8

# standard library selection bits
LIB_ALL = 8191

# kinds of lc_column (bulk table building)
COL_INDEX, COL_INT, COL_FLOAT, COL_STR, COL_VALS = range(5)
