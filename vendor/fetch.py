#!/usr/bin/env python3
"""Fetch the vendored Lua / LuaJIT sources pinned in vendor/manifest.json.

The upstream tarballs come from the Debian source archive, through a private
apt configuration in vendor/.apt/ whose mirror and signing key are derived
from this machine's own apt sources. The machine's apt configuration and
package lists are never touched.

    python vendor/fetch.py [BACKEND ...] [--suite SUITE] [--force] [--inspect]

Exit status: 0 = all requested backends in place, 1 = a fetch failed
(the message names the package), 2 = bad command line or manifest.
Python 3.9+, standard library only.
"""

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import patch_strlib  # noqa: E402  (next to this script)

VENDOR = Path(__file__).resolve().parent
ROOT = VENDOR.parent
MANIFEST = VENDOR / "manifest.json"
APT_DIR = VENDOR / ".apt"  # private apt config, lists and cache (git-ignored)
DOWNLOADS = VENDOR / ".downloads"  # downloaded tarballs (git-ignored)
STAMP = ".fetched"  # written into each unpacked tree


class FetchError(Exception):
    """A failure concerning one package (or 'apt' for the setup)."""

    def __init__(self, package, message):
        super().__init__("{}: {}".format(package, message))
        self.package = package


# --- manifest ---------------------------------------------------------------


def load_manifest(path):
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    if not manifest["suites"]:
        raise ValueError("no suites listed")
    for key, backend in manifest["backends"].items():
        for field in ("package", "dest", "versions"):
            if field not in backend:
                raise ValueError("backend {!r} lacks {!r}".format(key, field))
    return manifest


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the machine's apt sources (read only) ----------------------------------


