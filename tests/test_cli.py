"""The command line, `python -m lupacffi`, driven through subprocesses (and a
pseudo-terminal for the interactive prompt)."""

import os
import select
import signal
import subprocess
import sys
import time

import pytest

import lupacffi
from helpers import CLI_SPEC as SPEC, child_env

BACKENDS = lupacffi.available_backends()
TIMEOUT = 120  # seconds; only a hang would reach it


def run(*args, stdin=b"", cwd=None):
    """Runs `python -m lupacffi ARGS` and returns (status, stdout, stderr) as bytes."""
    p = subprocess.run(
        [sys.executable, "-m", "lupacffi"] + list(args),
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=child_env(),
        timeout=TIMEOUT,
    )
    return p.returncode, p.stdout, p.stderr


def text(data):
    return data.decode("utf-8").replace("\r\n", "\n")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def write(tmp_path, name, code):
    path = tmp_path / name
    path.write_bytes(code.encode("utf-8") if isinstance(code, str) else code)
    return str(path)


def test_tested_package_is_the_installed_one():
    # scripts/test.sh sets LUPACFFI_EXPECT_PREFIX to its venv
    prefix = os.environ.get("LUPACFFI_EXPECT_PREFIX")
    if prefix is None:
        pytest.skip("only under scripts/test.sh")
    here = os.path.realpath(lupacffi.__file__)
    assert here.startswith(os.path.realpath(prefix) + os.sep), here


# ---- running files --------------------------------------------------------


def test_file_with_arguments(tmp_path, backend):
    script = write(
        tmp_path,
        "args.lua",
        """
        print("dots", select('#', ...), ...)
        print("arg", #arg, arg[0], arg[1], arg[2], arg[3])
        print("before", arg[-1], arg[-2], arg[-3])
    """,
    )
    status, out, err = run("--lua", SPEC[backend], script, "one", "två", "-e")
    assert (status, err) == (0, b"")
    assert text(out) == (
        "dots\t3\tone\ttvå\t-e\n"
        "arg\t3\t%s\tone\ttvå\t-e\n"
        "before\t%s\t--lua\tlupacffi\n" % (script, SPEC[backend])
    )


def test_file_arguments_are_not_options(tmp_path):
    script = write(tmp_path, "a.lua", "print(...)")
    status, out, err = run(script, "--lua", "-i", "--", "")
    assert (status, err) == (0, b"")
    assert text(out) == "--lua\t-i\t--\t\n"


def test_double_dash_ends_the_options(tmp_path):
    write(tmp_path, "-i", "print('the file named -i', ...)")
    status, out, err = run("--", "-i", "x", cwd=str(tmp_path))
    assert (status, err) == (0, b"")
    assert text(out) == "the file named -i\tx\n"


def test_shebang_line_is_skipped_and_lines_keep_their_numbers(tmp_path):
    write(tmp_path, "s.lua", "#!/usr/bin/env lua\nprint('ok')\nerror('line three')\n")
    status, out, err = run("s.lua", cwd=str(tmp_path))
    assert status == 1
    assert text(out) == "ok\n"
    assert "s.lua:3: line three" in text(err)


def test_standard_input_as_the_script():
    status, out, err = run("-", "a", "b", stdin=b"print('stdin', ...)\n")
    assert (status, text(out), err) == (0, "stdin\ta\tb\n", b"")


def test_standard_input_without_a_file_when_not_a_terminal():
    status, out, err = run(stdin=b"x = 6 * 7\nprint(x)\n")
    assert (status, text(out), err) == (0, "42\n", b"")


def test_script_results_are_ignored(tmp_path):
    script = write(tmp_path, "r.lua", "return 1, {}, 'x'")
    assert run(script) == (0, b"", b"")


def test_os_exit_status_and_output_before_it():
    status, out, err = run("-e", "print('bye') io.write('io') os.exit(3)")
    assert (status, text(out)) == (3, "bye\nio")


# ---- -e, -l ---------------------------------------------------------------


