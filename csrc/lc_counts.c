/* How many references Lua holds to each Python object handle: one per live
   userdata, plus temporary pins while values are being pushed.  Kept in C (not
   in a Lua table) so that counting never allocates Lua memory and so never
   triggers a garbage collection step half-way through pushing values. */

static size_t lc_counts_slot(lc_counts *c, long long h)
{
    size_t mask = c->cap - 1;
    size_t i = (size_t)((unsigned long long)h * 0x9E3779B97F4A7C15ULL >> 7) & mask;
    while (c->keys[i] != 0 && c->keys[i] != h)
        i = (i + 1) & mask;
    return i;
}

static void lc_counts_grow(lc_counts *c)
{
    lc_counts old = *c;
    size_t i;
    c->cap = old.cap ? old.cap * 2 : 64;
    c->keys = (long long *)calloc(c->cap, sizeof(long long));
    c->counts = (int *)calloc(c->cap, sizeof(int));
    if (c->keys == NULL || c->counts == NULL)
        abort();              /* out of C memory: nothing sane left to do */
    c->len = 0;
    for (i = 0; i < old.cap; i++) {
        if (old.keys[i] != 0) {
            size_t j = lc_counts_slot(c, old.keys[i]);
            c->keys[j] = old.keys[i];
            c->counts[j] = old.counts[i];
            c->len++;
        }
    }
    free(old.keys);
    free(old.counts);
}

static void lc_counts_incr(lc_counts *c, long long h)
{
    size_t i;
    if ((c->len + 1) * 2 > c->cap)
        lc_counts_grow(c);
    i = lc_counts_slot(c, h);
    if (c->keys[i] == 0) {
        c->keys[i] = h;
        c->counts[i] = 0;
        c->len++;
    }
    c->counts[i]++;
}

static int lc_counts_get(lc_counts *c, long long h)
{
    size_t i;
    if (c->cap == 0)
        return 0;
    i = lc_counts_slot(c, h);
    return c->keys[i] == 0 ? 0 : c->counts[i];
}

/* Returns the new count; at zero the entry is removed (backward-shift delete). */
static int lc_counts_decr(lc_counts *c, long long h)
{
    size_t mask, i, j;
    if (c->cap == 0)
        return 0;
    mask = c->cap - 1;
    i = lc_counts_slot(c, h);
    if (c->keys[i] == 0)
        return 0;
    if (--c->counts[i] > 0)
        return c->counts[i];
    c->keys[i] = 0;
    c->len--;
    j = i;
    for (;;) {
        size_t home;
        j = (j + 1) & mask;
        if (c->keys[j] == 0)
            break;
        home = (size_t)((unsigned long long)c->keys[j] * 0x9E3779B97F4A7C15ULL >> 7) & mask;
        /* move j back to i if its home slot is not in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            c->keys[i] = c->keys[j];
            c->counts[i] = c->counts[j];
            c->keys[j] = 0;
            i = j;
        }
    }
    return 0;
}

static void lc_counts_free(lc_counts *c)
{
    free(c->keys);
    free(c->counts);
    c->keys = NULL;
    c->counts = NULL;
    c->cap = c->len = 0;
}
