"""The lupacffi command line, modelled on the standalone ``lua``:

    python -m lupacffi [options] [FILE [ARGS...]]

runs FILE ("-" is stdin) with ARGS in the global ``arg`` table and as ``...``;
``-e CODE`` and ``-l MODULE`` run before it, in the order given; ``-i`` or no
FILE on a terminal starts the interactive prompt.  ``--sandbox`` and the
``--max-*`` options create the runtime with LuaRuntime's sandbox and limits.
"""

import argparse
import importlib
import math
import os
import re
import sys
import traceback

import lupacffi
from lupacffi._runtime import _STILL_RUNNING, _call_interruptibly

PROG = "lupacffi"
USAGE = "%(prog)s [options] [FILE [ARGS...]]"

# Helpers that run inside each runtime.  `print` writes through Python's
# sys.stdout; text that Python cannot decode or encode (a binary Lua string)
# falls back to C's stdout, as the standalone lua would write it.
LUA_HELPERS = b"""
local write, flush_py, is_unicode_error = ...
local tostring, select, concat, pcall, error, type, getmetatable =
      tostring, select, table.concat, pcall, error, type, getmetatable
local stdout = io and io.stdout

local function lc_print(...)
  local parts = {}
  for i = 1, select('#', ...) do parts[i] = tostring((select(i, ...))) end
  local text = concat(parts, '\\t') .. '\\n'
  local ok, err = pcall(write, text)
  if not ok then
    if not (stdout and is_unicode_error(err)) then error(err, 0) end
    flush_py()
    stdout:write(text)
    stdout:flush()
  end
end

-- runs a chunk of the prompt and prints its results (if any) through the
-- global print, as lua's prompt does, without converting them to Python
local function show_results(...)
  if select('#', ...) > 0 then print(...) end
end
local function run_and_show(chunk)
  show_results(chunk())
end

-- the text lua.c shows for an error object that is not a string
local function error_text(v)
  local mt = getmetatable(v)
  if type(mt) == 'table' and mt.__tostring then return tostring(v) end
  return '(error object is a ' .. type(v) .. ' value)'
end

return lc_print, run_and_show, error_text
"""

# --lua aliases besides "5.4", "54", "lua54", ...
_JIT_ALIASES = {"jit", "jit21", "luajit", "luajit21", "luajit2.1", "2.1"}


class UsageError(Exception):
    """A bad command line (exit status 2)."""


class Failure(Exception):
    """A clear error that ends the program with status 1."""


# ---- C stdio ---------------------------------------------------------------

_libc = None


def _flush_c():
    """fflush(NULL): pushes out what Lua's io library has buffered in C's
    stdout, so that it comes before what Python writes next."""
    global _libc
    if _libc is None:
        try:
            import cffi

            ffi = cffi.FFI()
            ffi.cdef("int fflush(void *);")
            _libc = (ffi, ffi.dlopen(None))
        except Exception:  # no C library to reach: nothing to flush
            _libc = False
    if _libc:
        ffi, lib = _libc
        lib.fflush(ffi.NULL)


def _flush_all():
    _flush_c()
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


def _write(text):
    _flush_c()
    sys.stdout.write(text)
    sys.stdout.flush()


# ---- backends --------------------------------------------------------------


def backend_module_name(spec):
    """The module name ("lua54", "luajit21") of a --lua value, or None."""
    s = spec.strip().lower()
    if s.startswith("lupacffi."):
        s = s[len("lupacffi.") :]
    if s in _JIT_ALIASES:
        return "luajit21"
    m = re.match(r"^(?:lua)?5\.?([1-5])$", s)
    return "lua5" + m.group(1) if m else None


def load_backend(spec):
    """The backend module chosen by --lua (the package default without it)."""
    built = lupacffi.available_backends()
    if spec is None:
        if not built:
            raise Failure("no Lua backend is built (run vendor/fetch.py, then pip install .)")
        name = built[0]  # the package default: the newest one built
    else:
        name = backend_module_name(spec)
        if name is None:
            raise UsageError(
                "unknown Lua backend %r (choose from 5.1, 5.2, 5.3, 5.4, 5.5, jit)" % spec
            )
        if name not in built:
            raise Failure(
                "backend %s is not built here (built: %s)" % (name, ", ".join(built) or "none")
            )
    return importlib.import_module("lupacffi." + name)


