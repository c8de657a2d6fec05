#!/usr/bin/env python3
"""Role assignment benchmark: one aksid_cluster_identity_roles resource with N grants (variant A)
versus the same grants as N aksid_role_assignment resources (variant B), both on Terraform 1.0.3
against the local aksid-emulator.

For each N (default 10, 100, 1000, 4000; B only up to --b-max-n, 1000) and each variant, in a
fresh workspace:
  * `terraform apply -auto-approve`             (timed; --runs times, destroying in between),
  * `terraform plan -detailed-exitcode`         (timed, --plan-runs times, median; must exit 0),
  * `terraform plan -refresh-only -detailed-exitcode` (same),
  * `terraform destroy -auto-approve`           (not timed; then zero assignments must remain),
and for every command the ARM requests the emulator served (diff of `GET /_admin/counters`, so
it is exact even beyond the 10,000-entry request log; the log is used as a cross-check while it
has not overflowed).

Each N gets its own emulator (seeded with the example landing zone plus a VNet `vnet-bench` in
each subscription the grants need: up to --per-subscription (2,000) subnets in the spoke, the
rest in the hub, so N=4,000 is 2,000 in each); `POST /_admin/reset` runs before each variant so
neither sees the other's assignments. Grants: Network Contributor for the cluster's
control-plane identity on each subnet. Per command also: the peak RSS of the provider processes
Terraform started (VmHWM), and for A's plans the role-assignment lists per principal per
subscription (from the request log; more than one fails the run). After the variants, the
floor: N bare null_resources of the Go null provider, timed the same way.
Terraform's default -parallelism (10) is used for both variants; A writes with the provider's
default `max_parallel_writes` (4) unless --max-parallel-writes is given.

Prints absolute numbers, one table of ratios B/A per N, and a scale table of A (plan and
refresh-only against N=1,000 and against the null floor, RSS, lists); writes everything as JSON to
target/bench-assignments.json. Not a pass/fail test, but it fails loudly (with the Terraform
output) when a command misbehaves. Variant B is skipped, with a note, while the provider has no
aksid_role_assignment resource.
Usage: python3 bench/assignments.py [--sizes 10,100,1000,4000] [--runs 1] [--plan-runs 3]
       [--variants A,B] [--b-max-n 1000] [--per-subscription 2000] [--no-null]
       [--max-parallel-writes K] [--keep] [--json PATH] [--smoke]
"""
import argparse
import hashlib
import json
import os
import platform
import re
import select
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TF = REPO / ".tools/bin/terraform-1.0.3"
NULL_MIRROR = REPO / ".tools/mirror"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
# Rebound by use_profile(); the other bench scripts read them through this module at call time.
# BENCH_PROVIDER_BIN: run another executable as the provider, e.g. a wrapper that starts the
# release build under heaptrack (bench/README.md, "Profiling memory").
PROVIDER_BIN = Path(os.environ.get("BENCH_PROVIDER_BIN") or TARGET / "release/terraform-provider-aksid")
EMULATOR = TARGET / "release/aksid-emulator"
BASE_SEED = REPO / "emulator/examples/seed.json"
SUB = "9c195f54-5580-4cd2-9e24-3114522757f4"
HUB_SUB = "ad089f8f-9110-4b0c-9b4b-410b023815eb"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-spoke-aks"
# Grants fill the spoke subscription first, PER_SUBSCRIPTION at most, then the hub's: at
# N=4,000 that is 2,000 in each, half of Azure's 4,000-per-subscription limit.
SUBSCRIPTIONS = (RG, f"/subscriptions/{HUB_SUB}/resourceGroups/rg-hub-shared")
PER_SUBSCRIPTION = 2000
VNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet-bench"
CONTROL_PLANE = "b8f85bd4-6abc-4007-8e05-bc515255b609"
KUBELET = "dd045a39-4adf-491f-be2d-1611bf4e408e"
ROLE_NAME = "Network Contributor"
ROLE_GUID = "4d97b98b-1d4f-4787-a291-c67834d212e7"
PROVIDER_ADDR = "registry.terraform.io/aksid/aksid"
TF_DEFAULT_PARALLELISM = 10
A_DEFAULT_PARALLEL_WRITES = 4
LOG_CAPACITY = 10_000
VARIANTS = {"A": "aksid_cluster_identity_roles (1 resource, N grants)",
            "B": "aksid_role_assignment (N resources)"}


class BenchError(Exception):
    pass


