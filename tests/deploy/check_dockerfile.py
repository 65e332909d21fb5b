#!/usr/bin/env python3
"""Checks the Dockerfile's structure (hadolint is not available, nor Docker).

usage: check_dockerfile.py SOURCE_DIR [BUILD_DIR]

- two stages, both FROM debian:bookworm(-slim), the first named `build`;
- the build stage apt-installs every build package of scripts/install-deps.sh
  (its `packages` list minus the test-only tools), configures with
  -DEVOLVE_BUILD_TESTS=OFF -DEVOLVE_BUILD_EXAMPLES=OFF and runs cmake --install;
- the final stage installs no -dev package and no compiler, and (given
  BUILD_DIR) its packages provide every shared library the built binaries
  link directly (readelf -d NEEDED, dpkg -S), apart from the base image's;
- the final stage has a non-root USER, WORKDIR /var/lib/evolve and
  docker/entrypoint.sh as ENTRYPOINT;
- (given BUILD_DIR) `cmake --install BUILD_DIR` into a temporary prefix gives
  every path the final stage copies from the build stage, and the installed
  `evolve symbols` finds the bundled data.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

src = sys.argv[1]
build_dir = sys.argv[2] if len(sys.argv) > 2 else None
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
    return cond


# Test-only packages of scripts/install-deps.sh: not wanted in the image.
TEST_ONLY = {"postgresql-15", "python3", "python3-yaml", "curl", "chromium", "nodejs", "npm"}
# In debian:bookworm-slim already (libc6, libstdc++6, libgcc-s1).
BASE = {"libc6", "libstdc++6", "libgcc-s1"}

text = open(os.path.join(src, "Dockerfile"), encoding="utf-8").read()
lines, cur = [], ""
for raw in text.splitlines():
    if re.match(r"^\s*#", raw) and not cur:
        continue
    if re.match(r"^\s*#", raw):
        continue  # a comment inside a continued instruction
    if raw.rstrip().endswith("\\"):
        cur += raw.rstrip()[:-1] + " "
        continue
    cur += raw
    if cur.strip():
        lines.append(cur.strip())
    cur = ""
args, stages = {}, []
for ln in lines:
    inst, _, rest = ln.partition(" ")
    inst = inst.upper()
    if inst == "ARG" and not stages:
        k, _, v = rest.partition("=")
        args[k.strip()] = v.strip()
    elif inst == "FROM":
        words = rest.split()
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), ""), words[0])
        stages.append({"image": image, "name": words[2] if len(words) > 2 and words[1].upper() == "AS" else None, "inst": []})
    elif stages:
        stages[-1]["inst"].append((inst, rest))

check(len(stages) == 2, "two stages (%d)" % len(stages))
for s in stages:
    check(re.fullmatch(r"debian:bookworm(-slim)?", s["image"]) is not None, "stage %s is FROM debian:bookworm (%s)" % (s["name"], s["image"]))
if len(stages) != 2:
    sys.exit(1)
build, final = stages
check(build["name"] == "build", "the first stage is named build")


def apt_packages(stage):
    pk = []
    for inst, rest in stage["inst"]:
        if inst != "RUN":
            continue
        for cmd in re.split(r"&&|;", rest):
            words = shlex.split(cmd)
            if "apt-get" in words and "install" in words:
                pk += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return set(pk)


deps_text = open(os.path.join(src, "scripts", "install-deps.sh"), encoding="utf-8").read()
m = re.search(r"^packages=\((.*?)^\)", deps_text, re.S | re.M)
deps = set()
for ln in (m.group(1) if m else "").splitlines():
    deps |= set(ln.split("#", 1)[0].split())
check(len(deps) > 5, "scripts/install-deps.sh's package list read (%d packages)" % len(deps))
needed = deps - TEST_ONLY
bpk = apt_packages(build)
check(needed <= bpk, "build stage installs every build package of install-deps.sh (missing: %s)" % sorted(needed - bpk))
check(not (bpk & {"chromium", "nodejs", "npm", "postgresql-15"}), "build stage installs no test tool")
brun = " ".join(r for i, r in build["inst"] if i == "RUN")
check("-DEVOLVE_BUILD_TESTS=OFF" in brun and "-DEVOLVE_BUILD_EXAMPLES=OFF" in brun, "configured without tests and examples")
check("cmake --install" in brun, "build stage runs cmake --install")
pm = re.search(r"-DCMAKE_INSTALL_PREFIX=(\S+)", brun)
prefix = pm.group(1) if pm else "/usr/local"

fpk = apt_packages(final)
check(not [p for p in fpk if p.endswith("-dev") or p in {"g++", "gcc", "cmake", "make"}],
      "final stage installs no -dev package and no compiler (%s)" % sorted(fpk))
users = [r for i, r in final["inst"] if i == "USER"]
check(users and users[-1].split(":")[0] not in {"root", "0"}, "final stage ends with a non-root USER (%s)" % users)
uid = users[-1].split(":")[0] if users else ""
frun = " ".join(r for i, r in final["inst"] if i == "RUN")
check(re.search(r"useradd\b.*--uid %s\b" % re.escape(uid), frun) is not None or not uid.isdigit(),
      "final stage creates the user with uid %s" % uid)
check(("WORKDIR", "/var/lib/evolve") in final["inst"], "final stage WORKDIR /var/lib/evolve")
ent = [r for i, r in final["inst"] if i == "ENTRYPOINT"]
check(ent and "entrypoint.sh" in ent[-1], "ENTRYPOINT is the entrypoint script")
copies = [r.split() for i, r in final["inst"] if i == "COPY"]
check(any(c[-2].startswith("docker/entrypoint.sh") or "docker/entrypoint.sh" in c for c in copies), "docker/entrypoint.sh is copied")
for c in copies:
    for f in c[:-1]:
        if not f.startswith("--"):
            if not any(x.startswith("--from") for x in c):
                check(os.path.exists(os.path.join(src, f)), "COPY source %s exists in the context" % f)
from_build = [[w for w in c[:-1] if not w.startswith("--")] for c in copies if "--from=build" in c]
check(from_build, "final stage copies from the build stage")

# .dockerignore must not hide what the build needs.
ign = open(os.path.join(src, ".dockerignore")).read().split()
for needed_path in ["CMakeLists.txt", "cmake", "libevolve", "services", "sql", "tests", "examples", "docker"]:
    check(not any(p.strip("/") == needed_path for p in ign), ".dockerignore keeps %s" % needed_path)

if build_dir:
    bins = [os.path.join(build_dir, p) for p in
            ["services/orchestrator/evolve", "services/worker/evolve-worker", "services/engines/evolve-engines"]]
    libs = set()
    for b in bins:
        out = subprocess.run(["readelf", "-d", b], capture_output=True, text=True, check=True).stdout
        libs |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
    ldd = subprocess.run(["ldd"] + bins, capture_output=True, text=True).stdout
    for lib in sorted(libs):
        lm = re.search(r"^\s*%s => (\S+)" % re.escape(lib), ldd, re.M)
        pkg = None
        if lm and shutil.which("dpkg"):
            for path in [lm.group(1), os.path.realpath(lm.group(1)), "*/" + lib]:
                p = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
                if p.returncode == 0:
                    pkg = p.stdout.split(":")[0].split(",")[0].strip()
                    break
        if lib.startswith("ld-linux") or pkg in BASE:
            continue
        check(pkg is not None and pkg in fpk, "runtime package %s provides %s" % (pkg, lib))
    # cmake --install gives the paths the final stage copies.
    tmp = tempfile.mkdtemp()
    try:
        inst = subprocess.run(["cmake", "--install", build_dir, "--prefix", tmp], capture_output=True, text=True)
        check(inst.returncode == 0, "cmake --install %s --prefix %s (%s)" % (build_dir, tmp, inst.stderr.strip()[-300:]))
        for srcs in from_build:
            for s in srcs:
                rel = os.path.relpath(s.rstrip("/"), prefix)
                check(not rel.startswith("..") and os.path.exists(os.path.join(tmp, rel)),
                      "installed tree has %s (COPY --from=build %s)" % (rel, s))
        for b in ["evolve", "evolve-worker", "evolve-engines"]:
            check(os.access(os.path.join(tmp, "bin", b), os.X_OK), "installed bin/%s" % b)
        check(os.path.exists(os.path.join(tmp, "share/evolve/data/ttrc.csv")) or
              any(f.lower() == "ttrc.csv" for f in os.listdir(os.path.join(tmp, "share/evolve/data"))),
              "installed share/evolve/data has the bundled bars")
        env = {k: v for k, v in os.environ.items() if k not in ("EVOLVE_DATA_DIR",)}
        sym = subprocess.run([os.path.join(tmp, "bin", "evolve"), "symbols"], capture_output=True, text=True, env=env, cwd=tmp)
        check(sym.returncode == 0 and "TTRC" in sym.stdout and tmp in (sym.stdout + sym.stderr) or
              (sym.returncode == 0 and "TTRC" in sym.stdout),
              "installed evolve finds the bundled data (%s)" % (sym.stdout.strip() + sym.stderr.strip())[:200])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

print("%d failure(s)" % len(failures))
for f in failures:
    print("  " + f)
sys.exit(1 if failures else 0)
