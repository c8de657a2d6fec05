#!/usr/bin/env python3
"""Foundation benchmark: this provider versus the Go null provider 2.1.2, both on Terraform 1.0.3.

Measured side by side in one run (alternating, so machine noise hits both equally):
  * median wall time of `terraform plan` for N data sources (aksid_role_definition vs null_data_source),
  * peak RSS of the provider processes Terraform launches during that plan,
  * start-to-handshake time of each provider binary launched as Terraform would (AutoMTLS on),
  * start-to-TLS-ready: the handshake line, then one mTLS connection to the announced address
    completing its TLS handshake, as Terraform's first connection does (so work moved from before
    the line to the first connection still shows).
Prints ratios (aksid / null). Not a pass/fail test.
Usage: python3 bench/foundation.py [--sources 50] [--runs 7] [--startup-runs 31] [--startup-only] [--aksid-bin PATH]
       [--smoke]
"""
import argparse
import base64
import os
import socket
import ssl
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import assignments as a  # noqa: E402  (the private provider mirror and the build profile)

REPO = Path(__file__).resolve().parent.parent
TF = REPO / ".tools/bin/terraform-1.0.3"
NULL_BIN = REPO / ".tools/mirror/registry.terraform.io/hashicorp/null/2.1.2/linux_amd64/terraform-provider-null_v2.1.2_x4"
COOKIE = ("TF_PLUGIN_MAGIC_COOKIE", "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2")


def tf_env(root):
    """A private mirror holding a snapshot of the provider (see assignments.tf_env) and the
    null provider from .tools/mirror."""
    env, _ = a.tf_env(root)
    return env


def workspace(kind, n):
    d = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    if kind == "aksid":
        body = '\n'.join(f'data "aksid_role_definition" "r{i}" {{ name = "AcrPull" }}' for i in range(n))
        req = 'aksid = { source = "aksid/aksid" }'
    else:
        body = '\n'.join(f'data "null_data_source" "r{i}" {{ inputs = {{ name = "AcrPull" }} }}' for i in range(n))
        req = 'null = { source = "hashicorp/null", version = "2.1.2" }'
    (d / "main.tf").write_text(f"terraform {{\n  required_providers {{\n    {req}\n  }}\n}}\n{body}\n")
    return d


class PeakRss:
    """Polls /proc for processes whose executable name matches, keeping the highest VmHWM seen."""

    def __init__(self, needle):
        self.needle, self.peak_kb, self._stop = needle, 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/status") as f:
                        status = f.read()
                except OSError:
                    continue
                name = next((l.split()[1] for l in status.splitlines() if l.startswith("Name:")), "")
                if self.needle.startswith(name) and name:
                    for l in status.splitlines():
                        if l.startswith("VmHWM:"):
                            self.peak_kb = max(self.peak_kb, int(l.split()[1]))
            time.sleep(0.005)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *a):
        self._stop.set()
        self._t.join()


def timed_plan(ws, env):
    t = time.perf_counter()
    subprocess.run([str(TF), "plan", "-no-color", "-refresh=true"], cwd=ws, env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def client_cert_pem(tmp):
    key, crt = tmp / "k.pem", tmp / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521", "-nodes",
                    "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    return crt.read_text()


def launch_env(cert_pem):
    env = dict(os.environ, PLUGIN_PROTOCOL_VERSIONS="5,6", PLUGIN_CLIENT_CERT=cert_pem,
               PLUGIN_MIN_PORT="10000", PLUGIN_MAX_PORT="25000")
    env[COOKIE[0]] = COOKIE[1]
    return env


def tls_context(line, cert_dir):
    """A client context that trusts exactly the certificate in the handshake line and presents ours."""
    field = line.decode().strip().split("|")[5]
    der = base64.b64decode(field + "=" * (-len(field) % 4))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=der)
    ctx.load_cert_chain(str(cert_dir / "c.pem"), str(cert_dir / "k.pem"))
    ctx.set_alpn_protocols(["h2"])
    return ctx


def connect_tls(line, ctx):
    network, addr = line.decode().strip().split("|")[2:4]
    if network == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(addr)
    else:
        host, _, port = addr.rpartition(":")
        sock = socket.create_connection((host, int(port)))
    with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
        assert tls.selected_alpn_protocol() == "h2", tls.selected_alpn_protocol()


