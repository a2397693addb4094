/* Tracebacks: the message handler of every protected call, and a traceback
   formatter for Lua 5.1, which lacks luaL_traceback. */

#if LUA_VERSION_NUM < 502 && !defined(LC_LUAJIT)
/* The format of Lua 5.1's debug.traceback. */
static void lc_traceback51(lua_State *L, lua_State *co, int level)
{
    lua_Debug ar;
    luaL_Buffer b;
    int first = 1;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "stack traceback:");
    while (lua_getstack(co, level++, &ar)) {
        char line[64];
        if (level > 12 && first) {
            lua_Debug tail;
            if (lua_getstack(co, level + 10, &tail)) {
                luaL_addstring(&b, "\n\t...");
                while (lua_getstack(co, level + 10, &tail))
                    level++;
            }
            first = 0;
        }
        lua_getinfo(co, "Snl", &ar);
        luaL_addstring(&b, "\n\t");
        luaL_addstring(&b, ar.short_src);
        luaL_addchar(&b, ':');
        if (ar.currentline > 0) {
            snprintf(line, sizeof line, "%d:", ar.currentline);
            luaL_addstring(&b, line);
        }
        if (*ar.namewhat != '\0') {
            luaL_addstring(&b, " in function '");
            luaL_addstring(&b, ar.name);
            luaL_addchar(&b, '\'');
        } else if (*ar.what == 'm') {
            luaL_addstring(&b, " in main chunk");
        } else if (*ar.what == 'C' || *ar.what == 't') {
            luaL_addstring(&b, " ?");
        } else {
            snprintf(line, sizeof line, ":%d>", ar.linedefined);
            luaL_addstring(&b, " in function <");
            luaL_addstring(&b, ar.short_src);
            luaL_addstring(&b, line);
        }
    }
    luaL_pushresult(&b);
}
#endif

static lc_runtime *lc_runtime_of(lua_State *L);

/* lupa builds the traceback text with Lua's own debug.traceback: none where
   Lua code removed that (the global `debug`, or its `traceback`).  Only in
   runtimes that opened the debug library; the others always have the text. */