def system_source_files():
    """The machine's one-line and deb822 source files, located via apt-config."""
    source_list, parts = Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d")
    try:
        out = subprocess.run(
            [
                "apt-config",
                "shell",
                "SL",
                "Dir::Etc::SourceList/f",
                "SP",
                "Dir::Etc::SourceParts/d",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        values = dict(re.findall(r"^(SL|SP)=(.*)$", out, re.M))
        source_list = Path(shlex.split(values.get("SL", "''"))[0] or source_list)
        parts = Path(shlex.split(values.get("SP", "''"))[0] or parts)
    except (OSError, subprocess.CalledProcessError, IndexError):
        pass  # keep the defaults
    files = [source_list] + sorted(parts.glob("*.list")) + sorted(parts.glob("*.sources"))
    return [f for f in files if f.is_file()]


def deb822_paragraphs(text):
    """Yield each paragraph of a deb822 file as a dict with lower-case keys."""
    para, key = {}, None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if para:
                yield para
            para, key = {}, None
        elif line[0] in " \t" and key:
            para[key] += "\n" + line.strip()  # continuation line
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            para[key] = value.strip()
    if para:
        yield para


def deb822_entries(text):
    for p in deb822_paragraphs(text):
        if p.get("enabled", "yes").lower() == "no" or not p.get("uris"):
            continue
        yield {
            "types": p.get("types", "").split(),
            "uri": p["uris"].split()[0],
            "suites": p.get("suites", "").split(),
            "components": p.get("components", "").split(),
            "signed_by": p.get("signed-by"),
        }


ONE_LINE = re.compile(r"^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$")


def one_line_entries(text):
    for line in text.splitlines():
        m = ONE_LINE.match(line.split("#", 1)[0].strip())
        if not m:
            continue
        options = dict(o.split("=", 1) for o in (m.group(2) or "").split() if "=" in o)
        yield {
            "types": [m.group(1)],
            "uri": m.group(3),
            "suites": [m.group(4)],
            "components": m.group(5).split(),
            "signed_by": options.get("signed-by"),
        }


def system_entries():
    entries = []
    for path in system_source_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        parse = deb822_entries if path.suffix == ".sources" else one_line_entries
        entries.extend(parse(text))
    return entries


def os_codename():
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return None
    m = re.search(r"^VERSION_CODENAME=\"?([^\"\n]*)\"?$", text, re.M)
    return m.group(1) if m else None


def is_security(entry):
    names = entry["suites"] + [entry["uri"].rstrip("/")]
    return any(n.endswith("-security") or n.endswith("/updates") for n in names)


def main_archive(entries, codename):
    """The machine's main archive entry: has 'main', is not the security
    archive, and preferably serves this system's own release."""
    candidates = [
        e
        for e in entries
        if "main" in e["components"] and not is_security(e) and set(e["types"]) & {"deb", "deb-src"}
    ]
    if not candidates:
        raise FetchError("apt", "no main archive entry found in this machine's apt sources")
    for entry in candidates:
        if codename and codename in entry["suites"]:
            return entry
    return candidates[0]


def signed_by_option(signed_by):
    """Signed-By value for a one-line source; an inline key goes into a file."""
    if not signed_by:
        return None
    if "BEGIN PGP" in signed_by:
        key = "\n".join("" if line == "." else line for line in signed_by.splitlines())
        path = APT_DIR / "archive-key.asc"
        path.write_text(key.strip() + "\n", encoding="ascii")
        return str(path)
    return ",".join(re.split(r"[\s,]+", signed_by.strip()))


# --- private apt ------------------------------------------------------------


class Apt:
    """apt-get with its own sources list, lists, cache and status file."""

    def __init__(self, suites, suites_overridden=False):
        self.suites = suites
        self.suites_overridden = suites_overridden  # --suite: always ask apt
        self.updated = False

    def options(self):
        opts = {
            "Dir::Etc::SourceList": APT_DIR / "sources.list",
            "Dir::Etc::SourceParts": "/nonexistent",
            "Dir::Etc::Preferences": "/nonexistent",
            "Dir::Etc::PreferencesParts": "/nonexistent",
            "Dir::State::Lists": APT_DIR / "lists",
            "Dir::State::status": APT_DIR / "status",
            "Dir::Cache": APT_DIR / "cache",
            "Debug::NoLocking": "1",
            "Acquire::Languages": "none",
            "APT::Get::Only-Source": "1",
        }
        if os.geteuid() == 0:
            opts["APT::Sandbox::User"] = "root"  # our dirs are not _apt's
        return [arg for k, v in opts.items() for arg in ("-o", "{}={}".format(k, v))]

    def run(self, args, package, cwd):
        cmd = ["apt-get", "-q"] + self.options() + args
        env = dict(os.environ, LC_ALL="C")
        try:
            return subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True)
        except OSError as e:
            raise FetchError(package, "cannot run apt-get: {}".format(e))

    def write_config(self):
        """Private sources list: deb-src lines on the machine's main mirror."""
        for d in (APT_DIR / "lists" / "partial", APT_DIR / "cache"):
            d.mkdir(parents=True, exist_ok=True)
        (APT_DIR / "status").touch()
        mirror = main_archive(system_entries(), os_codename())
        key = signed_by_option(mirror["signed_by"])
        opt = " [signed-by={}]".format(key) if key else ""
        lines = ["deb-src{} {} {} main".format(opt, mirror["uri"], s) for s in self.suites]
        (APT_DIR / "sources.list").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def update(self):
        """apt-get update of the private lists, once per run."""
        if self.updated:
            return
        self.write_config()
        print("apt-get update (private lists, suites: {})".format(" ".join(self.suites)))
        res = self.run(["update"], "apt", APT_DIR)
        if res.returncode != 0 or re.search(r"^(E:|W: Failed)", res.stderr, re.M):
            raise FetchError("apt", "apt-get update failed:\n" + res.stderr.strip())
        self.updated = True

    def offered_tarball(self, package, suite):
        """Name of the upstream tarball that `suite` offers, or None."""
        self.update()
        res = self.run(
            ["source", "--print-uris", "--tar-only", package + "/" + suite], package, APT_DIR
        )  # APT_DIR holds no tarballs
        if res.returncode != 0:
            if "Unable to find a source package" in res.stderr:
                return None
            raise FetchError(package, "apt-get source --print-uris failed:\n" + res.stderr.strip())
        names = re.findall(r"^'[^']+' (\S+) \d+ ", res.stdout, re.M)
        names += re.findall(r"^Skipping already downloaded file '([^']+)'", res.stdout, re.M)
        tarballs = [n for n in names if re.search(r"\.orig\.tar\.\w+$", n)]
        return tarballs[0] if tarballs else None

    def download(self, package, suite, tarball):
        """Download the upstream tarball of package/suite into DOWNLOADS."""
        print("{}: downloading {} ({})".format(package, tarball, suite))
        DOWNLOADS.mkdir(parents=True, exist_ok=True)
        res = self.run(
            ["source", "--download-only", "--tar-only", package + "/" + suite], package, DOWNLOADS
        )
        path = DOWNLOADS / tarball
        if res.returncode != 0 or not path.is_file():
            raise FetchError(
                package,
                "apt-get source failed to download {}:\n{}".format(tarball, res.stderr.strip()),
            )
        return path


# --- choosing, verifying, unpacking -----------------------------------------


def choose_version(apt, backend):
    """The newest accepted version any suite offers, as (suite, entry)."""
    package, versions = backend["package"], backend["versions"]
    offers = {}  # tarball name -> first suite offering it
    for suite in apt.suites:
        name = apt.offered_tarball(package, suite)
        if name:
            offers.setdefault(name, suite)
    for entry in versions:  # manifest order: newest first
        if entry["tarball"] in offers:
            return offers[entry["tarball"]], entry
    found = ", ".join(
        "{} ({})".format(n, s) for n, s in offers.items()
    ) or "nothing in suites " + ", ".join(apt.suites)
    accepted = ", ".join(e["tarball"] for e in versions)
    raise FetchError(
        package,
        "no accepted tarball available.\n  found:    {}\n  accepted: {}\n"
        "  (to accept a new version add it to vendor/manifest.json, see vendor/README.md)".format(
            found, accepted
        ),
    )


def verify(package, path, entry):
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise FetchError(
            package,
            "sha256 mismatch for {}\n  expected: {}\n  got:      {}".format(
                path.name, entry["sha256"], actual
            ),
        )


def cached_newest(backend):
    """The newest accepted tarball if it is already downloaded and intact."""
    entry = backend["versions"][0]
    path = DOWNLOADS / entry["tarball"]
    if path.is_file() and sha256_of(path) == entry["sha256"]:
        return entry, path
    return None


def check_members(package, tar, topdir):
    """Only plain files and directories, all inside topdir (if any)."""
    for m in tar.getmembers():
        parts = Path(m.name).parts
        if m.name.startswith("/") or ".." in parts or not (m.isfile() or m.isdir()):
            raise FetchError(package, "unsafe tarball member: {}".format(m.name))
        if topdir and parts[0] != topdir:
            raise FetchError(package, "member outside {}/: {}".format(topdir, m.name))


def extract(package, tarball, topdir, into):
    """Unpack tarball into `into`; return the directory holding its tree."""
    try:
        with tarfile.open(str(tarball)) as tar:
            check_members(package, tar, topdir)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(str(into), filter="data")
            else:
                tar.extractall(str(into))
    except (tarfile.TarError, OSError) as e:
        raise FetchError(package, "cannot unpack {}: {}".format(tarball.name, e))
    tree = into / topdir if topdir else into
    if not tree.is_dir():
        raise FetchError(package, "{} has no top-level directory {}/".format(tarball.name, topdir))
    return tree


def generate_luajit_h(src):
    """LuaJIT rolling releases ship luajit_rolling.h; make derives luajit.h from
    it and .relver. Do the same (as src/host/genversion.lua does) so the
    header exists right after fetching."""
    rolling, header = src / "luajit_rolling.h", src / "luajit.h"
    relver = src.parent / ".relver"
    if header.exists() or not rolling.exists() or not relver.exists():
        return
    m = re.search(r"\d+", relver.read_text(encoding="ascii"))
    if not m:
        return
    text = re.sub(r"#error[^\n]*\n", "", rolling.read_text(encoding="latin-1"), count=1)
    header.write_text(text.replace("ROLLING", m.group(0)), encoding="latin-1")


def install(package, tarball, entry, suite, dest):
    """Replace dest by the unpacked tarball (top-level directory stripped)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="." + dest.name + ".tmp-", dir=str(dest.parent)))
    try:
        tree = extract(package, tarball, entry["topdir"], tmp)
        generate_luajit_h(tree / "src")
        stamp = {
            "package": package,
            "version": entry["version"],
            "tarball": entry["tarball"],
            "sha256": entry["sha256"],
            "from": suite,
        }
        (tree / STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
        if dest.exists():
            shutil.rmtree(str(dest))
        if tree == tmp:
            tmp.rename(dest)
        else:
            tree.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(str(tmp))


def installed_entry(backend, dest):
    """The manifest entry matching dest's stamp, or None if (re)fetch is needed."""
    try:
        stamp = json.loads((dest / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for entry in backend["versions"]:
        if (stamp.get("tarball"), stamp.get("sha256")) == (entry["tarball"], entry["sha256"]):
            return entry
    return None


def fetch_backend(name, backend, apt, force):
    package = backend["package"]
    dest = (ROOT / backend["dest"]).resolve()
    if dest == VENDOR or dest in VENDOR.parents:  # a typo in the manifest
        raise FetchError(package, "refusing to replace {}".format(dest))
    entry = None if force else installed_entry(backend, dest)
    if entry:
        print(
            "{}: {} {} is up to date in {}".format(name, package, entry["version"], backend["dest"])
        )
        patch_tree(name, package, dest)
        return
    found = None if apt.suites_overridden else cached_newest(backend)
    if found:
        entry, path = found
        suite = "download cache"
    else:
        suite, entry = choose_version(apt, backend)
        path = apt.download(package, suite, entry["tarball"])
    verify(package, path, entry)
    install(package, path, entry, suite, dest)
    print("{}: {} {} unpacked into {}".format(name, package, entry["version"], backend["dest"]))
    patch_tree(name, package, dest)


def patch_tree(name, package, dest):
    """lupacffi's one source patch (patch_strlib.py: the limits reach the
    pattern matcher), on a fresh tree and on one unpacked earlier."""
    try:
        if patch_strlib.apply(dest):
            print("{}: string library patched ({})".format(name, patch_strlib.target(dest).name))
    except (OSError, patch_strlib.PatchError) as e:
        raise FetchError(package, "patching the string library: {}".format(e))


def top_directory(tarball):
    """The single top-level directory of a tarball, or "" if there is none."""
    with tarfile.open(str(tarball)) as tar:
        parts = [Path(m.name).parts for m in tar.getmembers()]
    tops = {p[0] for p in parts if p}
    if len(tops) == 1 and any(len(p) > 1 for p in parts):
        return tops.pop()
    return ""


def inspect_backend(name, backend, apt):
    """Download what each suite offers and print it as a manifest entry."""
    package = backend["package"]
    accepted = {e["tarball"] for e in backend["versions"]}
    for suite in apt.suites:
        tarball = apt.offered_tarball(package, suite)
        if not tarball:
            print("{}: {}/{} offers nothing".format(name, package, suite))
            continue
        path = apt.download(package, suite, tarball)
        m = re.match(r"^[^_]+_(.+)\.orig\.tar\.\w+$", tarball)
        entry = {
            "version": m.group(1) if m else "?",
            "tarball": tarball,
            "sha256": sha256_of(path),
            "topdir": top_directory(path),
        }
        status = "accepted" if tarball in accepted else "NOT in manifest"
        print(
            "{}: {}/{} ({}):\n{}".format(name, package, suite, status, json.dumps(entry, indent=2))
        )


# --- command line -----------------------------------------------------------


def parse_args(argv, backends):
    p = argparse.ArgumentParser(description="Fetch the pinned Lua/LuaJIT sources into vendor/.")
    p.add_argument(
        "backend", nargs="*", help="backends to fetch (default: all): " + ", ".join(backends)
    )
    p.add_argument(
        "--suite",
        action="append",
        help="Debian suite to fetch from instead of the manifest's list (repeatable)",
    )
    p.add_argument("--force", action="store_true", help="re-fetch even if up to date")
    p.add_argument(
        "--inspect",
        action="store_true",
        help="only download what each suite offers and print it as manifest entries",
    )
    p.add_argument("--manifest", default=str(MANIFEST), help=argparse.SUPPRESS)  # for tests
    args = p.parse_args(argv)
    unknown = [b for b in args.backend if b not in backends]
    if unknown:
        p.error("unknown backend(s) {}; known: {}".format(", ".join(unknown), ", ".join(backends)))
    for s in args.suite or []:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9.-]*$", s):
            p.error("bad suite name {!r}".format(s))
    return args


def main(argv=None):
    pre = argparse.ArgumentParser(add_help=False)  # the manifest lists the backends
    pre.add_argument("--manifest", default=str(MANIFEST))
    manifest_path = pre.parse_known_args(argv)[0].manifest
    try:
        manifest = load_manifest(manifest_path)
    except (OSError, ValueError, KeyError) as e:
        print("error: cannot read manifest {}: {}".format(manifest_path, e), file=sys.stderr)
        return 2
    backends = manifest["backends"]
    args = parse_args(argv, list(backends))
    apt = Apt(args.suite or manifest["suites"], bool(args.suite))
    start, failed = time.monotonic(), []
    todo = args.backend or list(backends)
    for i, name in enumerate(todo):
        try:
            if args.inspect:
                inspect_backend(name, backends[name], apt)
            else:
                fetch_backend(name, backends[name], apt, args.force)
        except FetchError as e:
            print("error: {}".format(e), file=sys.stderr)
            if e.package != "apt":
                failed.append(backends[name]["package"])
                continue
            # the private apt setup is broken: no later backend can be fetched
            failed.extend(backends[n]["package"] for n in todo[i:])
            break
    if failed:
        print("FAILED: {}".format(", ".join(failed)), file=sys.stderr)
        return 1
    print("done in {:.1f}s".format(time.monotonic() - start))
    return 0


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # progress shows up before apt-get runs
    sys.exit(main())