def test_e_runs_in_order_and_before_the_file(tmp_path):
    script = write(tmp_path, "f.lua", "print('file', x)")
    status, out, err = run("-e", "x = 1", "-e", "print('e', x) x = x + 1", script)
    assert (status, err) == (0, b"")
    assert text(out) == "e\t1\nfile\t2\n"


def test_e_alone_does_not_start_the_prompt():
    status, out, err = run("-e", "print(_VERSION ~= nil)", stdin=b"print('not run')\n")
    assert (status, text(out), err) == (0, "true\n", b"")


def test_l_requires_a_module_into_a_global(tmp_path, backend):
    write(tmp_path, "greeter.lua", "return {hello = function(n) return 'hi ' .. n end}")
    status, out, err = run(
        "--lua",
        SPEC[backend],
        "-l",
        "greeter",
        "-l",
        "g=greeter",
        "-e",
        "print(greeter.hello('you'), g == greeter)",
        cwd=str(tmp_path),
    )
    assert (status, text(out), err) == (0, "hi you\ttrue\n", b"")


def test_l_and_e_run_in_the_order_given(tmp_path):
    write(tmp_path, "m.lua", "print('loading m', x) return {}")
    status, out, err = run("-e", "x = 'set'", "-l", "m", "-e", "print(type(m))", cwd=str(tmp_path))
    assert (status, text(out), err) == (0, "loading m\tset\ntable\n", b"")


def test_l_missing_module():
    status, out, err = run("-l", "no_such_module_here")
    assert status == 1
    assert "module 'no_such_module_here' not found" in text(err)
    assert "Traceback" not in text(err)


# ---- print ----------------------------------------------------------------


def test_print_uses_tostring_and_tabs():
    status, out, err = run(
        "-e",
        "print(1, nil, true, 'x', setmetatable({}, {__tostring = "
        "function() return 'T!' end})) print() print(nil)",
    )
    assert (status, text(out), err) == (0, "1\tnil\ttrue\tx\tT!\n\nnil\n", b"")


def test_print_and_io_write_keep_their_order():
    status, out, err = run("-e", "io.write('a') print('b') io.write('c\\n') print('d')")
    assert (status, out, err) == (0, b"ab\nc\nd\n", b"")


def test_print_and_python_print_keep_their_order():
    status, out, err = run("-e", "print(1) python.builtins.print(2) print(3) io.write('4\\n')")
    assert (status, text(out), err) == (0, "1\n2\n3\n4\n", b"")


def test_print_of_bytes_that_are_not_utf8():
    status, out, err = run("-e", r"print('\255\0x', 'é')")
    assert (status, out, err) == (0, b"\xff\x00x\t\xc3\xa9\n", b"")


def test_print_of_many_lines():
    status, out, err = run("-e", "for i = 1, 20000 do print(i) end")
    assert status == 0
    assert out.split() == [str(i).encode() for i in range(1, 20001)]


