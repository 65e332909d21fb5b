#!/usr/bin/env python3
"""Checks docker-compose.yml and deploy/k8s/ without Docker or Kubernetes.

usage: check_manifests.py SOURCE_DIR EVOLVE EVOLVE_WORKER EVOLVE_ENGINES

- both parse as YAML (PyYAML: Debian's python3-yaml) and have the fields the
  topology needs (services, ports, depends_on, healthchecks; Deployments,
  Services, Secret, probes, resources, security contexts, kustomization);
- every container's command is run through docker/entrypoint.sh with fake
  binaries on PATH and the container's environment (compose defaults, the
  Secret's placeholder values): the entrypoint must accept it, and every
  --flag of the resulting argv must appear in the real binary's --help
  (evolve SUBCOMMAND --help, evolve-worker --help, evolve-engines --help);
- every environment variable given to a libevolve container is one the docs
  list (docs/cli.md, api.md, engines-service.md, deployment.md) or one the
  entrypoint reads (documented in docs/containers.md);
- every http://HOST:PORT URL names a compose service / k8s Service with that port.
"""
import os
import re
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("check_manifests: PyYAML is missing: apt-get install python3-yaml (scripts/install-deps.sh)")
    sys.exit(1)

failures = []


def check(cond, what):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        failures.append(what)
    return cond


src, bin_evolve, bin_worker, bin_engines = sys.argv[1:5]
entrypoint = os.path.join(src, "docker", "entrypoint.sh")
binaries = {"evolve": bin_evolve, "evolve-worker": bin_worker, "evolve-engines": bin_engines}


def read(path):
    with open(os.path.join(src, path), encoding="utf-8") as f:
        return f.read()


# --- what the binaries and docs accept --------------------------------------
help_cache = {}