def startup_time(binary, cert_pem, cert_dir):
    """Seconds from launch to the handshake line, and to the first mTLS connection being ready."""
    t = time.perf_counter()
    p = subprocess.Popen([str(binary)], env=launch_env(cert_pem), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = p.stdout.readline()
        t_line = time.perf_counter() - t
        assert line.startswith(b"1|5|"), line
        # Building the client context is the client's cost, not the provider's: keep it out.
        ctx = tls_context(line, cert_dir)
        t_ctx = time.perf_counter()
        connect_tls(line, ctx)
        t_ready = t_line + (time.perf_counter() - t_ctx)
    finally:
        p.kill()
        p.wait()
    return t_line, t_ready


def startup(aksid_bin, runs):
    """Side by side, alternating: medians of start-to-handshake and start-to-TLS-ready, and ratios."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-cert-"))
    try:
        pem = client_cert_pem(tmp)
        for b in (aksid_bin, NULL_BIN):  # warm the page cache; not counted
            startup_time(b, pem, tmp)
        samples = {"aksid": [], "null": []}
        for _ in range(runs):
            samples["aksid"].append(startup_time(aksid_bin, pem, tmp))
            samples["null"].append(startup_time(NULL_BIN, pem, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    line = {k: statistics.median(s[0] for s in v) for k, v in samples.items()}
    ready = {k: statistics.median(s[1] for s in v) for k, v in samples.items()}
    print(f"  start-to-handshake (AutoMTLS, median of {runs}): aksid {line['aksid']*1000:.1f} ms, "
          f"null {line['null']*1000:.1f} ms, ratio {line['aksid']/line['null']:.2f}")
    print(f"  start-to-TLS-ready (first mTLS connection, median of {runs}): aksid {ready['aksid']*1000:.1f} ms, "
          f"null {ready['null']*1000:.1f} ms, ratio {ready['aksid']/ready['null']:.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", type=int, default=50)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--startup-runs", type=int, default=31)
    ap.add_argument("--startup-only", action="store_true", help="only the start-up measurements (no terraform plan)")
    ap.add_argument("--aksid-bin", type=Path, default=None,
                    help="provider binary for the start-up measurements (e.g. an older build to compare)")
    ap.add_argument("--smoke", action="store_true",
                    help="CI: debug build, 5 data sources, one plan and 3 launches each; no timing judged")
    args = ap.parse_args()
    if args.smoke:
        a.use_profile("debug")
        args.sources, args.runs, args.startup_runs = 5, 1, 3
    a.check_binaries("debug" if args.smoke else "release")
    aksid_bin = args.aksid_bin or a.PROVIDER_BIN
    if args.startup_only:
        print("provider start-up, launched as Terraform launches it (alternating)")
        startup(aksid_bin, args.startup_runs)
        return
    mirror = Path(tempfile.mkdtemp(prefix="bench-foundation-"))
    env = tf_env(mirror)
    spaces = {k: workspace(k, args.sources) for k in ("aksid", "null")}
    for ws in spaces.values():
        subprocess.run([str(TF), "init", "-no-color"], cwd=ws, env=env, check=True, capture_output=True)
    times = {"aksid": [], "null": []}
    peaks = {}
    for k, needle in (("aksid", "terraform-provider-aksid"), ("null", "terraform-provider-null_v2.1.2_x4")):
        with PeakRss(needle) as rss:
            timed_plan(spaces[k], env)  # warm-up, also the RSS sample
        peaks[k] = rss.peak_kb
    for _ in range(args.runs):
        for k in ("aksid", "null"):
            times[k].append(timed_plan(spaces[k], env))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"terraform 1.0.3, plan of {args.sources} data sources, {args.runs} runs each (alternating)")
    print(f"  median plan wall time: aksid {med['aksid']*1000:.0f} ms, null {med['null']*1000:.0f} ms, ratio aksid/null {med['aksid']/med['null']:.2f}")
    print(f"  provider peak RSS:     aksid {peaks['aksid']/1024:.1f} MiB, null {peaks['null']/1024:.1f} MiB")
    startup(aksid_bin, args.startup_runs)
    for d in (*spaces.values(), mirror):
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