def test_print_into_a_closed_pipe_stops_quietly():
    p = subprocess.Popen(
        [sys.executable, "-m", "lupacffi", "-e", "for i = 1, 1e7 do print(i) end"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    assert p.stdout.readline() == b"1\n"
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(TIMEOUT) != 0
    assert b"Traceback" not in err


# ---- backends -------------------------------------------------------------


@pytest.mark.parametrize("form", ["spec", "module"])
def test_lua_option_picks_the_backend(backend, form):
    lupa = __import__("lupacffi." + backend, fromlist=["LuaRuntime"])
    lua = lupa.LuaRuntime()
    choice = SPEC[backend] if form == "spec" else backend
    status, out, err = run(
        "--lua", choice, "-e", "print(_VERSION, jit and jit.version or 'no jit')"
    )
    assert (status, err) == (0, b"")
    assert text(out) == "%s\t%s\n" % lua.eval("_VERSION, jit and jit.version or 'no jit'")


def test_default_backend_is_the_packages():
    status, out, err = run("-v")
    assert (status, err) == (0, b"")
    assert text(out) == "lupacffi %s with %s (%s)\n" % (
        lupacffi.__version__,
        lupacffi.LuaRuntime().lua_implementation,
        lupacffi.LuaRuntime.__module__,
    )


def test_version_with_backend(backend):
    lupa = __import__("lupacffi." + backend, fromlist=["LuaRuntime"])
    status, out, err = run("--lua", SPEC[backend], "--version")
    assert (status, err) == (0, b"")
    assert text(out) == "lupacffi %s with %s (lupacffi.%s)\n" % (
        lupacffi.__version__,
        lupa.LuaRuntime().lua_implementation,
        backend,
    )


def test_list_shows_every_built_backend():
    status, out, err = run("--list")
    assert (status, err) == (0, b"")
    lines = text(out).splitlines()
    for k, name in enumerate(BACKENDS):
        lupa = __import__("lupacffi." + name, fromlist=["LuaRuntime"])
        impl = lupa.LuaRuntime().lua_implementation
        assert lines[k].split(None, 1) == [name, impl + ("   (default)" if k == 0 else "")]
    missing = [n for n in lupacffi.BACKEND_MODULES if n not in BACKENDS]
    assert lines[len(BACKENDS) :] == (["not built: " + ", ".join(missing)] if missing else [])


@pytest.mark.parametrize("bad", ["6.0", "python", "5", "lua56", ""])
def test_unknown_backend_is_a_usage_error(bad):
    status, out, err = run("--lua", bad, "-e", "print(1)")
    assert (status, out) == (2, b"")
    assert "unknown Lua backend" in text(err) and "usage:" in text(err)


def test_bad_option_is_a_usage_error():
    status, out, err = run("--no-such-option")
    assert (status, out) == (2, b"")
    assert "usage:" in text(err)


def test_option_without_its_value_is_a_usage_error():
    status, out, err = run("-e")
    assert (status, out) == (2, b"")
    assert "-e" in text(err)


# ---- errors ---------------------------------------------------------------


def test_missing_file():
    status, out, err = run("/no/such/dir/script.lua", "x")
    assert (status, out) == (1, b"")
    assert (
        text(err) == "lupacffi: cannot open /no/such/dir/script.lua (No such file or directory)\n"
    )


def test_syntax_error_in_a_file(tmp_path, backend):
    script = "bad.lua"  # short: Lua cuts long chunk names
    write(tmp_path, script, "print('never')\nx = = 1\n")
    status, out, err = run("--lua", SPEC[backend], script, cwd=str(tmp_path))
    assert (status, out) == (1, b"")
    assert text(err).startswith("lupacffi: %s:2:" % script)
    assert "'='" in text(err) and "Traceback" not in text(err)


def test_runtime_error_with_traceback(tmp_path, backend):
    script = "boom.lua"
    write(tmp_path, script, "print('before')\nlocal function inner() error('boom') end\ninner()\n")
    status, out, err = run("--lua", SPEC[backend], script, "a", cwd=str(tmp_path))
    assert (status, text(out)) == (1, "before\n")
    lines = text(err).splitlines()
    assert lines[0] == "lupacffi: %s:2: boom" % script
    assert lines[1] == "stack traceback:"
    assert "%s:3: in main chunk" % script in lines[2]
    assert any("%s:2:" % script in line for line in lines[3:])
    assert "Traceback" not in text(err)


def test_error_in_e():
    status, out, err = run("-e", "error('from e')", "-e", "print('not reached')")
    assert (status, out) == (1, b"")
    assert text(err).startswith("lupacffi: (command line):1: from e\nstack traceback:")


@pytest.mark.parametrize(
    "value, shown",
    [("{}", "(error object is a table value)"), ("true", "(error object is a boolean value)")],
)
def test_error_object_that_is_not_a_string(value, shown):
    status, out, err = run("-e", "error(%s)" % value)
    assert (status, out) == (1, b"")
    assert text(err).splitlines()[0] == "lupacffi: " + shown


def test_error_object_with_tostring():
    status, out, err = run(
        "-e", "error(setmetatable({}, {__tostring = function() return 'mine' end}))"
    )
    assert (status, out) == (1, b"")
    assert text(err).splitlines()[0] == "lupacffi: mine"


def test_python_exception_in_a_callback(tmp_path):
    script = write(tmp_path, "py.lua", "python.eval('1 // 0')")
    status, out, err = run(script)
    assert (status, out) == (1, b"")
    assert "ZeroDivisionError" in text(err).splitlines()[-1]


# ---- sandbox and limits ---------------------------------------------------------

ENDLESS = "print('started')\nwhile true do end\n"


def test_max_instructions_stops_a_script(tmp_path, backend):
    script = write(tmp_path, "loop.lua", ENDLESS)
    status, out, err = run("--lua", SPEC[backend], "--max-instructions", "10000", script)
    assert (status, text(out)) == (1, "started\n")
    assert text(err).startswith("lupacffi: ") and "instruction limit of 10000" in text(err)
    assert "Traceback" not in text(err)


def test_max_time_stops_a_script(tmp_path, backend):
    script = write(tmp_path, "loop.lua", ENDLESS)
    status, out, err = run("--lua", SPEC[backend], "--max-time", "0.2", script)
    assert (status, text(out)) == (1, "started\n")
    assert text(err).startswith("lupacffi: ") and "time limit of 0.2 seconds" in text(err)
    assert "Traceback" not in text(err)


def test_max_memory_stops_a_script(backend):
    code = "local t = {} for i = 1, 1e8 do t[i] = {} end"
    status, out, err = run("--lua", SPEC[backend], "--max-memory", "1M", "-e", code)
    assert (status, out) == (1, b"")
    first = text(err).splitlines()[0]
    assert first.startswith("lupacffi: ") and "not enough memory" in first
    assert first.endswith("(memory limit: 1048576 bytes)")
    assert "Traceback" not in text(err)


def test_limits_that_are_not_reached(tmp_path):
    script = write(tmp_path, "sum.lua", "local s = 0 for i = 1, 100 do s = s + i end print(s, ...)")
    status, out, err = run(
        "--max-instructions", "1000000", "--max-time", "60", "--max-memory", "64M", script, "a"
    )
    assert (status, text(out), err) == (0, "5050\ta\n", b"")


def test_option_values_before_the_script_are_not_the_script(tmp_path):
    script = write(tmp_path, "args.lua", "print(...)")
    status, out, err = run(
        "--max-time",
        "5",
        "--max-memory",
        "1000000",
        "--max-instructions",
        "100000",
        script,
        "--max-time",
        "x",
    )
    assert (status, text(out), err) == (0, "--max-time\tx\n", b"")


def test_limits_at_the_prompt_end_one_input_only():
    status, out, err = run(
        "--max-instructions", "10000", "-i", stdin=b"while true do end\nprint('still here')\n"
    )
    assert status == 0
    assert "still here\n" in text(out)
    assert "instruction limit of 10000" in text(err) and "Traceback" not in text(err)


def test_sandbox_hides_unsafe_functions(backend):
    status, out, err = run(
        "--lua",
        SPEC[backend],
        "--sandbox",
        "-e",
        "print(io, os, require, python and python.eval, string.dump, type(print), arg[0])",
    )
    assert (status, err) == (0, b"")
    assert text(out) == "nil\tnil\tnil\tnil\tnil\tfunction\tlupacffi\n"


def test_without_sandbox_the_same_code_sees_everything():
    status, out, err = run("-e", "print(io ~= nil, os ~= nil, python.eval ~= nil)")
    assert (status, text(out), err) == (0, "true\ttrue\ttrue\n", b"")


def test_sandbox_with_a_time_limit(tmp_path):
    script = write(tmp_path, "loop.lua", ENDLESS)
    status, out, err = run("--sandbox", "--max-time", "0.2", script)
    assert (status, text(out)) == (1, "started\n")
    assert "time limit of 0.2 seconds" in text(err)


def test_sandbox_stops_an_endless_loop_by_default(tmp_path):
    # the sandbox's own time limit (5 s per call)
    script = write(tmp_path, "loop.lua", ENDLESS)
    status, out, err = run("--sandbox", script)
    assert (status, text(out)) == (1, "started\n")
    assert "time limit of 5" in text(err)


def test_sandbox_script_error_is_reported(tmp_path):
    script = write(tmp_path, "io.lua", "io.write('x')")
    status, out, err = run("--sandbox", script)
    assert (status, out) == (1, b"")
    assert text(err).startswith("lupacffi: ") and "io" in text(err)


@pytest.mark.parametrize(
    "option, value",
    [
        ("--max-instructions", "-1"),
        ("--max-instructions", "0"),
        ("--max-instructions", "abc"),
        ("--max-instructions", "1.5"),
        ("--max-instructions", ""),
        ("--max-time", "-1"),
        ("--max-time", "0"),
        ("--max-time", "soon"),
        ("--max-time", "nan"),
        ("--max-time", "inf"),
        ("--max-time", "1e10"),
        ("--max-memory", "-1"),
        ("--max-memory", "0"),
        ("--max-memory", "lots"),
        ("--max-memory", "1.5M"),
        ("--max-memory", "10T"),
    ],
)
def test_bad_limit_values_are_usage_errors(option, value):
    status, out, err = run(option, value, "-e", "print('never')")
    assert (status, out) == (2, b"")
    assert "usage:" in text(err) and "argument %s:" % option in text(err)
    assert "Traceback" not in text(err)


def test_limit_option_without_its_value_is_a_usage_error():
    status, out, err = run("-e", "print('never')", "--max-time")
    assert (status, out) == (2, b"")
    assert "--max-time" in text(err)


# ---- the prompt without a terminal ------------------------------------------


def test_prompt_from_a_pipe(backend):
    lines = (
        b"6 * 7\nlocal a = 1\nfunction twice(x)\n  return x * 2\nend\n"
        b"twice(21), 'x'\nerror('oops')\n=2+3\nprint('still here')\n"
    )
    status, out, err = run("--lua", SPEC[backend], "-i", stdin=lines)
    assert status == 0
    out = text(out)
    assert out.startswith("lupacffi %s" % lupacffi.__version__)
    assert "> 42\n" in out and "42\tx\n" in out and "5\n" in out and "still here\n" in out
    assert "stdin:1: oops" in text(err) and "Traceback" not in text(err)


def test_prompt_after_a_file(tmp_path):
    script = write(tmp_path, "f.lua", "y = 'from the file'")
    status, out, err = run("-i", script, stdin=b"y\n")
    assert (status, err) == (0, b"")
    assert "> from the file\n" in text(out)


def test_prompt_reports_an_unfinished_chunk_at_the_end():
    status, out, err = run("-i", stdin=b"if true then\n")
    assert status == 0
    assert "<eof>" in text(err)


# ---- the prompt on a terminal -----------------------------------------------


class Terminal(object):
    """`python -m lupacffi ARGS` on a pseudo-terminal."""

    def __init__(self, *args):
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            try:
                # as in a terminal session, even when the tests run in the
                # background with SIGINT ignored (which a child would inherit)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.execve(
                    sys.executable,
                    [sys.executable, "-m", "lupacffi"] + list(args),
                    child_env(TERM="dumb"),
                )
            finally:
                os._exit(127)
        self.out = b""
        self.status = None

    def read_until(self, wanted, start=0):
        """Reads until `wanted` shows up after `start` (or the child ends);
        returns the position after it."""
        deadline = time.time() + TIMEOUT
        while wanted not in self.out[start:]:
            if time.time() > deadline:
                raise AssertionError("no %r in %r" % (wanted, self.out[start:]))
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    data = b""
                if not data:
                    raise AssertionError("child ended; no %r in %r" % (wanted, self.out[start:]))
                self.out += data
        return self.out.index(wanted, start) + len(wanted)

    def wait_for_reader(self):
        """Waits until the child sleeps, i.e. waits for a key.  Keys typed
        before that can get lost: a Ctrl-D while readline has not yet put the
        terminal in raw mode, or a Ctrl-C that CPython's readline takes just
        before it starts waiting (it then waits on for a key).  People never
        type that fast; tests do."""
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            try:
                with open("/proc/%d/stat" % self.pid) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):  # no /proc here: go on
                return
            if state == "S":
                return
            time.sleep(0.01)

    def send(self, data, *wanted):
        """Types data once the child waits for it, then waits for each of
        `wanted` in turn."""
        self.wait_for_reader()
        pos = len(self.out)
        os.write(self.fd, data)
        for w in wanted:
            pos = self.read_until(w, pos)

    def wait(self):
        """Reads the rest of the output and returns the exit status."""
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                self.out += data
                if not data:
                    break
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.pid = None
        return (
            os.waitstatus_to_exitcode(status)
            if hasattr(os, "waitstatus_to_exitcode")
            else status >> 8
        )

    def close(self):
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            os.close(self.fd)


