"""The one change lupacffi makes to the Lua sources: the pattern matcher of the
string library (lstrlib.c; LuaJIT: lib_string.c) counts its steps and, every
4096 steps, calls a function the shim sets (lc_match_check), which raises the
stop of an execution limit or interrupt().  Without it a pattern such as
string.rep('.-', 12) .. 'b' keeps one C call busy for practically ever, out of
the reach of hooks.  Lua raises its own errors from the same place
(malformed patterns), so the matcher is ready for an error there.

apply(tree) is idempotent: a patched file is recognised by its marker and its
sha256 (kept in `.patched` next to `.fetched`); a file that has the marker but
another checksum was changed by hand, and is an error.  Every anchor must be
found the expected number of times, or nothing is written."""

import hashlib
import json
import re
from pathlib import Path

MARKER = "lc_match_check"
STAMP = ".patched"
PATCH_VERSION = 1

_DECL = """
/* lupacffi (vendor/patch_strlib.py): every 4096 matcher steps the host checks
   its execution limits and interrupts; lc_match_check may raise an error. */
void (*lc_match_check)(lua_State *L) = 0;
#define LC_MATCH_STEP(ms) \\
  if ((++(ms)->lc_steps & 4095u) == 0 && lc_match_check != 0) lc_match_check((ms)->L)
"""


class PatchError(Exception):
    pass


def _sub(text, pattern, repl, expected, what):
    new, n = re.subn(pattern, repl, text, flags=re.M)
    if (n != expected) if expected else n == 0:
        raise PatchError("%s: anchor found %d times" % (what, n))
    return new


def patch_text(text):
    text = _sub(text, r'^(#include "lualib\.h"\n)', lambda m: m.group(1) + _DECL, 1, "include")
    text = _sub(
        text,
        r"^(typedef struct MatchState \{\n)",
        lambda m: m.group(1) + "  unsigned lc_steps;  /* lupacffi: matcher steps */\n",
        1,
        "MatchState",
    )
    text = _sub(
        text,
        r"^(static const char \*match ?\(MatchState \*ms, const char \*s, "
        r"const char \*p\)\s*\{\n)",
        lambda m: m.group(1) + "  LC_MATCH_STEP(ms);\n",
        1,
        "match()",
    )
    text = _sub(
        text,
        r"\b((?:\w+(?:->|\.))*ms)(\.|->)L = L;",
        lambda m: "%s%sL = L; %s%slc_steps = 0;" % (m.group(1), m.group(2), m.group(1), m.group(2)),
        0,
        "MatchState set-up",
    )
    return text


def target(tree):
    tree = Path(tree)
    jit = tree / "src" / "lib_string.c"
    return jit if jit.exists() else tree / "src" / "lstrlib.c"


def _sha(text):
    return hashlib.sha256(text.encode("latin-1")).hexdigest()


def apply(tree):
    """Patches the tree's string library if needed; returns True if it wrote."""
    tree = Path(tree)
    path = target(tree)
    text = path.read_text(encoding="latin-1")
    stamp = tree / STAMP
    if MARKER in text:
        try:
            recorded = json.loads(stamp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = {}
        if recorded.get("sha256") != _sha(text) or recorded.get("version") != PATCH_VERSION:
            raise PatchError(
                "%s is patched but does not match %s (changed by hand? "
                "re-fetch with --force)" % (path, stamp)
            )
        return False
    new = patch_text(text)
    path.write_text(new, encoding="latin-1")
    stamp.write_text(
        json.dumps(
            {
                "file": path.name,
                "version": PATCH_VERSION,
                "original_sha256": _sha(text),
                "sha256": _sha(new),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    archive = tree / "src" / "libluajit.a"  # LuaJIT's make rebuilds only without it
    if archive.exists():
        archive.unlink()
    return True


if __name__ == "__main__":
    import sys

    for t in sys.argv[1:]:
        print(t, "patched" if apply(t) else "already patched")