def help_flags(argv0, sub):
    key = (argv0, sub)
    if key not in help_cache:
        cmd = [binaries[argv0]] + ([sub] if sub else []) + ["--help"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise SystemExit("check_manifests: %s exited %d" % (" ".join(cmd), p.returncode))
        help_cache[key] = set(re.findall(r"(?m)^\s+(--[a-z][a-z0-9-]*)", p.stdout))
    return help_cache[key]


doc_vars = set()
for d in ["docs/cli.md", "docs/api.md", "docs/engines-service.md", "docs/deployment.md"]:
    doc_vars |= set(re.findall(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b", read(d)))
entry_text = read("docker/entrypoint.sh")
entry_vars = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", entry_text))
containers_md = read("docs/containers.md")
for v in sorted(entry_vars):
    check("`%s`" % v in containers_md, "entrypoint variable %s is documented in docs/containers.md" % v)
allowed_vars = doc_vars | entry_vars
check({"POSTGRES_URL", "EVOLVE_API_TOKEN", "SIMULATION_URL", "WORKER_ID"} <= doc_vars,
      "the docs list the binaries' variables")

# --- the entrypoint with fake binaries --------------------------------------
stub_dir = tempfile.mkdtemp()
for b in binaries:
    with open(os.path.join(stub_dir, b), "w") as f:
        f.write('#!/bin/sh\nprintf "%s\\0" "$(basename "$0")" "$@"\n')
    os.chmod(os.path.join(stub_dir, b), 0o755)


def translate(args, env):
    e = {"PATH": stub_dir + ":/usr/bin:/bin"}
    e.update(env)
    p = subprocess.run([entrypoint] + list(args), capture_output=True, env=e, timeout=30)
    argv = p.stdout.decode().split("\0")[:-1]
    return p.returncode, argv, p.stderr.decode()


def check_container(name, args, env):
    for v in sorted(env):
        check(v in allowed_vars, "%s: variable %s is read by a binary (docs) or the entrypoint" % (name, v))
    rc, argv, err = translate(args, env)
    if not check(rc == 0 and argv, "%s: entrypoint accepts %s (rc=%d %s)" % (name, args, rc, err.strip())):
        return None
    sub = argv[1] if argv[0] == "evolve" and len(argv) > 1 else None
    known = help_flags(argv[0], sub)
    for a in argv:
        if a.startswith("--"):
            flag = a.split("=", 1)[0]
            check(flag in known, "%s: %s is a flag of `%s --help`" % (name, flag, " ".join(filter(None, [argv[0], sub]))))
    print("     %s runs: %s" % (name, " ".join(argv)))
    return argv


def urls(env):
    return [(k, m.group(1), int(m.group(2))) for k, v in env.items()
            for m in [re.match(r"^https?://([^:/]+):(\d+)", str(v))] if m]


# --- docker-compose.yml ------------------------------------------------------
compose_text = read("docker-compose.yml")
compose_vars = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", compose_text))
for v in sorted(compose_vars):
    check("`%s`" % v in containers_md, "compose variable %s is documented in docs/containers.md" % v)


def interpolate(value):
    if not isinstance(value, str):
        return value

    def repl(m):
        if m.group(2) is None:
            failures.append("compose: ${%s} has no default" % m.group(1))
            return ""
        return m.group(2)
    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}", repl, value)


compose = yaml.safe_load(compose_text)
services = compose.get("services", {})
check(set(services) >= {"postgres", "orchestrator", "priority_worker", "engines"},
      "compose: services postgres, orchestrator, priority_worker, engines")
pg = services.get("postgres", {})
check(str(pg.get("image", "")).startswith("postgres:15"), "compose: postgres is postgres:15")
check("pg_isready" in str(pg.get("healthcheck", {}).get("test")), "compose: postgres has a pg_isready healthcheck")
check(set(pg.get("environment", {})) <= {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
      "compose: postgres gets only the postgres image's variables")
pg_env = {k: interpolate(v) for k, v in pg.get("environment", {}).items()}


def container_ports(svc):
    out = set()
    for p in svc.get("ports", []) + svc.get("expose", []):
        out.add(int(str(p).split(":")[-1].split("/")[0]))
    return out


compose_ports = {n: container_ports(s) for n, s in services.items()}
compose_argv = {}
for n, s in services.items():
    if n == "postgres":
        continue
    check("build" in s and "image" in s, "compose: %s builds the image from this Dockerfile" % n)
    env = {k: str(interpolate(v)) for k, v in (s.get("environment") or {}).items()}
    compose_argv[n] = check_container("compose " + n, s.get("command", []), env)
    for k, host, port in urls(env):
        check(host in services and port in compose_ports.get(host, set()),
              "compose %s: %s names service %s port %d" % (n, k, host, port))
    if "POSTGRES_URL" in env:
        m = re.match(r"postgresql://([^:@]+)(?::([^@]*))?@([^:/]+):(\d+)/(\w+)$", env["POSTGRES_URL"])
        check(m and m.group(1) == pg_env.get("POSTGRES_USER") and m.group(2) == pg_env.get("POSTGRES_PASSWORD")
              and m.group(3) == "postgres" and m.group(5) == pg_env.get("POSTGRES_DB"),
              "compose %s: POSTGRES_URL matches the postgres service's user, password and database" % n)
    deps = s.get("depends_on", {})
    check(isinstance(deps, dict) and deps.get("postgres", {}).get("condition") == "service_healthy",
          "compose %s: depends on postgres being healthy" % n)

orc = services.get("orchestrator", {})
orc_env = orc.get("environment", {})
check("8400" in [str(p).split(":")[-1] for p in orc.get("ports", [])], "compose orchestrator: port 8400 published")
check(compose_argv.get("orchestrator", [None])[:2] == ["evolve", "serve"], "compose orchestrator runs evolve serve")
check("EVOLVE_API_TOKEN" in orc_env, "compose orchestrator: EVOLVE_API_TOKEN set")
check({"FEATURE_URL", "TRAINING_URL", "SIMULATION_URL"} <= set(orc_env),
      "compose orchestrator: FEATURE_URL, TRAINING_URL and SIMULATION_URL all set (one alone is an error)")
check("healthcheck" in orc and "/health" in str(orc["healthcheck"].get("test")), "compose orchestrator: healthcheck on /health")
w = services.get("priority_worker", {})
check(compose_argv.get("priority_worker", [None])[0] == "evolve-worker", "compose priority_worker runs evolve-worker")
check("WORKER_ID" not in (w.get("environment") or {}), "compose priority_worker: WORKER_ID not fixed (replicas differ)")
check("container_name" not in w and not w.get("ports"),
      "compose priority_worker: no container_name, no host ports (scalable with --scale)")
check({"POSTGRES_URL", "SIMULATION_URL"} <= set(w.get("environment") or {}), "compose priority_worker: POSTGRES_URL, SIMULATION_URL")
eng = services.get("engines", {})
check(compose_ports.get("engines", set()) >= {8100, 8200, 8300}, "compose engines: ports 8100, 8200, 8300")
eargv = compose_argv.get("engines") or []
check(eargv[:1] == ["evolve-engines"] and "--store" in eargv
      and eargv[eargv.index("--store") + 1].startswith("postgresql://"),
      "compose engines: evolve-engines --store postgresql://...")
check("/health" in str(eng.get("healthcheck", {}).get("test")) or "healthcheck.sh" in str(eng.get("healthcheck", {}).get("test")),
      "compose engines: healthcheck")

# --- deploy/k8s ---------------------------------------------------------------
k8s_dir = os.path.join(src, "deploy", "k8s")
kust = yaml.safe_load(read("deploy/k8s/kustomization.yaml"))
files = sorted(f for f in os.listdir(k8s_dir) if f.endswith(".yaml") and f != "kustomization.yaml")
check(sorted(kust.get("resources", [])) == files, "k8s: kustomization.yaml lists every manifest (%s)" % ", ".join(files))
docs = []
for f in files:
    docs += [d for d in yaml.safe_load_all(read("deploy/k8s/" + f)) if d]
by_kind = {}
for d in docs:
    check({"apiVersion", "kind", "metadata"} <= set(d), "k8s: %s/%s has apiVersion, kind, metadata" % (d.get("kind"), d.get("metadata", {}).get("name")))
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
secrets = by_kind.get("Secret", {})
check(len(secrets) == 1, "k8s: one Secret")
secret_name, secret = next(iter(secrets.items())) if secrets else (None, {})
sdata = secret.get("stringData", {})
check(set(sdata) >= {"POSTGRES_URL", "EVOLVE_API_TOKEN"}, "k8s Secret: POSTGRES_URL and EVOLVE_API_TOKEN")
check(all("PLACEHOLDER" in str(v) for v in sdata.values()), "k8s Secret: every value is marked PLACEHOLDER")
k8s_services = by_kind.get("Service", {})
deployments = by_kind.get("Deployment", {})
check(set(deployments) == {"evolve-orchestrator", "evolve-worker", "evolve-engines"}, "k8s: three Deployments")
check(deployments.get("evolve-orchestrator", {}).get("spec", {}).get("replicas") == 1, "k8s orchestrator: 1 replica")
check(deployments.get("evolve-worker", {}).get("spec", {}).get("replicas") == 10, "k8s worker: replicas: 10 (the seed)")
svc_ports = {n: {p["port"] for p in s["spec"]["ports"]} for n, s in k8s_services.items()}
check(svc_ports.get("evolve-orchestrator") == {8400}, "k8s Service evolve-orchestrator: 8400")
check(svc_ports.get("evolve-engines") == {8100, 8200, 8300}, "k8s Service evolve-engines: 8100, 8200, 8300")
k8s_argv = {}
for dn, d in deployments.items():
    spec = d["spec"]
    tmpl = spec["template"]
    labels = tmpl["metadata"]["labels"]
    check(spec["selector"]["matchLabels"].items() <= labels.items(), "k8s %s: selector matches the pod labels" % dn)
    pod = tmpl["spec"]
    psc = pod.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0, "k8s %s: runAsNonRoot, non-zero runAsUser" % dn)
    mounts_ok = True
    for c in pod["containers"]:
        name = "k8s %s/%s" % (dn, c["name"])
        csc = c.get("securityContext", {})
        check(csc.get("readOnlyRootFilesystem") is True and csc.get("allowPrivilegeEscalation") is False,
              name + ": readOnlyRootFilesystem, no privilege escalation")
        check({"/var/lib/evolve", "/tmp"} <= {m["mountPath"] for m in c.get("volumeMounts", [])},
              name + ": writable /var/lib/evolve and /tmp (emptyDir) under the read-only root")
        res = c.get("resources", {})
        check({"cpu", "memory"} <= set(res.get("requests", {})) and {"cpu", "memory"} <= set(res.get("limits", {})),
              name + ": cpu/memory requests and limits")
        check("command" not in c, name + ": keeps the image's entrypoint (args only)")
        env = {}
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = str(e["value"])
            else:
                ref = e["valueFrom"]["secretKeyRef"]
                check(ref["name"] == secret_name and ref["key"] in sdata,
                      "%s: %s comes from Secret %s key %s" % (name, e["name"], ref["name"], ref["key"]))
                env[e["name"]] = str(sdata.get(ref["key"], ""))
        argv = check_container(name, c.get("args", []), env)
        k8s_argv[dn] = argv
        for k, host, port in urls(env):
            check(port in svc_ports.get(host, set()), "%s: %s names Service %s port %d" % (name, k, host, port))
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        if ports:  # an HTTP service: probes on GET /health of one of its ports
            for probe in ("readinessProbe", "livenessProbe"):
                g = c.get(probe, {}).get("httpGet", {})
                check(g.get("path") == "/health" and (g.get("port") in ports or g.get("port") in ports.values()),
                      "%s: %s is GET /health on a container port" % (name, probe))
        else:
            check("readinessProbe" not in c and "livenessProbe" not in c or "exec" in str(c.get("livenessProbe")),
                  name + ": no HTTP port, so no httpGet probe")
    for sn, s in k8s_services.items():
        if s["spec"]["selector"].items() <= labels.items():
            names = {p.get("name") for c in pod["containers"] for p in c.get("ports", [])}
            nums = {p["containerPort"] for c in pod["containers"] for p in c.get("ports", [])}
            for p in s["spec"]["ports"]:
                check(p.get("targetPort", p["port"]) in names | nums, "k8s Service %s port %s targets a port of %s" % (sn, p["port"], dn))
for sn, s in k8s_services.items():
    check(any(s["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items() for d in deployments.values()),
          "k8s Service %s selects a Deployment" % sn)
check((k8s_argv.get("evolve-orchestrator") or [None])[:2] == ["evolve", "serve"], "k8s orchestrator runs evolve serve")
check((k8s_argv.get("evolve-worker") or [None])[0] == "evolve-worker", "k8s worker runs evolve-worker")
eargv = k8s_argv.get("evolve-engines") or []
check(eargv[:1] == ["evolve-engines"] and "--store" in eargv, "k8s engines runs evolve-engines --store (PostgreSQL)")
wenv = [e["name"] for e in deployments["evolve-worker"]["spec"]["template"]["spec"]["containers"][0].get("env", [])]
check("WORKER_ID" not in wenv, "k8s worker: WORKER_ID not fixed (each pod is worker_<pod>_<pid>)")

print("%d failure(s)" % len(failures))
for f in failures:
    print("  " + f)
sys.exit(1 if failures else 0)