def list_backends(out):
    built = lupacffi.available_backends()
    if not built:
        out.write("no Lua backend is built\n")
    for k, name in enumerate(built):
        lupa = importlib.import_module("lupacffi." + name)
        impl = lupa.LuaRuntime().lua_implementation
        out.write("%-9s %s%s\n" % (name, impl, "   (default)" if k == 0 else ""))
    missing = [n for n in lupacffi.BACKEND_MODULES if n not in built]
    if missing:
        out.write("not built: %s\n" % ", ".join(missing))


# ---- the session -----------------------------------------------------------


class Session(object):
    """One LuaRuntime with lua's print, and the ways to run code in it."""

    def __init__(self, lupa, **options):
        self.lupa = lupa
        self.max_memory = options.get("max_memory")
        self.lua = lua = lupa.LuaRuntime(**options)
        helpers = lua.compile(LUA_HELPERS, name="=(lupacffi)")
        lc_print, self._run_and_show, self._error_text = helpers(
            _write, _flush_all, lambda e: isinstance(e, UnicodeError)
        )
        lua.globals()["print"] = lc_print

    def banner(self):
        return "%s %s with %s (%s)" % (
            PROG,
            lupacffi.__version__,
            self.lua.lua_implementation,
            self.lupa.__name__,
        )

    def set_arg(self, argv, script_index):
        """Lua's `arg`: the script at 0, its arguments after, our options before."""
        self.lua.globals()["arg"] = self.lua.table_from(
            {i - script_index: a for i, a in enumerate(argv)}
        )

    def compile(self, code, name):
        return self.lua.compile(code, name=name)

    def run(self, func, args=(), show=False, interruptible=False):
        """Calls func(*args) from Python, so that a script's traceback ends
        in its main chunk, and drops the results.  show=True: prints them
        instead, as the prompt does (from Lua: they are not converted).
        interruptible=True: Lua runs in a worker thread and Ctrl-C stops it
        (LuaInterrupted), as at the prompt."""
        _flush_all()
        if show:
            func, args = self._run_and_show, (func,)
        try:
            if interruptible:
                _call_interruptibly(self.lua, func, args, {}, self._interrupt_notice)
            else:
                func(*args)
        finally:
            _flush_all()

    def _interrupt_notice(self):
        """The first Ctrl-C did not stop Lua at once: on LuaJIT, code compiled
        by the JIT never sees an interrupt; say so, and that a second Ctrl-C
        exits."""
        if self.lua.lua_implementation.startswith("LuaJIT"):
            _flush_all()
            sys.stderr.write(
                "%s: interrupt requested; code compiled by LuaJIT's JIT does not "
                "see it: press Ctrl-C again to exit\n" % PROG
            )
            sys.stderr.flush()

    def require(self, spec):
        """-l MODULE (or -l NAME=MODULE): require it into a global."""
        name, _, module = spec.rpartition("=")
        func = self.compile("local g, name, mod = ...; g[name] = require(mod)", "=(command line)")
        self.run(func, (self.lua.globals(), name or module, module), interruptible=True)

    def error_message(self, exc):
        """The text of an error raised by Lua code or by a Python callback."""
        if not isinstance(exc, self.lupa.LuaError):  # from Python: its traceback
            tb = exc.__traceback__
            while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
                tb = tb.tb_next  # without the frames of this module
            return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()
        # without the frames of LUA_HELPERS (chunk "(lupacffi)")
        text = "\n".join(t for t in str(exc).split("\n") if not t.startswith("\t(lupacffi):"))
        if not text or text.startswith("stack traceback:"):  # a non-string error object
            head = self._error_text(exc.value)
            text = head + "\n" + text if text else head
        return text

    def report(self, exc, prefix):
        """Shows an error on stderr; the prefix goes before a Lua error."""
        _flush_all()
        if not isinstance(exc, self.lupa.LuaError):
            prefix = ""
        text = self.error_message(exc)
        if isinstance(exc, self.lupa.LuaMemoryError) and self.max_memory:
            text += " (memory limit: %d bytes)" % self.max_memory
        sys.stderr.write(prefix + text + "\n")
        sys.stderr.flush()


