/* What the C base type of the wrappers (lc_wrapper.c, CPython only) calls:
   the entry points of the runtime's own backend.  The type lives in
   _lc_constants, one for every backend, and finds them through the runtime:
   struct lc_runtime starts with an lc_runtime_head. */
#ifndef LC_WRAPPER_H
#define LC_WRAPPER_H

struct lc_runtime;

typedef struct lc_entries {
    long long (*call)(struct lc_runtime *rt, int ref, lc_val *args, int nargs);
    long long (*call_i)(struct lc_runtime *rt, int ref, long long i);
    long long (*call_d)(struct lc_runtime *rt, int ref, double d);
    long long (*call_s)(struct lc_runtime *rt, int ref, const char *s, size_t len);
    long long (*getitem_i)(struct lc_runtime *rt, int ref, long long key);
    long long (*getitem_s)(struct lc_runtime *rt, int ref, const char *key, size_t len);
    int (*setitem_i)(struct lc_runtime *rt, int ref, long long key, long long value);
    char *(*thread_pack)(void);
} lc_entries;


/* The first fields of struct lc_runtime. */
typedef struct lc_runtime_head {
    const lc_entries *entries;
    int encoding;             /* enum lc_encoding (lc_types.h), set by lc_set_encoding */
} lc_runtime_head;

#endif