@pytest.fixture
def terminal():
    started = []

    def start(*args):
        t = Terminal(*args)
        started.append(t)
        t.read_until(b"> ")
        return t

    yield start
    for t in started:
        t.close()


def test_terminal_expression_and_exit_with_ctrl_d(terminal):
    t = terminal()
    assert t.out.startswith(b"lupacffi %s" % lupacffi.__version__.encode())
    t.send(b"string.rep('ab', 3)\n", b"ababab", b"> ")
    t.send(b"\x04", b"\n")
    assert t.wait() == 0
    assert b"Traceback" not in t.out


def test_terminal_multi_line_function(terminal, backend):
    t = terminal("--lua", SPEC[backend])
    t.send(b"function twice(s)\n", b">> ")
    t.send(b"  return s .. s\n", b">> ")
    t.send(b"end\n", b"> ")
    t.send(b"twice('xy') .. '!'\n", b"xyxy!", b"> ")
    t.send(b"\x04", b"\n")
    assert t.wait() == 0


def test_terminal_ctrl_c_cancels_the_input(terminal):
    t = terminal()
    t.send(b"x = \n", b">> ")
    t.send(b"\x03", b"> ")  # drops "x = "
    t.send(b"'ok' .. 'ay'\n", b"okay", b"> ")  # so this is an expression again
    t.send(b"\x03", b"> ")  # at an empty prompt
    t.send(b"'still' .. 'alive'\n", b"stillalive", b"> ")
    t.send(b"\x04", b"\n")
    assert t.wait() == 0
    assert b"Traceback" not in t.out and b"KeyboardInterrupt" not in t.out


