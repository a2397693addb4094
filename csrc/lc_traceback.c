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

/* Pushes "stack traceback:\n\t..." for coroutine co, from `level` on. */
static void lc_push_traceback(lua_State *L, lua_State *co, int level)
{
#if LUA_VERSION_NUM < 502 && !defined(LC_LUAJIT)
    lc_traceback51(L, co, level);
#else
    luaL_traceback(L, co, NULL, level);
#endif
}

/* Message handler: records the traceback in the registry slot tb_ref and
   returns the error value unchanged.  The outermost frame is always lc_body,
   our own runner, so its line is cut off. */
static int lc_msgh(lua_State *L)
{
    lc_runtime *rt = (lc_runtime *)lua_touserdata(L, lua_upvalueindex(1));
    size_t len;
    const char *tb, *cut;
    lc_push_traceback(L, L, 1);
    tb = lua_tolstring(L, -1, &len);
    for (cut = tb + len - 1; cut > tb; cut--)
        if (cut[0] == '\n' && cut[1] == '\t')
            break;
    if (cut > tb) {
        lua_pushlstring(L, tb, (size_t)(cut - tb));
        lua_remove(L, -2);
    }
    lua_rawseti(L, LUA_REGISTRYINDEX, rt->tb_ref);
    lua_settop(L, 1);
    return 1;
}