def is_incomplete(exc):
    """A syntax error at the end of the input: the chunk goes on (lua.c's
    test; Lua 5.1 quotes the token: '<eof>')."""
    return str(exc).rstrip().rstrip("'").endswith("<eof>")


def read_script(path):
    if path == "-":
        data = sys.stdin.buffer.read()
        name = "=stdin"
    else:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise Failure("cannot open %s (%s)" % (path, e.strerror or e))
        name = "@" + path
    if data.startswith(b"#"):  # a "#!" line: drop it, keep the line numbers
        data = data[data.find(b"\n") :] if b"\n" in data else b""
    return data, name


def interact(session):
    """The prompt: expressions are printed, statements run, incomplete
    chunks continue on the next line.  Ctrl-C drops the current input,
    Ctrl-D leaves."""
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    sys.stdout.write(session.banner() + "\n")
    lines = []
    while True:
        try:
            _flush_all()
            line = input(">> " if lines else "> ")
            lines.append(line)
            func = read_chunk(session, lines)
            if func is not None:
                lines = []
                session.run(func, show=True, interruptible=True)
        except EOFError:
            sys.stdout.write("\n")
            if lines:  # an unfinished chunk: say why, as lua does
                try:
                    session.compile("\n".join(lines), "=stdin")
                except Exception as e:
                    session.report(e, "")
            return
        except KeyboardInterrupt as e:
            sys.stdout.write("\n")
            lines = []
            if e.args == (_STILL_RUNNING,):  # a second Ctrl-C: give up, as lua does
                sys.stderr.write("lupacffi: %s\n" % _STILL_RUNNING)
                sys.stderr.flush()
                os._exit(130)  # (a worker thread may still hold the runtime)
        except Exception as e:  # a Lua error, or a Python one from a callback
            lines = []
            session.report(e, "")


def read_chunk(session, lines):
    """The function of the prompt's input so far, None while it is incomplete
    (SyntaxError if it cannot be completed).  A first line that is an
    expression is compiled as "return <line>" (Lua 5.1's "=<line>" too)."""
    SyntaxErr = session.lupa.LuaSyntaxError
    if len(lines) == 1:
        expr = lines[0][lines[0].startswith("=") :]
        try:
            func = session.compile("return " + expr, "=stdin")
        except SyntaxErr:
            func = None
        if func is not None:
            # The values go through a call so that a function call in the line
            # is no tail call: LuaJIT would leave the line's frame out of error
            # positions and tracebacks.
            try:
                return session.compile(
                    "return (function(...) return ... end)(%s\n)" % expr, "=stdin"
                )
            except SyntaxErr:  # e.g. "return ;"
                return func
    try:
        return session.compile("\n".join(lines), "=stdin")
    except SyntaxErr as e:
        if is_incomplete(e):
            return None
        raise


# the options that take the next argument as their value
OPTIONS_WITH_VALUE = ("-e", "-l", "--lua", "--max-instructions", "--max-time", "--max-memory")

_SIZE_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}


def positive_int(text):
    """--max-instructions: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not an integer: %r" % text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive: %r" % text)
    return value


def seconds(text):
    """--max-time: a number of seconds > 0 (at most 1e9, as set_limits takes)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text)
    if not (math.isfinite(value) and 0 < value <= 1e9):
        raise argparse.ArgumentTypeError("must be a positive number of seconds: %r" % text)
    return value


def size(text):
    """--max-memory: bytes > 0, an integer with an optional k, M or G (KiB, MiB, GiB)."""
    m = re.match(r"^\s*(\d+)\s*([kmg]?)i?b?\s*$", text, re.I)
    if not m:
        raise argparse.ArgumentTypeError("not a size in bytes (e.g. 1000000, 512k, 64M): %r" % text)
    value = int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive: %r" % text)
    return value


def runtime_options(opts):
    """LuaRuntime's keyword arguments from --sandbox and the --max-* options
    (given limits override the sandbox's defaults)."""
    options = {}
    if opts.sandbox:
        options["sandbox"] = True
    for name in ("max_instructions", "max_time", "max_memory"):
        if getattr(opts, name) is not None:
            options[name] = getattr(opts, name)
    return options


