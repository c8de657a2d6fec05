#!/usr/bin/env python3
"""Write pacing benchmark: a 1,000-grant apply into one subscription whose ARM write bucket is
throttled, with the provider pacing its writes, side by side with the same apply with pacing
switched off, with two Terraform processes applying 500 grants each into the same subscription
at the same time, and with a baseline without throttling. Terraform 1.0.3 against the local
aksid-emulator.

The emulator's bucket is scaled down in time (default 20 write tokens refilled at 100/s, the
same for deletes), so the bucket's theoretical minimum for N writes is (N - size) / rate
(9.8 s for 1,000). The provider keeps a reserve scaled like the bucket (default 2, a tenth of
it, as 20 is of ARM's 200).

Each scenario gets a fresh workspace and `POST /_admin/reset` (which also refills the buckets).
Grants: Network Contributor for the cluster's control-plane identity on N subnets, as one
aksid_cluster_identity_roles resource (the provider's default max_parallel_writes, 4).
Reported per scenario: apply wall time; the write phase (first role-assignment PUT to the last
answer, on the emulator's clock) and its ratio to the bucket's minimum; the apply's ratio to
the baseline plus that minimum; role-assignment PUTs; 429s (all, and after the initial burst:
after the first `size` write attempts). Counts come from the emulator's request log.

Prints a table; writes everything as JSON to target/bench-pacing.json. Not a pass/fail test,
but it fails loudly when an apply misbehaves.
Usage: python3 bench/pacing.py [--n 1000] [--bucket 20] [--refill 100] [--reserve 2]
       [--scenarios baseline,paced,unpaced,two] [--keep] [--json PATH] [--smoke]
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import assignments as a  # noqa: E402  (same emulator, Terraform and workspace helpers)

SCENARIOS = {
    "baseline": "no throttling (same process, pacing on): the apply's own cost",
    "paced": "throttled bucket, pacing on",
    "unpaced": "throttled bucket, pacing off (AKSID_WRITE_PACING=false): burst and retry on 429",
    "two": "throttled bucket, two Terraform processes with N/2 grants each at once, pacing on",
}


def config(first, count):
    ids = "".join(f'    "{a.subnet_id(i)}",\n' for i in range(first, first + count))
    return (a.terraform_block() + '\nresource "aksid_cluster_identity_roles" "bench" {\n'
            f'  control_plane_principal_id = "{a.CONTROL_PLANE}"\n'
            f'  kubelet_principal_id       = "{a.KUBELET}"\n'
            f"  subnet_ids = [\n{ids}  ]\n}}\n")


def throttling(args, enabled):
    bucket = {"bucket_size": args.bucket, "refill_per_sec": args.refill}
    return {"arm_throttling": {"enabled": enabled, "writes": bucket, "deletes": bucket}}


def workspace(root, name, first, count, env, emu, seed, pacing, reserve):
    ws = root / name
    ws.mkdir()
    (ws / "main.tf").write_text(config(first, count))
    penv = a.provider_env(env, emu, seed)
    penv.update(AKSID_WRITE_QUOTA_RESERVE=str(reserve), AKSID_WRITE_PACING="true" if pacing else "false")
    a.tf(ws, penv, "init", "-no-color", "-input=false")
    return ws, penv


def write_stats(log, bucket):
    """Role-assignment PUTs in the order the emulator saw them: total, 2xx, 429s, 429s after the burst."""
    puts = [e for e in sorted(log, key=lambda e: e["seq"]) if e["method"] == "PUT" and e["route"] == "role_assignment"]
    throttled = [i for i, e in enumerate(puts) if e["status"] == 429]
    # The write phase: from the first PUT's arrival to the last PUT's answer (emulator clock).
    starts = [datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp() for e in puts]
    ends = [t + e["duration_ms"] / 1000 for t, e in zip(starts, puts)]
    return {"puts": len(puts), "ok": sum(1 for e in puts if 200 <= e["status"] < 300),
            "throttled": len(throttled), "throttled_after_burst": sum(1 for i in throttled if i >= bucket),
            "write_phase_seconds": (max(ends) - min(starts)) if puts else 0.0}


def run_scenario(name, args, emu, seed, env, root):
    emu.call("POST", "/reset")
    # After the reset (which restores the seed's settings); a change refills the buckets.
    emu.call("PUT", "/settings", throttling(args, name != "baseline"))
    a.check_assignments(emu, 0, root, f"{name} before apply")
    parts = [(0, args.n)] if name != "two" else [(0, args.n // 2), (args.n // 2, args.n - args.n // 2)]
    spaces = [workspace(root, f"{name}-{i}", first, count, env, emu, seed, name != "unpaced", args.reserve)
              for i, (first, count) in enumerate(parts)]
    emu.clear_log()
    times = [None] * len(spaces)
    errors = []

    def apply(i, ws, penv):
        try:
            _, times[i], _ = a.tf(ws, penv, "apply", "-auto-approve", "-no-color", "-input=false")
        except a.BenchError as e:
            errors.append(e)

    started = time.perf_counter()
    threads = [threading.Thread(target=apply, args=(i, ws, penv)) for i, (ws, penv) in enumerate(spaces)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    log = emu.log()
    if len(log) >= a.LOG_CAPACITY:
        raise a.BenchError(f"{name}: the request log overflowed; use a smaller --n")
    stats = write_stats(log, args.bucket)
    if stats["ok"] != args.n:
        raise a.BenchError(f"{name}: {stats['ok']} successful role assignment PUTs, expected {args.n}: {stats}")
    a.check_assignments(emu, args.n, root, f"{name} after apply")
    res = {"scenario": name, "wall_seconds": wall, "apply_seconds": times, **stats}
    print(f"  {name:8}: {wall:7.2f} s (writes {stats['write_phase_seconds']:.2f} s), {stats['puts']} PUTs, "
          f"{stats['throttled']} x 429 "
          f"({stats['throttled_after_burst']} after the burst)", flush=True)
    return res


def report(results, args, minimum):
    base = next((r["wall_seconds"] for r in results if r["scenario"] == "baseline"), None)
    print(f"\nN={args.n} writes, bucket {args.bucket} tokens at {args.refill}/s: minimum {minimum:.2f} s "
          f"(= (N - size) / rate); reserve {args.reserve}")
    print("apply = wall time of the apply(s); writes = first role-assignment PUT to the last answer "
          "(emulator clock); ratios against the bucket's minimum")
    print(f"{'scenario':9} {'apply s':>8} {'writes s':>9} {'writes/min':>11} {'apply/(base+min)':>17} "
          f"{'PUTs':>6} {'429':>5} {'429 after burst':>16}")
    for r in results:
        base_row = r["scenario"] == "baseline"
        vs_min = "-" if base_row else f"{r['write_phase_seconds'] / minimum:.2f}"
        vs_base = "-" if base_row or base is None else f"{r['wall_seconds'] / (base + minimum):.2f}"
        print(f"{r['scenario']:9} {r['wall_seconds']:8.2f} {r['write_phase_seconds']:9.2f} {vs_min:>11} "
              f"{vs_base:>17} {r['puts']:>6} {r['throttled']:>5} {r['throttled_after_burst']:>16}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="grants (default 1000)")
    ap.add_argument("--bucket", type=int, default=20, help="write bucket size (default 20)")
    ap.add_argument("--refill", type=float, default=100.0, help="write refill per second (default 100)")
    ap.add_argument("--reserve", type=int, default=2, help="the provider's write_quota_reserve (default 2)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="any of " + ",".join(SCENARIOS))
    ap.add_argument("--json", default=str(a.REPO / "target/bench-pacing.json"))
    ap.add_argument("--keep", action="store_true", help="keep the workspaces and emulator log")
    ap.add_argument("--smoke", action="store_true",
                    help="CI: debug build, N=40 (twice the bucket), every scenario once; no timing judged")
    args = ap.parse_args()
    if args.smoke:
        a.use_profile("debug")
        args.n = 2 * args.bucket
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if args.n < 2 or args.bucket < 1 or args.refill <= 0 or args.reserve < 0 or set(scenarios) - set(SCENARIOS):
        ap.error("n >= 2, bucket >= 1, refill > 0, reserve >= 0, scenarios from " + ",".join(SCENARIOS))
    a.check_binaries("debug" if args.smoke else "release")
    minimum = max(args.n - args.bucket, 0) / args.refill
    root = Path(tempfile.mkdtemp(prefix="bench-pacing-"))
    env, provider = a.tf_env(root)
    seed_path = root / "seed.json"
    seed = a.write_seed(seed_path, args.n)
    emu, failed, results = None, False, []
    try:
        emu = a.Emulator(seed_path, root / "emulator")
        for name in scenarios:
            print(f"{name}: {SCENARIOS[name]}", flush=True)
            results.append(run_scenario(name, args, emu, seed, env, root))
        report(results, args, minimum)
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=a.REPO, capture_output=True, text=True).stdout.strip()
        out = {
            "benchmark": "bench/pacing.py",
            "created": datetime.now().astimezone().isoformat(timespec="seconds"),
            "git_commit": commit or None,
            "host": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
            "terraform": "1.0.3", "provider": provider,
            "n": args.n, "bucket_size": args.bucket, "refill_per_sec": args.refill, "reserve": args.reserve,
            "minimum_seconds": minimum, "scenarios": {s: SCENARIOS[s] for s in scenarios},
            "results": results,
        }
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n")
        print(f"results written to {path}")
    except a.BenchError as e:
        failed = True
        print(f"\nBENCHMARK FAILED: {e}\n(workspaces kept in {root})", file=sys.stderr)
    finally:
        if emu:
            emu.stop()
        if not failed and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        elif args.keep:
            print(f"workspaces kept in {root}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
