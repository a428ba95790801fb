#!/usr/bin/env python3
"""The container deployments of ops/ against the real programs.

ops/compose.yaml and every manifest of ops/k8s/ are parsed as YAML
(python3-yaml), then:
  - every container that runs a masterfarm program (compose services,
    Kubernetes containers whose first argument is broker, worker or
    masterfarm) gets only options that the program's --help lists, and
    the program accepts its argument list (run with --help appended:
    options are parsed in order, so a bad value exits 2 first);
  - compose: one broker, workers with a replica count, one volume shared
    by both at the path holding the broker's --input-root and
    --output-root, and the workers' --connect host is the broker service
    at its --bind port;
  - Kubernetes: the broker is a StatefulSet of one replica whose
    volumeClaimTemplates hold --state's folder; the workers are a
    Deployment that shares the broker's media claim at the same path; a
    Service named as the --connect host exposes the --bind port; a
    HorizontalPodAutoscaler scales the worker Deployment on the external
    metric masterfarm_queue_depth; every Secret a pod mounts is made by
    kustomization.yaml's secretGenerator from keys/, and every resource
    file it lists exists; the --curve-key and --broker-key files lie in
    a mounted volume.
"""
import os
import re
import shlex
import subprocess
import sys

try:
    import yaml
except ImportError:
    # python3-yaml is a package of the system interpreter (ops/install-deps.sh)
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") \
            and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("FAIL: python3-yaml is not installed (ops/install-deps.sh installs it)")
    sys.exit(1)

MF_BIN = os.environ["MF_BIN"]
MF_SRC = os.environ["MF_SRC"]
OPS = os.path.join(MF_SRC, "ops")
PROGRAMS = {"broker": "masterfarm-broker", "worker": "masterfarm-worker",
            "masterfarm": "masterfarm"}

fails = 0
checks = 0


def check(ok, what):
    global fails, checks
    checks += 1
    if not ok:
        fails += 1
        print("FAIL: " + what)
    return ok