def _script_index(argv):
    """Where the script name is in argv (len(argv) if there is none): the
    first argument that is not an option or an option's value."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return i + 1
        if a == "-" or not a.startswith("-"):
            return i
        i += 2 if a in OPTIONS_WITH_VALUE else 1
    return len(argv)


def make_parser():
    p = argparse.ArgumentParser(
        prog=PROG,
        usage=USAGE,
        allow_abbrev=False,
        description="Run Lua code through lupacffi, like the standalone lua.",
    )
    p.add_argument(
        "-e",
        metavar="CODE",
        dest="actions",
        action="append",
        type=lambda s: ("e", s),
        help="execute the string CODE (repeatable)",
    )
    p.add_argument(
        "-l",
        metavar="MODULE",
        dest="actions",
        action="append",
        type=lambda s: ("l", s),
        help="require MODULE into the global MODULE (NAME=MODULE: into NAME)",
    )
    p.add_argument(
        "-i",
        dest="interactive",
        action="store_true",
        help="enter the interactive prompt after running FILE",
    )
    p.add_argument(
        "--lua",
        metavar="VERSION",
        help="the backend: 5.1, 5.2, 5.3, 5.4, 5.5 or jit (default: newest built)",
    )
    p.add_argument("--list", action="store_true", help="list the built backends and exit")
    p.add_argument(
        "--sandbox",
        action="store_true",
        help="run untrusted code: LuaRuntime(sandbox=True), safe libraries only, "
        "64 MiB and 5 s per call unless the options below say otherwise",
    )
    p.add_argument(
        "--max-instructions",
        metavar="N",
        type=positive_int,
        help="stop each call into Lua after N Lua VM instructions",
    )
    p.add_argument(
        "--max-time",
        metavar="SECONDS",
        type=seconds,
        help="stop each call into Lua after SECONDS of wall-clock time",
    )
    p.add_argument(
        "--max-memory",
        metavar="BYTES",
        type=size,
        help="limit Lua's memory (beyond a fresh runtime's) to BYTES (k, M, G suffixes allowed)",
    )
    p.add_argument("-v", "--version", action="store_true", help="show the version information")
    p.add_argument(
        "file",
        metavar="FILE",
        nargs="?",
        help='a Lua script ("-": standard input); without it, the prompt',
    )
    p.add_argument("args", metavar="ARGS", nargs="*", help="arguments of the script: arg[1], ...")
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = make_parser()
    k = _script_index(argv)
    opts = parser.parse_args(argv[:k])  # the rest is the script's
    script = argv[k] if k < len(argv) else None
    session = None
    try:
        if opts.list:
            list_backends(sys.stdout)
            return 0
        session = Session(load_backend(opts.lua), **runtime_options(opts))
        if opts.version:
            sys.stdout.write(session.banner() + "\n")
        session.set_arg([PROG] + argv, k + 1 if script is not None else 0)
        for kind, value in opts.actions or ():
            if kind == "e":  # (every chunk runs as at the prompt: Ctrl-C stops it)
                session.run(session.compile(value, "=(command line)"), interruptible=True)
            else:
                session.require(value)
        if script is not None:
            data, name = read_script(script)
            session.run(session.compile(data, name), argv[k + 1 :], interruptible=True)
        elif not (opts.interactive or opts.actions or opts.version):
            if sys.stdin.isatty():
                opts.interactive = True
            else:  # like lua: run standard input as a script
                data, name = read_script("-")
                session.run(session.compile(data, name), interruptible=True)
        if opts.interactive:
            interact(session)
    except UsageError as e:
        parser.error(str(e))
    except Failure as e:
        _flush_all()
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt as e:
        _flush_all()
        if e.args == (_STILL_RUNNING,):  # a second Ctrl-C: Lua did not stop
            sys.stderr.write("%s: %s\n" % (PROG, _STILL_RUNNING))
            sys.stderr.flush()
            os._exit(130)  # (the worker thread may still hold the runtime)
        sys.stderr.write("%s: interrupted\n" % PROG)
        return 130
    except Exception as e:
        if session is not None and isinstance(e, session.lupa.LuaInterrupted):
            # Ctrl-C stopped Lua (the only caller of interrupt() here)
            _flush_all()
            sys.stderr.write("%s: interrupted\n" % PROG)
            return 130
        if session is None:  # the runtime itself failed
            raise
        session.report(e, PROG + ": ")
        return 1
    finally:
        _flush_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