def test_terminal_errors_do_not_end_the_prompt(terminal):
    t = terminal()
    t.send(b"error('first' .. 'problem')\n", b"stdin:1: firstproblem", b"> ")
    t.send(b"x = = 1\n", b"'='", b"> ")
    t.send(b"python.eval('1 // 0')\n", b"ZeroDivisionError", b"> ")
    t.send(b"'after' .. 'wards'\n", b"afterwards", b"> ")
    t.send(b"\x04", b"\n")
    assert t.wait() == 0


def test_terminal_ctrl_c_stops_a_running_loop(terminal, backend):
    """Ctrl-C while Lua runs stops it (LuaInterrupted) and the prompt goes on,
    with the session's state intact.  (LuaJIT: with the JIT off; a loop that
    is one compiled trace cannot be reached, see docs/sandbox.md and
    test_terminal_second_ctrl_c_gives_up.)"""
    t = terminal("--lua", SPEC[backend])
    t.send(b"n = 0\n", b"> ")
    if backend == "luajit21":
        t.send(b"jit.off()\n", b"> ")
    t.send(b"while true do n = n + 1; tostring(n) end\n")
    time.sleep(0.3)  # let it run
    t.send(b"\x03", b"interrupted", b"> ")
    t.send(b"n > 0 and 'counted' or 'nothing'\n", b"counted", b"> ")
    t.send(b"\x04", b"\n")
    assert t.wait() == 0
    assert b"Traceback" not in t.out and b"KeyboardInterrupt" not in t.out


def test_terminal_second_ctrl_c_gives_up(terminal):
    """What interrupt() cannot reach (here a Python callback that never
    returns to Lua) ends the CLI at the second Ctrl-C, with status 130."""
    t = terminal()
    t.send(b"python.eval('__import__(\"time\").sleep(3600)')\n")
    time.sleep(0.3)
    t.send(b"\x03")
    time.sleep(0.3)
    t.send(b"\x03", b"did not stop")
    assert t.wait() == 130
