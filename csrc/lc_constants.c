/* The source of lupacffi._lc_constants (build_ffi.make_constants_ffi): the
   numbers of lc_types.h and lc_api.h, and no Lua. */
#include <stdlib.h>
#include "lc_types.h"
#include "lc_api.h"

/* The module calls nothing in libc, but auditwheel tells a glibc wheel from a
   musl one by the libc each module needs, and linkers (zig's among them) drop
   a library that no symbol comes from (zig drops it even under
   --no-as-needed): this exported pointer takes one from libc. */
void (*const lc_needs_libc)(void) = abort;

/* (and the wrappers' C base type, CPython only: no Lua in it either) */
#include "lc_wrapper.h"
#include "lc_wrapper.c"