def use_profile(profile):
    """Point the benchmarks at target/<profile> (`--smoke` uses the debug build CI has)."""
    global PROVIDER_BIN, EMULATOR
    PROVIDER_BIN = Path(os.environ.get("BENCH_PROVIDER_BIN") or TARGET / profile / "terraform-provider-aksid")
    EMULATOR = TARGET / profile / "aksid-emulator"


def check_binaries(profile="release"):
    for p in (TF, EMULATOR, PROVIDER_BIN):
        if not p.exists():
            build = "cargo build --workspace" if profile == "debug" else "make release"
            sys.exit(f"missing {p}: run `make tools` and `{build}` first")


def vnet(k):
    return f"{SUBSCRIPTIONS[k]}/providers/Microsoft.Network/virtualNetworks/vnet-bench"


def subscription_of(i):
    """Index into SUBSCRIPTIONS of grant i."""
    return i // PER_SUBSCRIPTION


def subnet_id(i):
    return f"{vnet(subscription_of(i))}/subnets/snet-{i:04d}"


def bench_vnets():
    return [vnet(k).lower() + "/subnets/" for k in range(len(SUBSCRIPTIONS))]


# ---------------------------------------------------------------- emulator

def write_seed(path, subnets):
    """The example seed plus one VNet per subscription the `subnets` grants need."""
    if subnets > PER_SUBSCRIPTION * len(SUBSCRIPTIONS):
        raise BenchError(f"{subnets} subnets need more than {len(SUBSCRIPTIONS)} subscriptions "
                         f"of {PER_SUBSCRIPTION}")
    seed = json.loads(BASE_SEED.read_text())
    for k in range(subscription_of(subnets - 1) + 1):
        first, last = k * PER_SUBSCRIPTION, min(subnets, (k + 1) * PER_SUBSCRIPTION)
        seed["resources"].append({
            "id": vnet(k),
            "location": "westeurope",
            "properties": {
                "addressSpace": {"addressPrefixes": [f"10.{64 * (k + 1)}.0.0/10"]},
                "subnets": [{"name": f"snet-{i:04d}",
                             "properties": {"addressPrefix": f"10.{64 * (k + 1) + i // 256 % 64}.{i % 256}.0/24"}}
                            for i in range(first, last)],
            },
        })
    path.write_text(json.dumps(seed))
    return seed


