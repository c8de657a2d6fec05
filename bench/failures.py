#!/usr/bin/env python3
"""Failing-grants benchmark: how long Terraform takes to finish an apply in which every role
assignment write fails for one reason (403 AuthorizationFailed injected by the emulator), for N
grants in one aksid_cluster_identity_roles resource on Terraform 1.0.3.

Failures are grouped by cause into one diagnostic with a capped list, so the time after the
provider's last ARM call (Terraform rendering the diagnostics) should stay a few seconds
whatever N is; with one diagnostic per grant it grew with the square of N.

Reports, per N: the apply's wall time, the time of the last PUT the emulator served (from its
request log, relative to the start of the apply) and the tail: wall time minus that.
Usage: python3 bench/failures.py [--sizes 300,3000] [--smoke]
"""
import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import assignments as base  # noqa: E402  (the shared emulator and Terraform helpers)


def last_put_seconds(emu, started_wall):
    """Seconds from `started_wall` to the last PUT in the emulator's request log."""
    times = []
    for r in emu.log():
        if r.get("method") == "PUT" and "roleAssignments" in r.get("path", ""):
            ts = r.get("time") or r.get("timestamp")
            if ts:
                times.append(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp())
    return (max(times) - started_wall) if times else None


def run(n, root):
    seed_path = root / f"seed-{n}.json"
    base.write_seed(seed_path, n)
    emu = base.Emulator(seed_path, root / f"emu-{n}")
    try:
        env, _ = base.tf_env(root / f"tf-{n}")
        env = base.provider_env(env, emu, json.loads(seed_path.read_text()))
        ws = root / f"ws-{n}"
        ws.mkdir()
        (ws / "main.tf").write_text(base.config_a(n, 16))
        base.tf(ws, env, "init", "-input=false", "-no-color")
        emu.call("POST", "/faults", {"method": "PUT", "path_contains": "roleAssignments", "status": 403,
                                     "body": {"error": {"code": "AuthorizationFailed", "message": "denied"}}})
        emu.clear_log()
        started = time.time()
        _, wall, _ = base.tf(ws, env, "apply", "-auto-approve", "-no-color", ok=(1,))
        last = last_put_seconds(emu, started)
        out = (ws / "last-apply.log").read_text()
        return {"n": n, "wall_s": round(wall, 2), "last_put_s": None if last is None else round(last, 2),
                "tail_s": None if last is None else round(wall - last, 2), "errors": out.count("Error: ")}
    finally:
        emu.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="300,3000")
    ap.add_argument("--smoke", action="store_true", help="CI: debug build, N=30 once; no timing judged")
    args = ap.parse_args()
    if args.smoke:
        base.use_profile("debug")
        args.sizes = "30"
    base.check_binaries("debug" if args.smoke else "release")
    with tempfile.TemporaryDirectory(prefix="aksid-bench-failures-") as tmp:
        rows = [run(int(n), Path(tmp)) for n in args.sizes.split(",")]
    print(f"{'N':>6} {'apply s':>8} {'last PUT s':>11} {'tail s':>7} {'errors':>7}")
    for r in rows:
        print(f"{r['n']:>6} {r['wall_s']:>8} {str(r['last_put_s']):>11} {str(r['tail_s']):>7} {r['errors']:>7}")


if __name__ == "__main__":
    main()
