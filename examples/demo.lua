-- A tour of Lua inside Python with lupacffi.
-- Run it:  python -m lupacffi examples/demo.lua [NAME]
-- (add --lua 5.1 / 5.4 / jit ... to pick the Lua; lupacffi --list shows them)

local name = ... or "world"
print(("Hello, %s! This is %s, running inside Python."):format(name, _VERSION))
print(("This file is %s; it got %d argument(s)."):format(arg[0], #arg))

-- Python is reachable through the `python` table.
local py = python.builtins
local word = "naïve"
print(("%q is %d bytes for Lua but %d characters for Python"):format(
    word, #word, py.len(word)))

-- Python functions are called like Lua functions...
local power = python.eval("lambda base, exp: base ** exp")
print("2^10 computed by Python:", power(2, 10))

-- ...and Python containers are indexed and iterated from Lua.
local stock = python.eval("{'apples': 3, 'pears': 5, 'plums': 0}")
local names = {}
for fruit in python.iter(stock) do names[#names + 1] = fruit end
table.sort(names)
for _, fruit in ipairs(names) do
  print(("  %-6s %d"):format(fruit, stock[fruit]))
end

-- Lua tables: count the words of a sentence.
local counts, order = {}, {}
for w in ("the cat saw the other cat and the dog"):gmatch("%a+") do
  if not counts[w] then order[#order + 1] = w end
  counts[w] = (counts[w] or 0) + 1
end
table.sort(order, function(a, b)
  if counts[a] ~= counts[b] then return counts[a] > counts[b] end
  return a < b
end)
local top = {}
for i = 1, 3 do top[i] = order[i] .. "=" .. counts[order[i]] end
print("most frequent words:", table.concat(top, ", "))

-- Coroutines: a generator of Fibonacci numbers.
local fib = coroutine.wrap(function()
  local a, b = 0, 1
  while true do
    coroutine.yield(a)
    a, b = b, a + b
  end
end)
local first = {}
for i = 1, 12 do first[i] = fib() end
print("Fibonacci:", table.concat(first, " "))

-- Python exceptions are Lua errors that pcall can catch.
local ok, err = pcall(python.eval, "1 / 0")
print("pcall(python.eval, '1 / 0') ->", ok, py.type(err).__name__, err)