class Emulator:
    def __init__(self, seed_path, workdir):
        workdir.mkdir(parents=True, exist_ok=True)
        self.stderr = open(workdir / "emulator.log", "wb")
        env = dict(os.environ, AKSID_EMULATOR_LOG="warn")  # no per-request log line on stderr
        self.proc = subprocess.Popen(
            [str(EMULATOR), "serve", "--addr", "127.0.0.1:0", "--seed", str(seed_path), "--ca-dir", str(workdir)],
            stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.stop()
            raise BenchError(f"aksid-emulator did not start; see {workdir / 'emulator.log'}:\n"
                             + (workdir / "emulator.log").read_text(errors="replace")[-3000:])
        self.ready = json.loads(line)
        self.admin = self.ready["admin"].rstrip("/")
        self.ctx = ssl.create_default_context(cafile=self.ready["ca_certificate"])

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.admin + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=120) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            raise BenchError(f"admin {method} {path}: HTTP {e.code}: {e.read()[:500]!r}") from e

    def counters(self):
        return self.call("GET", "/counters")

    def clear_log(self):
        self.call("DELETE", "/requests")

    def log(self):
        return self.call("GET", "/requests")

    def assignments(self):
        return self.call("GET", "/role-assignments")["value"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


def bench_assignments(emu):
    """Assignments of the control-plane identity on the benchmark VNets' subnets."""
    prefixes = tuple(bench_vnets())
    out = []
    for a in emu.assignments():
        p = a.get("properties", {})
        if p.get("principalId", "").lower() == CONTROL_PLANE and p.get("scope", "").lower().startswith(prefixes):
            out.append(p)
    return out


# ---------------------------------------------------------------- terraform

def tf_env(root):
    """Like scripts/tf-env.sh, but with a private filesystem mirror holding a snapshot of the
    release provider. Terraform links an unpacked mirror into .terraform/providers, so with the
    shared target/mirror a concurrent rebuild (anyone running tf-env.sh) would change the binary
    under a running benchmark and fail its lock-file checksum."""
    m = re.search(r'^version = "(.*)"', (REPO / "Cargo.toml").read_text(), re.M)
    version = m.group(1)
    dest = root / "mirror/registry.terraform.io/aksid/aksid" / version / "linux_amd64"
    dest.mkdir(parents=True)
    binary = dest / f"terraform-provider-aksid_v{version}"
    shutil.copy2(PROVIDER_BIN, binary)
    rc = root / "terraform.rc"
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path    = "{root / "mirror"}"\n'
                  f'    include = ["registry.terraform.io/aksid/aksid"]\n  }}\n'
                  f'  filesystem_mirror {{\n    path    = "{NULL_MIRROR}"\n'
                  f'    include = ["registry.terraform.io/hashicorp/null"]\n  }}\n}}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "ARM_", "AKSID_"))}
    env.update(TF_CLI_CONFIG_FILE=str(rc), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1")
    digest = hashlib.sha256(binary.read_bytes()).hexdigest()
    return env, {"version": version, "sha256": digest}


def provider_env(env, emu, seed):
    e = dict(env)
    sp = next(s for s in seed["service_principals"] if s["display_name"] == "terraform")
    e.update(AKSID_ARM_ENDPOINT=emu.ready["arm_endpoint"], AKSID_AUTHORITY_HOST=emu.ready["authority_host"],
             AKSID_CA_CERTIFICATE=emu.ready["ca_certificate"], ARM_TENANT_ID=emu.ready["tenant_id"],
             ARM_CLIENT_ID=sp["client_id"], ARM_CLIENT_SECRET=sp["secrets"][0])
    return e


class ProviderRss(threading.Thread):
    """Highest VmHWM (peak resident set) of the provider processes one Terraform process
    starts. VmHWM is the kernel's own high-water mark, so polling every 10 ms misses only what
    a provider adds in its last 10 ms before exiting."""

    def __init__(self, tf_pid):
        super().__init__(daemon=True)
        self.tf_pid, self.peak_kb, self.processes = tf_pid, 0, set()
        self.done = threading.Event()

    def descendants(self):
        """Every process below Terraform's (.tools/bin/terraform-1.0.3 is a launcher, so the
        providers are grandchildren)."""
        out, todo = set(), [str(self.tf_pid)]
        while todo:
            pid = todo.pop()
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        new = set(f.read().split()) - out
                    out |= new
                    todo.extend(new)
            except OSError:
                continue
        return out

    def sample(self):
        for pid in self.descendants():
            try:
                with open(f"/proc/{pid}/status") as f:
                    status = f.read()
            except OSError:
                continue
            if "\nName:\tterraform-provi" not in "\n" + status:
                continue
            self.processes.add(pid)
            hwm = next((ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM:")), "0")
            self.peak_kb = max(self.peak_kb, int(hwm))

    def run(self):
        while not self.done.wait(0.01):
            self.sample()


def tf(ws, env, *args, ok=(0,), timeout=3600, rss=None):
    """Run terraform; return (exit code, seconds, stdout). Raises with the output on an
    unexpected code. With `rss` (a dict), records the providers' peak RSS in rss["peak_kb"]."""
    cmd = [str(TF), *args]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ws, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = ProviderRss(proc.pid) if rss is not None else None
    if watcher:
        watcher.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        stdout, _ = proc.communicate()
        raise BenchError(f"`terraform {' '.join(args)}` in {ws} timed out after {timeout}s\n"
                         f"{(stdout or '')[-4000:]}") from e
    finally:
        if watcher:
            watcher.done.set()
            watcher.join()
    dt = time.perf_counter() - t
    if watcher:
        rss.update(peak_kb=watcher.peak_kb, provider_processes=len(watcher.processes))
    p = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    name = args[0] + ("-refresh-only" if "-refresh-only" in args else "")
    (Path(ws) / f"last-{name}.log").write_text(p.stdout + "\n--- stderr ---\n" + p.stderr)
    if p.returncode not in ok:
        out = (p.stdout[-6000:] + "\n--- stderr ---\n" + p.stderr[-6000:]).strip()
        raise BenchError(f"`terraform {' '.join(args)}` in {ws} exited {p.returncode} (expected {ok}):\n{out}")
    return p.returncode, dt, p.stdout


def terraform_block():
    return 'terraform {\n  required_providers {\n    aksid = { source = "aksid/aksid" }\n  }\n}\n\nprovider "aksid" {}\n'


def config_a(n, max_parallel_writes):
    ids = "".join(f'    "{subnet_id(i)}",\n' for i in range(n))
    mpw = "" if max_parallel_writes is None else f"  max_parallel_writes        = {max_parallel_writes}\n"
    return (terraform_block() + '\nresource "aksid_cluster_identity_roles" "bench" {\n'
            f'  control_plane_principal_id = "{CONTROL_PLANE}"\n'
            f'  kubelet_principal_id       = "{KUBELET}"\n'
            f"{mpw}  subnet_ids = [\n{ids}  ]\n}}\n")


def config_b(n):
    blocks = "".join(
        f'\nresource "aksid_role_assignment" "s{i}" {{\n'
        f'  scope        = "{subnet_id(i)}"\n'
        f'  role         = "{ROLE_NAME}"\n'
        f'  principal_id = "{CONTROL_PLANE}"\n}}\n' for i in range(n))
    return terraform_block() + blocks


def provider_resources(root, env):
    """Resource types (with attribute names) the freshly built provider offers, via
    `terraform providers schema -json` in a minimal initialized workspace."""
    ws = root / "schema-probe"
    ws.mkdir()
    (ws / "main.tf").write_text(terraform_block())
    tf(ws, env, "init", "-no-color", "-input=false")
    _, _, out = tf(ws, env, "providers", "schema", "-json")
    schemas = json.loads(out)["provider_schemas"][PROVIDER_ADDR]["resource_schemas"]
    return {k: sorted(v["block"].get("attributes", {})) for k, v in schemas.items()}


# ---------------------------------------------------------------- measurement

def counter_diff(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


def summarize(diff):
    """Counter diff ({"PUT role_assignment 201": n, ...}) -> request counts."""
    s = {"arm": 0, "token": 0, "other": 0, "errors": 0, "by_method": {}, "by_route": {}}
    for key, n in diff.items():
        method, route, status = key.split(" ")
        if route in ("token", "managed_identity_token"):
            s["token"] += n
            continue
        if route in ("kubernetes", "unknown"):
            s["other"] += n
            continue
        s["arm"] += n
        s["by_method"][method] = s["by_method"].get(method, 0) + n
        s["by_route"][f"{method} {route} {status}"] = n
        if not status.startswith("2"):
            s["errors"] += n
    return s


GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def role_assignment_lists(log):
    """Role-assignment list GETs by "subscription principal": lists started (first pages, no
    $skipToken) and pages fetched. None when the log overflowed."""
    out = {}
    for e in log:
        if e["method"] != "GET" or e["route"] != "role_assignment" or "/roleassignments/" in e["path"].lower():
            continue
        q = urllib.parse.parse_qs(e.get("query") or "")
        principal = GUID.search(q.get("$filter", [""])[0])
        sub = e["path"].split("/")[2].lower() if e["path"].lower().startswith("/subscriptions/") else "-"
        key = f"{sub} {principal.group(0).lower() if principal else '-'}"
        c = out.setdefault(key, {"lists": 0, "pages": 0})
        c["pages"] += 1
        c["lists"] += "$skipToken" not in q
    return out


def measured(emu, ws, env, args, expect_exit=0):
    """Run one terraform command; count the requests it made and the providers' peak RSS."""
    emu.clear_log()
    before = emu.counters()
    rss = {}
    code, dt, _ = tf(ws, env, *args, ok=(expect_exit,), rss=rss)
    after = emu.counters()
    req = summarize(counter_diff(before, after))
    req["provider_peak_rss_kb"] = rss["peak_kb"]
    log = emu.log()
    total = req["arm"] + req["token"] + req["other"]
    # Cross-check while the log has not overflowed (beyond that only the counters are exact).
    req["log_checked"] = len(log) < LOG_CAPACITY
    if req["log_checked"] and len(log) != total:
        raise BenchError(f"request log has {len(log)} entries but the counters moved by {total}")
    # Time the emulator spent serving ARM requests (summed; concurrent requests overlap).
    req["server_ms"] = (sum(e["duration_ms"] for e in log if e["route"] not in ("token", "managed_identity_token"))
                        if req["log_checked"] else None)
    req["lists"] = role_assignment_lists(log) if req["log_checked"] else None
    return dt, req


def check_assignments(emu, n, ws, when):
    found = bench_assignments(emu)
    if n == 0:
        if found:
            raise BenchError(f"{when}: {len(found)} assignments of the control plane remain on the bench VNet "
                             f"(workspace {ws}), e.g. {found[0]}")
        return
    want = {subnet_id(i).lower() for i in range(n)}
    got = {a["scope"].lower() for a in found}
    roles_ok = all(a["roleDefinitionId"].lower().endswith(ROLE_GUID) for a in found)
    if len(found) != n or got != want or not roles_ok:
        raise BenchError(f"{when}: expected {n} {ROLE_NAME} assignments on the bench subnets, found {len(found)} "
                         f"({len(got & want)} on the right scopes, roles ok: {roles_ok}); workspace {ws}")


def run_variant(variant, n, emu, seed, env, root, args):
    ws = root / f"{variant}-{n}"
    ws.mkdir()
    (ws / "main.tf").write_text(config_a(n, args.max_parallel_writes) if variant == "A" else config_b(n))
    penv = provider_env(env, emu, seed)
    emu.call("POST", "/reset")
    check_assignments(emu, 0, ws, f"{variant} N={n} before apply")
    tf(ws, penv, "init", "-no-color", "-input=false")
    res = {"variant": variant, "n": n, "workspace": str(ws), "apply": [], "plan": [], "refresh_only": []}
    for r in range(args.runs):
        dt, req = measured(emu, ws, penv, ["apply", "-auto-approve", "-no-color", "-input=false"])
        puts = sum(v for k, v in req["by_route"].items() if k.startswith("PUT role_assignment 20"))
        if puts != n:
            raise BenchError(f"{variant} N={n} apply made {puts} successful role assignment PUTs, expected {n}: "
                             f"{req['by_route']} (output: {ws}/last-apply.log)")
        check_assignments(emu, n, ws, f"{variant} N={n} after apply")
        res["apply"].append({"seconds": dt, "requests": req})
        print(f"    apply #{r + 1}: {dt:7.2f} s, {req['arm']} ARM requests (+{req['token']} token)", flush=True)
        if r + 1 < args.runs:
            tf(ws, penv, "destroy", "-auto-approve", "-no-color", "-input=false")
            check_assignments(emu, 0, ws, f"{variant} N={n} destroy between apply runs")
    for kind, extra in (("plan", []), ("refresh_only", ["-refresh-only"])):
        for r in range(args.plan_runs):
            dt, req = measured(emu, ws, penv, ["plan", *extra, "-detailed-exitcode", "-no-color", "-input=false"])
            res[kind].append({"seconds": dt, "requests": req})
            if req["by_method"].keys() - {"GET"}:
                raise BenchError(f"{variant} N={n} {kind} made writes: {req['by_route']}")
            if variant == "A":
                check_one_list_each(n, kind, req["lists"])
        print(f"    {kind:12}: median {statistics.median(x['seconds'] for x in res[kind]):7.2f} s, "
              f"{res[kind][0]['requests']['arm']} ARM requests", flush=True)
    tf(ws, penv, "destroy", "-auto-approve", "-no-color", "-input=false")
    check_assignments(emu, 0, ws, f"{variant} N={n} after destroy")
    for kind in ("apply", "plan", "refresh_only"):
        runs = res[kind]
        counts = [x["requests"]["arm"] for x in runs]
        res[f"{kind}_summary"] = {
            "median_seconds": statistics.median(x["seconds"] for x in runs),
            "min_seconds": min(x["seconds"] for x in runs),
            "arm_requests": runs[0]["requests"]["arm"],
            "arm_requests_stable": len(set(counts)) == 1,
            "token_requests": runs[0]["requests"]["token"],
            "by_method": runs[0]["requests"]["by_method"],
            "errors": runs[0]["requests"]["errors"],
            "server_ms": runs[0]["requests"]["server_ms"],
            "provider_peak_rss_kb": max(x["requests"]["provider_peak_rss_kb"] for x in runs),
            "lists": runs[0]["requests"]["lists"],
        }
    return res


def check_one_list_each(n, kind, lists):
    """A's reads: exactly one (paged) list per principal per subscription holding its grants."""
    if lists is None:
        return
    subs = {subnet_id(i).split("/")[2].lower() for i in range(n)}
    listed = {k.split(" ")[0] for k in lists}
    again = {k: v for k, v in lists.items() if v["lists"] != 1}
    if again or not subs <= listed:
        raise BenchError(f"A N={n} {kind}: expected one role-assignment list per principal per subscription "
                         f"{sorted(subs)}, got {lists}")


def null_config(n):
    blocks = "".join(f'\nresource "null_resource" "r{i}" {{}}\n' for i in range(n))
    return ('terraform {\n  required_providers {\n    null = { source = "hashicorp/null", version = "2.1.2" }\n'
            '  }\n}\n' + blocks)


def run_null(n, env, root, args):
    """The floor: N bare null_resources of the Go null provider, timed like the variants."""
    ws = root / f"null-{n}"
    ws.mkdir()
    (ws / "main.tf").write_text(null_config(n))
    tf(ws, env, "init", "-no-color", "-input=false")
    res = {"variant": "null", "n": n, "workspace": str(ws)}
    for kind, cmd, runs in (("apply", ["apply", "-auto-approve"], 1), ("plan", ["plan", "-detailed-exitcode"], None),
                            ("refresh_only", ["plan", "-refresh-only", "-detailed-exitcode"], None)):
        samples, peak = [], 0
        for _ in range(runs or args.plan_runs):
            rss = {}
            # Terraform 1.0.3 exits 2 on a refresh-only plan of null_resources that changes nothing.
            _, dt, _ = tf(ws, env, *cmd, "-no-color", "-input=false", ok=(0, 2), rss=rss)
            samples.append(dt)
            peak = max(peak, rss["peak_kb"])
        res[f"{kind}_summary"] = {"median_seconds": statistics.median(samples), "min_seconds": min(samples),
                                  "provider_peak_rss_kb": peak}
        print(f"    null {kind:12}: median {statistics.median(samples):7.2f} s", flush=True)
    return res


# ---------------------------------------------------------------- report

COMMANDS = (("apply", "apply"), ("plan", "plan"), ("refresh_only", "refresh-only"))


def fmt_methods(m):
    return " ".join(f"{k}:{v}" for k, v in sorted(m.items())) or "-"


def ratio(b, a):
    if a is None or b is None:
        return "n/a"
    if a == 0:
        return "inf" if b else "1.00"
    return f"{b / a:.2f}"


def report(results, sizes, skipped_b):
    by = {(r["variant"], r["n"]): r for r in results}
    print("\nAbsolute numbers (wall time: median; requests: ARM requests of one run, by method; "
          "token endpoint POSTs separately)")
    print(f"{'N':>5} {'var':3} {'command':13} {'seconds':>8} {'ARM req':>8} {'token':>5}  by method")
    for n in sizes:
        for v in ("A", "B"):
            r = by.get((v, n))
            if r is None:
                continue
            for key, label in COMMANDS:
                s = r[f"{key}_summary"]
                flag = "" if s["arm_requests_stable"] else "  (count varied between runs)"
                err = f"  [{s['errors']} non-2xx]" if s["errors"] else ""
                print(f"{n:>5} {v:3} {label:13} {s['median_seconds']:8.2f} {s['arm_requests']:>8} "
                      f"{s['token_requests']:>5}  {fmt_methods(s['by_method'])}{err}{flag}")
    print("\nRatios B/A (N aksid_role_assignment / one aksid_cluster_identity_roles): "
          "time = wall time, req = ARM requests")
    head = f"{'N':>5}"
    for _, label in COMMANDS:
        head += f" {label + ' time':>18} {label + ' req':>17}"
    print(head)
    for n in sizes:
        a, b = by.get(("A", n)), by.get(("B", n))
        row = f"{n:>5}"
        for key, _ in COMMANDS:
            sa = a and a[f"{key}_summary"]
            sb = b and b[f"{key}_summary"]
            row += f" {ratio(sb and sb['median_seconds'], sa and sa['median_seconds']):>18}"
            row += f" {ratio(sb and sb['arm_requests'], sa and sa['arm_requests']):>17}"
        print(row)
    if skipped_b:
        print(f"\nvariant B skipped: {skipped_b}")
    scale_report(by, sizes)


def scale(by, sizes):
    """Per N: A's plan and refresh-only against the reference size and against N null_resources
    (all from this run), A's peak provider RSS, and its lists per principal per subscription."""
    measured_a = [n for v, n in by if v == "A"]
    if not measured_a:
        return []
    ref = 1000 if 1000 in measured_a else min(measured_a)
    rows = []
    for n in sizes:
        a, null = by.get(("A", n)), by.get(("null", n))
        if a is None:
            continue
        row = {"n": n, "reference_n": ref,
               "peak_rss_mib": max(a[f"{k}_summary"]["provider_peak_rss_kb"] for k, _ in COMMANDS) / 1024}
        for key in ("plan", "refresh_only"):
            t = a[f"{key}_summary"]["median_seconds"]
            row[key] = {"seconds": t, "vs_reference": t / by[("A", ref)][f"{key}_summary"]["median_seconds"],
                        "null_seconds": null and null[f"{key}_summary"]["median_seconds"],
                        "vs_null": null and t / null[f"{key}_summary"]["median_seconds"]}
        lists = a["refresh_only_summary"]["lists"] or {}
        row["lists_per_principal_subscription"] = max((v["lists"] for v in lists.values()), default=None)
        row["principal_subscriptions"] = len(lists)
        row["pages"] = sum(v["pages"] for v in lists.values())
        row["null_peak_rss_mib"] = null and null["plan_summary"]["provider_peak_rss_kb"] / 1024
        rows.append(row)
    return rows


def scale_report(by, sizes):
    rows = scale(by, sizes)
    if not rows:
        return
    ref = rows[0]["reference_n"]
    print(f"\nScale, variant A (times: medians of this run; xN{ref} = ratio to N={ref}; /null = ratio to N bare "
          f"null_resources of the Go null provider; lists = role-assignment lists per principal per subscription)")
    print(f"{'N':>5} {'plan s':>7} {f'x{ref}':>6} {'/null':>6} {'refresh s':>10} {f'x{ref}':>6} {'/null':>6} "
          f"{'null plan':>9} {'null refr':>9} {'RSS MiB':>8} {'null RSS':>8} {'lists':>5} {'p x s':>5} {'pages':>5}")
    for r in rows:
        p, f = r["plan"], r["refresh_only"]

        def x(v, w=6):
            return f"{v:>{w}.2f}" if v is not None else f"{'-':>{w}}"
        print(f"{r['n']:>5} {p['seconds']:7.2f} {x(p['vs_reference'])} {x(p['vs_null'])} {f['seconds']:10.2f} "
              f"{x(f['vs_reference'])} {x(f['vs_null'])} {x(p['null_seconds'], 9)} {x(f['null_seconds'], 9)} "
              f"{r['peak_rss_mib']:8.1f} {x(r['null_peak_rss_mib'], 8)} {r['lists_per_principal_subscription'] or '-':>5} "
              f"{r['principal_subscriptions']:>5} {r['pages']:>5}")


def check_limit(n, seed, limit):
    """Each subscription's grants plus the seed's assignments there must fit Azure's limit."""
    for k, rg in enumerate(SUBSCRIPTIONS):
        sub = rg.split("/")[2]
        ours = sum(1 for i in range(n) if subscription_of(i) == k)
        seeded = sum(1 for r in seed["role_assignments"] if r["scope"].split("/")[2] == sub)
        if ours + seeded > limit:
            raise BenchError(f"N={n}: {ours} grants in subscription {sub} (+{seeded} seeded) exceed the "
                             f"emulator's role_assignment_limit {limit}")


def main():
    global PER_SUBSCRIPTION
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10,100,1000,4000", help="comma-separated N (default 10,100,1000,4000)")
    ap.add_argument("--runs", type=int, default=1, help="timed applies per variant and N (default 1)")
    ap.add_argument("--plan-runs", type=int, default=3, help="timed plans of each kind; the median is reported")
    ap.add_argument("--variants", default="A,B", help="A, B or A,B (B is skipped if the provider lacks it)")
    ap.add_argument("--max-parallel-writes", type=int, default=None,
                    help=f"set max_parallel_writes on A (default: unset, provider default {A_DEFAULT_PARALLEL_WRITES})")
    ap.add_argument("--b-max-n", type=int, default=1000,
                    help="run B only up to this N (default 1000: B's apply grows with N squared)")
    ap.add_argument("--per-subscription", type=int, default=PER_SUBSCRIPTION,
                    help=f"grants per subscription before the next one is used (default {PER_SUBSCRIPTION})")
    ap.add_argument("--no-null", action="store_true", help="skip the floor of N null_resources")
    ap.add_argument("--smoke", action="store_true",
                    help="CI: debug build, N=10 over 2 subscriptions, one run of everything; no timing judged")
    ap.add_argument("--json", default=str(REPO / "target/bench-assignments.json"))
    ap.add_argument("--keep", action="store_true", help="keep the workspaces and emulator logs")
    args = ap.parse_args()
    if args.smoke:
        use_profile("debug")
        args.sizes, args.runs, args.plan_runs, args.per_subscription = "10", 1, 1, 5
    PER_SUBSCRIPTION = args.per_subscription
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    variants = [v.strip().upper() for v in args.variants.split(",") if v.strip()]
    if not sizes or min(sizes) < 1 or args.runs < 1 or args.plan_runs < 1 or set(variants) - {"A", "B"} \
            or PER_SUBSCRIPTION < 1 or max(sizes) > PER_SUBSCRIPTION * len(SUBSCRIPTIONS):
        ap.error("sizes must be positive integers, at most 2 x --per-subscription; runs >= 1; variants A and/or B")
    check_binaries("debug" if args.smoke else "release")

    root = Path(tempfile.mkdtemp(prefix="bench-assignments-"))
    env, provider = tf_env(root)
    seed_path = root / "seed.json"
    seed = write_seed(seed_path, max(sizes))
    started = time.perf_counter()
    results, emulators, skipped_b, failed = [], [], None, False
    try:
        resources = provider_resources(root, env)
        if "B" in variants:
            attrs = resources.get("aksid_role_assignment")
            if attrs is None:
                skipped_b = "the provider has no aksid_role_assignment resource (terraform providers schema -json)"
                variants.remove("B")
            elif not {"scope", "role", "principal_id"} <= set(attrs):
                raise BenchError(f"aksid_role_assignment lacks scope/role/principal_id: {attrs}")
        if skipped_b:
            print(f"NOTE: variant B skipped: {skipped_b}", flush=True)
        settings = None
        for n in sizes:
            emu = Emulator(seed_path, root / f"emulator-{n}")
            emulators.append(emu)
            settings = emu.call("GET", "/settings")
            check_limit(n, seed, settings.get("role_assignment_limit", 4000))
            for v in variants:
                if v == "B" and n > args.b_max_n:
                    print(f"N={n} variant B skipped (--b-max-n {args.b_max_n})", flush=True)
                    continue
                print(f"N={n} variant {v}: {VARIANTS[v]}", flush=True)
                results.append(run_variant(v, n, emu, seed, env, root, args))
            emu.stop()
            if not args.no_null:
                print(f"N={n} floor: {n} null_resource (Go null provider 2.1.2)", flush=True)
                results.append(run_null(n, env, root, args))
        total = time.perf_counter() - started
        report(results, sizes, skipped_b)
        print(f"\ntotal {total:.0f} s; Terraform 1.0.3 with default -parallelism={TF_DEFAULT_PARALLELISM}; "
              f"A max_parallel_writes="
              f"{args.max_parallel_writes if args.max_parallel_writes is not None else f'{A_DEFAULT_PARALLEL_WRITES} (default)'}")
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        out = {
            "benchmark": "bench/assignments.py",
            "created": datetime.now().astimezone().isoformat(timespec="seconds"),
            "git_commit": commit or None,
            "host": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
            "terraform": "1.0.3",
            "provider": provider,
            "terraform_parallelism": TF_DEFAULT_PARALLELISM,
            "a_max_parallel_writes": args.max_parallel_writes or A_DEFAULT_PARALLEL_WRITES,
            "a_max_parallel_writes_set": args.max_parallel_writes is not None,
            "sizes": sizes, "apply_runs": args.runs, "plan_runs": args.plan_runs,
            "variants": {v: VARIANTS[v] for v in ("A", "B")},
            "grant": {"role": ROLE_NAME, "role_guid": ROLE_GUID, "principal_id": CONTROL_PLANE,
                      "scopes": [f"{vnet(k)}/subnets/snet-NNNN" for k in range(len(SUBSCRIPTIONS))],
                      "per_subscription": PER_SUBSCRIPTION},
            "scale": scale({(r["variant"], r["n"]): r for r in results}, sizes),
            "load_average": os.getloadavg(),
            "emulator_settings": settings,
            "request_counting": "diff of GET /_admin/counters around each command; 'arm' excludes the token endpoint",
            "skipped_b": skipped_b,
            "total_seconds": total,
            "ratios_b_over_a": {
                str(n): {key: {"time": (b[f"{key}_summary"]["median_seconds"] / a[f"{key}_summary"]["median_seconds"]),
                               "arm_requests": (b[f"{key}_summary"]["arm_requests"]
                                                / max(a[f"{key}_summary"]["arm_requests"], 1))}
                         for key, _ in COMMANDS}
                for n in sizes
                for a, b in [(next((r for r in results if r["variant"] == "A" and r["n"] == n), None),
                              next((r for r in results if r["variant"] == "B" and r["n"] == n), None))]
                if a and b
            },
            "results": results,
        }
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"results written to {path}")
    except BenchError as e:
        failed = True
        print(f"\nBENCHMARK FAILED: {e}\n(workspaces kept in {root})", file=sys.stderr)
    finally:
        for emu in emulators:
            emu.stop()
        if not failed and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        elif args.keep:
            print(f"workspaces kept in {root}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
