#!/usr/bin/env python3
"""Binary Debian packages for another architecture or suite, unpacked into a
sysroot, through a private apt configuration (scripts/cross-wheels.sh uses it
for Debian's arm64 CPython and for trixie's PyPy 3.11 with its own glibc).

    python3 scripts/cross_apt.py sysroot --suite bookworm --arch arm64 --dest DIR PKG...
    python3 scripts/cross_apt.py source --suite bookworm --dest DIR PKG...   # upstream tarballs
    python3 scripts/cross_apt.py check   # what the private configuration would be (no network)

The mirror and its signing key come from this machine's own apt sources,
exactly as vendor/fetch.py finds them (its code is reused, not copied); the
machine's apt configuration, lists and dpkg database are never touched, and
nothing is installed: the .deb files are unpacked with `dpkg-deb -x`.
Dependencies are followed with `apt-cache depends --recurse` (Depends and
Pre-Depends only), minus packages a sysroot does not need (SKIP).
Python 3.9+, standard library only.
"""

import argparse
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cross"  # git-ignored

_spec = importlib.util.spec_from_file_location(
    "lupacffi_vendor_fetch", str(ROOT / "vendor" / "fetch.py")
)
fetch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch)

# Packages that a sysroot to run one interpreter does not need (maintainer
# scripts' tools, debconf, the dpkg database), and that pull in a lot.
SKIP = {
    "debconf",
    "debconf-2.0",
    "dpkg",
    "perl-base",
    "install-info",
    "tzdata",
    "readline-common",
    "sensible-utils",
    "cdebconf",
    "init-system-helpers",
    "libpam-runtime",
    "mime-support",
    "base-files",
    "base-passwd",
    "coreutils",
    "bash",
    "dash",
    "diffutils",
    "grep",
    "gzip",
    "sed",
    "tar",
    "findutils",
    "ucf",
    "usrmerge",
    "usr-is-merged",
    "debianutils",
    "lsb-base",
    "sysvinit-utils",
    "media-types",
    "netbase",
    "ca-certificates",
    "openssl",
    "python3.11-doc",
}