static int lc_debug_traceback_gone(lua_State *L)
{
    int gone;
    if (!lc_runtime_of(L)->tb_debug)
        return 0;
    lc_pushglobaltable(L);
    lua_pushliteral(L, "debug");
    lua_rawget(L, -2);
    gone = !lua_istable(L, -1);
    if (!gone) {
        lua_pushliteral(L, "traceback");
        lua_rawget(L, -2);
        gone = !lua_isfunction(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    return gone;
}

/* Pushes Lua's "stack traceback:\n\t..." text for coroutine co, from `level`
   on (an empty string when debug.traceback is gone, see above). */
static void lc_push_tbtext(lua_State *L, lua_State *co, int level)
{
    if (lc_debug_traceback_gone(L)) {
        lua_pushliteral(L, "");
        return;
    }
#if LUA_VERSION_NUM < 502 && !defined(LC_LUAJIT)
    lc_traceback51(L, co, level);
#else
    luaL_traceback(L, co, NULL, level);
#endif
}

/* ---- frame records, for the Lua frames in Python's tracebacks ----------------
   After the text, the traceback string holds a NUL and then one record per
   frame, innermost first, each five NUL-terminated fields:
     kind         'L' Lua function, 'm' main chunk, 'C' C function,
                  '.' frames left out (current line = how many, -1 unknown)
     current line (-1 where none)
     line where the function was defined
     name         as the caller knows it, or empty
     source       '@' + file path for chunks loaded from files, else '=' + short_src
   Deep stacks keep the innermost LC_TB_FIRST and outermost LC_TB_LAST frames.
   Only frames above our runner lc_body count: those below belong to an outer
   entry point (Lua -> Python -> Lua), whose own error shows them. */
#define LC_TB_FIRST 20
#define LC_TB_LAST 20
#define LC_TB_SCAN 256        /* levels searched for lc_body from the bottom */

static int lc_body(lua_State *L);

/* Is the frame ar of co our runner lc_body?  (co is the running thread.) */
static int lc_is_body(lua_State *co, lua_Debug *ar)
{
    int r;
    if (*ar->what != 'C')
        return 0;
    lua_getinfo(co, "f", ar);
    r = lua_tocfunction(co, -1) == lc_body;
    lua_pop(co, 1);
    return r;
}

/* The deepest valid level of co (binary search: lua_getstack walks). */
static int lc_lastlevel(lua_State *co)
{
    lua_Debug ar;
    int li = 1, le = 1;
    while (lua_getstack(co, le, &ar)) {
        li = le;
        le *= 2;
    }
    while (li < le) {
        int m = (li + le) / 2;
        if (lua_getstack(co, m, &ar))
            li = m + 1;
        else
            le = m;
    }
    return le - 1;
}

static void lc_add_field(luaL_Buffer *b, const char *s)
{
    if (s != NULL)
        luaL_addstring(b, s);
    luaL_addchar(b, '\0');
}

static void lc_add_number(luaL_Buffer *b, int n)
{
    char num[32];
    snprintf(num, sizeof num, "%d", n);
    lc_add_field(b, num);
}

/* Adds the record of the frame at level; 0 if there is none to show. */
static int lc_add_frame(luaL_Buffer *b, lua_State *co, int level)
{
    lua_Debug ar;
    char kind[2];
    if (!lua_getstack(co, level, &ar))
        return 0;
    lua_getinfo(co, "Sln", &ar);
    if (*ar.what == 't')      /* Lua 5.1: a tail call whose frame is gone */
        return 0;
    kind[0] = *ar.what == 'm' ? 'm' : *ar.what == 'C' ? 'C' : 'L';
    kind[1] = '\0';
    lc_add_field(b, kind);
    lc_add_number(b, ar.currentline);
    lc_add_number(b, ar.linedefined);
    lc_add_field(b, ar.name);
    if (ar.source != NULL && ar.source[0] == '@') {
        lc_add_field(b, ar.source);
    } else {
        luaL_addchar(b, '=');
        lc_add_field(b, ar.short_src);
    }
    return 1;
}

/* Pushes NUL + the frame records of co from `level` on; with `mine`, co is
   the running thread and the records end at lc_body. */
static void lc_push_frames(lua_State *L, lua_State *co, int level, int mine, int depth)
{
    lua_Debug ar;
    luaL_Buffer b;
    int lvl, n, end = -1, start, k, bodies = 0, last;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '\0');
    for (lvl = level, n = 0; n < LC_TB_FIRST; lvl++) {
        if (!lua_getstack(co, lvl, &ar)) {
            end = lvl;
            break;
        }
        lua_getinfo(co, "S", &ar);
        if (mine && lc_is_body(co, &ar)) {
            end = lvl;
            break;
        }
        n += lc_add_frame(&b, co, lvl);
    }
    if (end < 0) {
        /* a deep stack: find where it ends, searching up from the bottom;
           the innermost lc_body there is ours if the search saw all of them */
        last = lc_lastlevel(co);
        end = last + 1;
        if (mine) {
            end = -1;
            for (k = last; k >= lvl && k > last - LC_TB_SCAN && bodies < depth; k--) {
                lua_getstack(co, k, &ar);    /* (each walks the stack: few of them) */
                lua_getinfo(co, "S", &ar);
                if (lc_is_body(co, &ar)) {
                    end = k;
                    bodies++;
                }
            }
            if (k >= lvl && bodies < depth)
                end = -1;     /* ours may be higher up: show no outer frames */
        }
        start = end < 0 ? end : end - LC_TB_LAST > lvl ? end - LC_TB_LAST : lvl;
        if (start != lvl) {
            luaL_addchar(&b, '.');
            luaL_addchar(&b, '\0');
            lc_add_number(&b, start < 0 ? -1 : start - lvl);
            lc_add_field(&b, "0");
            lc_add_field(&b, NULL);
            lc_add_field(&b, "=");
        }
        for (k = start; k >= 0 && k < end; k++)
            lc_add_frame(&b, co, k);
    }
    luaL_pushresult(&b);
}

/* The frame records of where Lua was stopped at an execution limit, in this
   thread.  A call stopped so ends with LC_ERR_INSTRUCTIONS or LC_ERR_TIME
   (lc_leave), and then its out[] need not hold a traceback: Python asks
   lc_stop_traceback for them instead.  As the stop goes out through nested
   entry points (Lua -> Python -> Lua), the records of each are appended:
   innermost first, as ever. */
LC_TLS char *tls_stop;
LC_TLS size_t tls_stop_len;   /* 0: none (taken, or no stop since) */
LC_TLS size_t tls_stop_cap;

/* With the traceback string on top of L: keeps its records if the error is
   the stop of an execution limit. */
static void lc_note_stop(lc_runtime *rt, lua_State *L)
{
    size_t len;
    const char *tb, *records;
    if (rt->stop != LC_STOP_INSTRUCTIONS && rt->stop != LC_STOP_TIME)
        return;
    tb = lua_tolstring(L, -1, &len);
    records = tb == NULL ? NULL : (const char *)memchr(tb, '\0', len);
    if (records == NULL)
        return;
    records++;
    len -= (size_t)(records - tb);
    if (tls_stop_len + len > tls_stop_cap) {
        char *p = (char *)realloc(tls_stop, tls_stop_len + len);
        if (p == NULL)
            return;           /* fewer frames then */
        tls_stop = p;
        tls_stop_cap = tls_stop_len + len;
    }
    memcpy(tls_stop + tls_stop_len, records, len);
    tls_stop_len += len;
}

int lc_stop_traceback(lc_val *out)
{
    if (tls_stop_len == 0) {
        out->tag = LC_NIL;
        return 0;
    }
    out->tag = LC_STR;
    out->s = tls_stop;        /* valid until this thread's next stop */
    out->i = (long long)tls_stop_len;
    tls_stop_len = 0;
    return 1;
}

/* Pushes the traceback of coroutine co from `level` on: Lua's text, then the
   frame records. */
static void lc_push_traceback(lua_State *L, lua_State *co, int level)
{
    lc_push_tbtext(L, co, level);
    lc_push_frames(L, co, level, 0, 0);
    lua_concat(L, 2);
    lc_note_stop(lc_runtime_of(L), L);
}

/* Message handler: records the traceback in the registry slot tb_ref and
   returns the error value unchanged.  The outermost frame of the text is
   always lc_body, our own runner, so its line is cut off. */
static int lc_msgh(lua_State *L)
{
    lc_runtime *rt = (lc_runtime *)lua_touserdata(L, lua_upvalueindex(1));
    size_t len;
    const char *tb, *cut;
    if (lua_type(L, 1) == LUA_TSTRING && strcmp(lua_tostring(L, 1), "not enough memory") == 0) {
        /* a memory error that C code raised again as a plain error: building
           a traceback would need memory too, and fail (error in error handling) */
        lua_pushnil(L);
        lua_rawseti(L, LUA_REGISTRYINDEX, rt->tb_ref);
        return 1;
    }
    lc_push_tbtext(L, L, 1);
    tb = lua_tolstring(L, -1, &len);
    for (cut = tb + len - 1; cut > tb; cut--)
        if (cut[0] == '\n' && cut[1] == '\t')
            break;
    if (cut > tb) {
        lua_pushlstring(L, tb, (size_t)(cut - tb));
        lua_remove(L, -2);
    }
    lc_push_frames(L, L, 1, 1, rt->depth);
    lua_concat(L, 2);
    lc_note_stop(rt, L);
    lua_rawseti(L, LUA_REGISTRYINDEX, rt->tb_ref);
    lua_settop(L, 1);
    return 1;
}
