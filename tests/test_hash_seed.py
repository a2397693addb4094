"""LuaRuntime(string_hash_seed=...): used by Lua 5.5, accepted and ignored by
the other backends (lupa accepts it everywhere too)."""

import pytest


def key_order(lupa, seed):
    lua = lupa.LuaRuntime(string_hash_seed=seed)
    return list(lua.eval("{" + ",".join("k%d = 1" % i for i in range(60)) + "}").keys())


@pytest.mark.parametrize("seed", [None, 0, 1, 123, 2**31, 2**32 - 1])
def test_seed_accepted_on_every_backend(lupa, seed):
    lua = lupa.LuaRuntime(string_hash_seed=seed)
    assert lua.eval("'a' .. 'b'") == "ab"
    t = lua.table_from({"x%d" % i: i for i in range(100)})
    assert sorted(t.values()) == list(range(100))


def test_same_seed_same_string_key_order(lupa):
    if lupa.LUA_VERSION < (5, 5):
        pytest.skip("only Lua 5.5 takes a seed; other Lua versions may randomise per state")
    assert key_order(lupa, 7) == key_order(lupa, 7)
    assert sorted(key_order(lupa, 7)) == sorted(key_order(lupa, 8))


def test_seed_changes_string_hashing_on_55(lupa):
    if lupa.LUA_VERSION < (5, 5):
        pytest.skip("only Lua 5.5 takes a seed")
    orders = {tuple(key_order(lupa, seed)) for seed in (1, 2, 3, 4)}
    assert len(orders) > 1


@pytest.mark.parametrize("seed", ["x", b"1", [1], object()])
def test_seed_bad_type(lupa, seed):
    # lupa: TypeError('an integer is required')
    with pytest.raises(TypeError):
        lupa.LuaRuntime(string_hash_seed=seed)


def test_seed_out_of_unsigned_int_range(lupa):
    # lupa: OverflowError("can't convert negative value to unsigned int"),
    # OverflowError('value too large to convert to unsigned int')
    for seed in (-1, 2**32, 2**64):
        with pytest.raises(OverflowError):
            lupa.LuaRuntime(string_hash_seed=seed)