class Apt(fetch.Apt):
    """fetch.py's private apt, for binary packages of one suite and architecture."""

    def __init__(self, suite, arch):
        super().__init__([suite])
        self.arch = arch
        self.dir = CACHE / "apt" / "{}-{}".format(suite, arch)

    def options(self):
        opts = {
            "Dir::Etc::SourceList": self.dir / "sources.list",
            "Dir::Etc::SourceParts": "/nonexistent",
            "Dir::Etc::Preferences": "/nonexistent",
            "Dir::Etc::PreferencesParts": "/nonexistent",
            "Dir::State::Lists": self.dir / "lists",
            "Dir::State::status": self.dir / "status",
            "Dir::Cache": self.dir / "cache",
            "Debug::NoLocking": "1",
            "Acquire::Languages": "none",
            "APT::Architecture": self.arch,
            "APT::Architectures": self.arch,
            "APT::Install-Recommends": "0",
        }
        if os.geteuid() == 0:
            opts["APT::Sandbox::User"] = "root"
        return [arg for k, v in opts.items() for arg in ("-o", "{}={}".format(k, v))]

    def sources_line(self):
        # fetch.py's key file goes into its own APT_DIR; point it at ours
        fetch.APT_DIR = self.dir
        mirror = fetch.main_archive(fetch.system_entries(), fetch.os_codename())
        key = fetch.signed_by_option(mirror["signed_by"])
        opt = "arch={}".format(self.arch) + (" signed-by={}".format(key) if key else "")
        return "deb [{}] {} {} main".format(opt, mirror["uri"], self.suites[0])

    def write_config(self):
        for d in (self.dir / "lists" / "partial", self.dir / "cache" / "archives" / "partial"):
            d.mkdir(parents=True, exist_ok=True)
        (self.dir / "status").touch()
        (self.dir / "sources.list").write_text(self.sources_line() + "\n", encoding="utf-8")

    def cmd(self, tool, args, cwd):
        res = subprocess.run(
            [tool, "-q"] + self.options() + args,
            cwd=str(cwd),
            capture_output=True,
            text=True,
            env=dict(os.environ, LC_ALL="C"),
        )
        if res.returncode != 0:
            raise fetch.FetchError(tool, " ".join(args) + " failed:\n" + res.stderr.strip())
        return res.stdout

    def closure(self, packages):
        """The packages and their Depends/Pre-Depends, recursively, minus SKIP."""
        self.update()
        out = self.cmd(
            "apt-cache",
            [
                "depends",
                "--recurse",
                "--no-recommends",
                "--no-suggests",
                "--no-conflicts",
                "--no-breaks",
                "--no-replaces",
                "--no-enhances",
            ]
            + packages,
            self.dir,
        )
        names = set()
        for line in out.splitlines():
            if not line.startswith(" "):
                name = line.strip().split(":")[0]
                if name and not name.startswith("<"):
                    names.add(name)
        wanted, todo = set(), list(packages)
        deps = self.dep_graph(out)
        while todo:  # walk again, this time stopping at SKIP
            p = todo.pop()
            if p in wanted or (p in SKIP and p not in packages):
                continue
            wanted.add(p)
            todo.extend(deps.get(p, ()))
        return sorted(wanted & names | set(packages))

    @staticmethod
    def dep_graph(out):
        graph, current, alternatives = {}, None, False
        for line in out.splitlines():
            if not line.startswith(" "):
                current = line.strip().split(":")[0]
                graph.setdefault(current, [])
                alternatives = False
                continue
            m = re.match(r"^\s+(\|)?(Pre)?Depends: (\S+)", line)
            if not m or current is None:
                continue
            dep = m.group(3).split(":")[0]
            if dep.startswith("<"):
                continue
            if alternatives:  # only the first of a | b alternatives
                alternatives = bool(m.group(1))
                continue
            alternatives = bool(m.group(1))
            graph[current].append(dep)
        return graph

    def sysroot(self, packages, dest):
        names = self.closure(packages)
        debs = self.dir / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        have = {p.name.split("_")[0] for p in debs.glob("*.deb")}
        missing = [n for n in names if n not in have]
        if missing:
            print(
                "apt-get download ({} {}): {}".format(self.suites[0], self.arch, " ".join(missing))
            )
            self.cmd("apt-get", ["download"] + missing, debs)
        dest.mkdir(parents=True, exist_ok=True)
        for deb in sorted(debs.glob("*.deb")):
            if deb.name.split("_")[0] in names:
                subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
        print("{}: {} packages unpacked".format(dest, len(names)))


def source_tarballs(suite, packages, dest):
    """The upstream tarballs of source packages (apt-get source --tar-only),
    with fetch.py's own private deb-src apt, its directory moved under .cross/."""
    fetch.APT_DIR = CACHE / "apt" / "src-{}".format(suite)
    fetch.DOWNLOADS = dest
    apt = fetch.Apt([suite], suites_overridden=True)
    for package in packages:
        tarball = apt.offered_tarball(package, suite)
        if tarball is None:
            raise fetch.FetchError(package, "no source package in " + suite)
        if (dest / tarball).is_file():
            print("{}: {} already downloaded".format(package, tarball))
        else:
            apt.download(package, suite, tarball)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sysroot")
    s.add_argument("--suite", required=True)
    s.add_argument("--arch", required=True)
    s.add_argument("--dest", required=True)
    s.add_argument("packages", nargs="+")
    src = sub.add_parser("source")
    src.add_argument("--suite", required=True)
    src.add_argument("--dest", required=True)
    src.add_argument("packages", nargs="+")
    c = sub.add_parser("check")
    c.add_argument("--suite", default="bookworm")
    c.add_argument("--arch", default="arm64")
    args = p.parse_args(argv)
    try:
        if args.command == "source":
            Path(args.dest).mkdir(parents=True, exist_ok=True)
            source_tarballs(args.suite, args.packages, Path(args.dest).resolve())
            return 0
        apt = Apt(args.suite, args.arch)
        if args.command == "check":
            print(apt.sources_line())
        else:
            apt.sysroot(args.packages, Path(args.dest).resolve())
    except fetch.FetchError as e:
        print("error: {}".format(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    sys.exit(main())