def load(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    for d in docs:
        check(isinstance(d, dict), "%s: a document is not a mapping" % path)
    return docs


HELP = {}


def help_text(prog):
    if prog not in HELP:
        r = subprocess.run([os.path.join(MF_BIN, prog), "--help"], capture_output=True,
                           text=True, timeout=30)
        check(r.returncode == 0, "%s --help exits 0" % prog)
        HELP[prog] = r.stdout
    return HELP[prog]


def opt_value(args, name):
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return None


def check_program(where, args):
    """args: [role, ARGS...]; options against --help, then parsed."""
    role = args[0]
    prog = PROGRAMS[role]
    text = help_text(prog)
    for a in args[1:]:
        m = re.match(r"^(--[a-z][a-z0-9-]*)", a)
        if m:
            check(re.search(r"(^|[^a-z0-9-])%s([^a-z0-9-]|$)" % re.escape(m.group(1)), text),
                  "%s: %s is not a %s option (see %s --help)" % (where, m.group(1), prog, prog))
    if role == "masterfarm":
        return
    r = subprocess.run([os.path.join(MF_BIN, prog)] + [str(a) for a in args[1:]] + ["--help"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "%s: %s rejects its arguments %s: %s"
          % (where, prog, shlex.join(str(a) for a in args[1:]), r.stderr.strip()[:200]))


def under(path, mount):
    return path == mount or path.startswith(mount.rstrip("/") + "/")


def host_port(url):
    m = re.match(r"^tcp://([^:/]+):(\d+)$", url or "")
    return (m.group(1), m.group(2)) if m else (None, None)


# --- compose -------------------------------------------------------------------
compose = load(os.path.join(OPS, "compose.yaml"))[0]
services = compose.get("services", {})
check("broker" in services and "worker" in services, "compose: broker and worker services")
roles = {}
for name, svc in services.items():
    cmd = svc.get("command")
    entry = svc.get("entrypoint") or []
    if isinstance(cmd, list) and cmd and cmd[0] in ("broker", "worker"):
        check_program("compose.yaml %s" % name, [str(c) for c in cmd])
        roles[cmd[0]] = (name, [str(c) for c in cmd], svc)
    elif isinstance(entry, list) and entry and entry[-1] == "masterfarm":
        check_program("compose.yaml %s" % name, ["masterfarm"] + [str(c) for c in cmd or []])
    # shell scripts: the masterfarm commands in them
    for line in "\n".join(str(c) for c in (cmd if isinstance(cmd, list) else [])).splitlines():
        m = re.search(r"\bmasterfarm (keygen)\b(.*)", line)
        if m:
            check_program("compose.yaml %s script" % name, ["masterfarm", m.group(1)]
                          + m.group(2).split())
if check("broker" in roles and "worker" in roles, "compose: a broker and a worker command"):
    bname, bargs, bsvc = roles["broker"]
    wname, wargs, wsvc = roles["worker"]

    def mounts(svc):
        out = {}
        for v in svc.get("volumes", []):
            parts = str(v).split(":")
            out[parts[1]] = parts[0]
        return out
    bm, wm = mounts(bsvc), mounts(wsvc)
    shared = [t for t in bm if t in wm and bm[t] == wm[t] and bm[t] in compose.get("volumes", {})
              and all(under(opt_value(bargs, o) or "", t) for o in ("--input-root", "--output-root"))]
    check(shared, "compose: no volume shared by broker and worker holds both roots")
    state = opt_value(bargs, "--state") or ""
    check(any(under(state, t) for t in bm), "compose: --state %s is not on a volume" % state)
    h, p = host_port(opt_value(wargs, "--connect"))
    check(h == bname and p == host_port(opt_value(bargs, "--bind").replace("0.0.0.0", "x"))[1],
          "compose: the worker connects to %s:%s, not the broker service %s at its --bind port"
          % (h, p, bname))
    check("replicas" in wsvc.get("deploy", {}), "compose: workers have a replica count")
    for args, svc in ((bargs, bsvc), (wargs, wsvc)):
        for o in ("--curve-key", "--broker-key", "--allow"):
            f = opt_value(args, o)
            if f:
                check(any(under(f, t) for t in mounts(svc)),
                      "compose: %s %s is not in a mounted volume" % (o, f))

# --- Kubernetes -----------------------------------------------------------------
k8s = os.path.join(OPS, "k8s")
kust = load(os.path.join(k8s, "kustomization.yaml"))[0]
docs = []
for r in kust.get("resources", []):
    path = os.path.join(k8s, r)
    if check(os.path.isfile(path), "kustomization.yaml: resource %s missing" % r):
        docs += load(path)
for f in sorted(os.listdir(k8s)):
    if f.endswith(".yaml") and f != "kustomization.yaml":
        check(f in kust.get("resources", []), "kustomization.yaml does not list %s" % f)
generated = {}
for g in kust.get("secretGenerator", []):
    keys = []
    for item in g.get("files", []):
        key, _, src = item.partition("=")
        check(src.startswith("keys/"), "secretGenerator %s: %s is not under keys/" % (g["name"], src))
        keys.append(key)
    generated[g["name"]] = keys
by_kind = {}
for d in docs:
    check("apiVersion" in d and "kind" in d and "name" in d.get("metadata", {}),
          "k8s: a document without apiVersion, kind or metadata.name")
    by_kind.setdefault(d.get("kind"), []).append(d)


def pod_spec(d):
    return d["spec"]["template"]["spec"]


def containers(d):
    spec = pod_spec(d)
    return spec.get("containers", []), spec.get("initContainers", [])


def pod_checks(d, where):
    """Secrets generated; key files in mounts; programs' arguments."""
    spec = pod_spec(d)
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    claim_names = [c["metadata"]["name"] for c in d["spec"].get("volumeClaimTemplates", [])]
    for v in vols.values():
        if "secret" in v:
            name = v["secret"]["secretName"]
            check(name in generated, "%s: Secret %s is not made by secretGenerator" % (where, name))
    main, init = containers(d)
    result = []
    for c in main + init:
        for m in c.get("volumeMounts", []):
            check(m["name"] in vols or m["name"] in claim_names,
                  "%s: container %s mounts unknown volume %s" % (where, c["name"], m["name"]))
    for c in main:
        args = [str(a) for a in c.get("args", [])]
        if not args or args[0] not in PROGRAMS:
            continue
        check_program("%s container %s" % (where, c["name"]), args)
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        for o in ("--curve-key", "--broker-key", "--allow", "--state"):
            f = opt_value(args, o)
            if f:
                check(any(under(f, mp) for mp in mounts),
                      "%s: %s %s is not in a mounted volume" % (where, o, f))
        result.append((args, mounts, vols, claim_names))
    return result


sts = [d for d in by_kind.get("StatefulSet", [])]
deps = [d for d in by_kind.get("Deployment", [])]
check(len(sts) == 1 and len(deps) == 1, "k8s: one StatefulSet (broker) and one Deployment (workers)")
if sts and deps:
    b = pod_checks(sts[0], "StatefulSet %s" % sts[0]["metadata"]["name"])
    w = pod_checks(deps[0], "Deployment %s" % deps[0]["metadata"]["name"])
    check(sts[0]["spec"].get("replicas") == 1, "k8s: the broker StatefulSet has one replica")
    if check(b and b[0][0][0] == "broker" and w and w[0][0][0] == "worker",
             "k8s: the StatefulSet runs the broker and the Deployment the workers"):
        bargs, bmounts, bvols, bclaims = b[0]
        wargs, wmounts, wvols, _ = w[0]
        state = opt_value(bargs, "--state")
        check(any(under(state, mp) and name in bclaims for mp, name in bmounts.items()),
              "k8s: --state %s is not on a volumeClaimTemplates volume" % state)

        def claim(vols, name):
            v = vols.get(name, {})
            return v.get("persistentVolumeClaim", {}).get("claimName")
        shared = [mp for mp, name in bmounts.items()
                  if claim(bvols, name) and wmounts.get(mp)
                  and claim(wvols, wmounts[mp]) == claim(bvols, name)
                  and all(under(opt_value(bargs, o) or "", mp)
                          for o in ("--input-root", "--output-root"))]
        check(shared, "k8s: no claim mounted by broker and workers at the same path holds "
              "both roots")
        pvcs = [p["metadata"]["name"] for p in by_kind.get("PersistentVolumeClaim", [])]
        for mp in shared:
            c = claim(bvols, bmounts[mp])
            check(c in pvcs, "k8s: claim %s is not defined" % c)
        h, p = host_port(opt_value(wargs, "--connect"))
        bport = opt_value(bargs, "--bind").rsplit(":", 1)[-1]
        svc = [s for s in by_kind.get("Service", []) if s["metadata"]["name"] == h]
        check(svc and any(str(pp.get("port")) == p and str(pp.get("targetPort", pp.get("port")))
                          == bport for pp in svc[0]["spec"].get("ports", [])),
              "k8s: no Service %s with port %s to the broker's --bind port %s" % (h, p, bport))
        if svc:
            sel = svc[0]["spec"].get("selector", {})
            labels = sts[0]["spec"]["template"]["metadata"].get("labels", {})
            check(sel and all(labels.get(k) == v for k, v in sel.items()),
                  "k8s: Service %s does not select the broker pods" % h)
hpas = by_kind.get("HorizontalPodAutoscaler", [])
if check(len(hpas) == 1, "k8s: one HorizontalPodAutoscaler"):
    hpa = hpas[0]
    check(hpa["apiVersion"] == "autoscaling/v2", "k8s: the HPA is autoscaling/v2")
    ref = hpa["spec"]["scaleTargetRef"]
    check(deps and ref.get("kind") == "Deployment"
          and ref.get("name") == deps[0]["metadata"]["name"],
          "k8s: the HPA does not scale the worker Deployment")
    names = [m.get(m.get("type", "").lower(), {}).get("metric", {}).get("name")
             for m in hpa["spec"].get("metrics", [])]
    check("masterfarm_queue_depth" in names and
          any(m.get("type") in ("External", "Pods") for m in hpa["spec"]["metrics"]),
          "k8s: the HPA does not use the external/pods metric masterfarm_queue_depth (%s)" % names)
    check(1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"],
          "k8s: HPA minReplicas/maxReplicas")

check(checks >= 30, "enough checks ran (%d)" % checks)
if fails:
    print("%d of %d checks failed" % (fails, checks))
    sys.exit(1)
print("all %d checks passed" % checks)
