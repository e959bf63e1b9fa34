"""Whole runs: ``--executor sequential`` against the default (packing) executor, back to back.

    python benchmarks/whole_run.py [--profile standard] [--claims ID,...] [--seed N] [--threads N]
                                   [--out DIR] [--only sequential|packing] [--write-costs]

Runs ``diffapprox validate`` (a fresh interpreter each time, as a user would) with each executor
and prints, per run: wall time; CPU time (user + sys of the whole process tree, worker processes
included); cores busy on average, (user + sys) / wall, and utilisation, that divided by the cores;
the first ETA the run printed, when it printed it, and the ratio of (that time + ETA) to the wall
time.  Then: packing wall / sequential wall, whether results.json is identical (timings excepted;
claims declared not reproducible left out), and each claim's time under both.

The targets (on 2 cores, standard profile): packing <= 0.6 x sequential's wall
time, >= 1.6 cores busy, first ETA within x1.5 of the wall time, results identical.  They are
printed beside the measured numbers; nothing is asserted (the numbers depend on the machine and
its load, printed too).

CPU time is exact: the children run with OpenMP threads that sleep as soon as they are idle
(``OMP_WAIT_POLICY=PASSIVE``, ``KMP_BLOCKTIME=0``, ``GOMP_SPINCOUNT=0``), so busy-waiting numba
threads are not counted as work; and on Linux this process becomes a child subreaper, so the fork
server of the packing executor and the workers it forked are reaped here and their CPU time is
counted (elsewhere it may be missed: the script says so).

``--write-costs`` then updates the package's cost model (``diffapprox/_run/costs.json``) from the
sequential run: per-claim CPU seconds per unit of cost and finish seconds (the run's claims replace
their entries, the others are kept: ``--claims NEW,...`` refreshes just the claims added), the
seconds of rendering the reports, the speed probe of this machine (the same function a run's first
ETA calls, in a fresh interpreter: ``--write-probe`` refreshes only that), by how much more CPU the same
cells took under packing (``packing_cpu_factor``: cells side by side share caches and memory
bandwidth), and each profile's predicted wall time on this machine's cores over every registered
claim (what ``validate --help`` prints).
CPU seconds hardly depend on the load, but run it on a quiet machine all the same, then run the
benchmark again to measure the first ETA against the refreshed model.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: The targets of the standard profile on 2 cores.
TARGET_WALL_RATIO = 0.6
TARGET_CORES_BUSY = 1.6
TARGET_ETA_FACTOR = 1.5

#: Idle OpenMP threads sleep at once (GNU and Intel runtimes), so CPU time is work, not spinning.
QUIET_THREADS = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0", "GOMP_SPINCOUNT": "0"}

#: How the runs call diffapprox (a fresh interpreter each time, as a user's shell would).
CLI = [sys.executable, "-m", "diffapprox.cli"]

#: Keys of results.json that are timings (or name the executor): left out when comparing runs.
TIMING_KEYS = {"elapsed_s", "started_utc", "executor", "command"}


def become_subreaper() -> bool:
    """Make orphaned descendants (e.g. a fork server) children of this process (Linux), so their CPU is counted."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def reap_orphans(timeout: float = 20.0) -> None:
    """Wait for every remaining child (orphans re-parented here) so their CPU time enters RUSAGE_CHILDREN."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_validate(executor: str, args, out: Path) -> dict:
    """One ``diffapprox validate`` run: wall, CPU, the first ETA line and results.json."""
    cmd = CLI + ["validate", "--profile", args.profile, "--seed", str(args.seed)]
    cmd += ["--out", str(out), "--executor", executor]
    if args.claims:
        cmd += ["--claims", args.claims]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    env = {**os.environ, **QUIET_THREADS, "CI": "true"}
    first: dict = {}
    lines: list[str] = []
    load0 = os.getloadavg()
    cpu0 = cpu_children()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def read_err():
        for line in proc.stderr:
            lines.append(line)
            if not first and "ETA " in line:
                first.update(at_s=time.perf_counter() - t0, line=line.strip())

    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    stdout = proc.stdout.read()
    proc.wait()
    wall = time.perf_counter() - t0
    reader.join(timeout=10)
    reap_orphans()
    cpu = cpu_children() - cpu0
    if proc.returncode != 0:
        sys.stderr.write("".join(lines[-20:]) + stdout)
        raise SystemExit(f"diffapprox validate --executor {executor} exited {proc.returncode}")
    eta = None
    if first:
        tail = first["line"].rsplit("ETA ", 1)[1].split()[0]
        eta = parse_duration(tail)
    return {
        "executor": executor,
        "wall_s": wall,
        "cpu_s": cpu,
        "first_eta_s": eta,
        "first_eta_at_s": first.get("at_s"),
        "load_before": load0,
        "load_after": os.getloadavg(),
        "results": json.loads((out / "results.json").read_text(encoding="utf-8")),
        "out": out,
    }


def parse_duration(text: str) -> float:
    """Seconds of a progress-line duration: ``41.2s``, ``3m05s``, ``1h02m``."""
    text = text.strip()
    if text.endswith("s") and "m" not in text:
        return float(text[:-1])
    if "h" in text:
        h, m = text.rstrip("m").split("h")
        return 3600 * int(h) + 60 * int(m)
    m, s = text.rstrip("s").split("m")
    return 60 * int(m) + int(s)


#: Timings some claims record among their parameters.
TIMING_PARAMETERS = {"finish_s", "elapsed_s"}


def strip_timings(doc: dict) -> dict:
    """results.json without timings: run-level and per-claim ones, and those a claim keeps in its parameters."""
    out = {k: v for k, v in doc.items() if k not in TIMING_KEYS}
    out["claims"] = []
    for c in doc["claims"]:
        if not c.get("reproducible", True):
            continue
        c = {k: v for k, v in c.items() if k not in TIMING_KEYS}
        c["parameters"] = {k: v for k, v in c.get("parameters", {}).items() if k not in TIMING_PARAMETERS}
        out["claims"].append(c)
    return out


def differing_claims(a: dict, b: dict) -> list[str]:
    ca = {c["id"]: c for c in strip_timings(a)["claims"]}
    cb = {c["id"]: c for c in strip_timings(b)["claims"]}
    return sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))


def report_run(r: dict, cores: int) -> None:
    busy = r["cpu_s"] / r["wall_s"]
    print(f"\n{r['executor']}:")
    print(f"  wall time          {r['wall_s']:8.1f} s")
    print(f"  CPU (user+sys)     {r['cpu_s']:8.1f} s")
    print(f"  cores busy         {busy:8.2f}   (utilisation {busy / cores:.0%} of {cores} cores)")
    if r["first_eta_s"] is not None:
        predicted = r["first_eta_at_s"] + r["first_eta_s"]
        print(
            f"  first ETA          {r['first_eta_s']:8.1f} s  printed at {r['first_eta_at_s']:.1f} s: "
            f"predicted total {predicted:.1f} s = {predicted / r['wall_s']:.2f} x the wall time"
        )
    print(f"  run time in results.json {r['results']['elapsed_s']:.1f} s")
    lb, la = r["load_before"], r["load_after"]
    print(f"  load average       before {lb[0]:.2f} {lb[1]:.2f} {lb[2]:.2f}, after {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")


def startup_cpu_s() -> float:
    """CPU seconds of starting diffapprox and loading every claim (``diffapprox claims``)."""
    cpu0 = cpu_children()
    subprocess.run(CLI + ["claims"], env={**os.environ, **QUIET_THREADS}, capture_output=True, check=True)
    return cpu_children() - cpu0


def write_costs(seq: dict, args, cores: int, pack: dict | None = None) -> None:
    """Update diffapprox/_run/costs.json from the sequential run (CPU times: see diffapprox._run.costs).

    The claims of this run replace their entries; the model's other claims are kept (so a run of
    only the claims just added refreshes them); the reference facts (probe, report and start-up
    seconds) are this machine's, and every profile's predicted wall time is recomputed over every
    registered claim.
    """
    from diffapprox._run.costs import COSTS_PATH, CostModel, build_costs, load_costs
    from diffapprox._run.execute import CellStore
    from diffapprox._run.runner import resolve_claims
    from diffapprox.report import render_report

    out = seq["out"]
    c0 = time.process_time()
    render_report(out)
    report_s = time.process_time() - c0
    doc = seq["results"]
    claims = resolve_claims([c["id"] for c in doc["claims"]])
    startup = startup_cpu_s()
    reference = {
        "profile": doc["profile"],
        "seed": doc["seed"],
        "cores": cores,
        "executor": "sequential",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "load_before": [round(x, 2) for x in seq["load_before"]],
        "diffapprox": doc["environment"].get("diffapprox"),
        "git_commit": doc["environment"].get("git_commit"),
        "probe": reference_probe(),
        "startup_s": round(startup, 2),
    }
    if pack is not None:  # the same cells side by side take more CPU (shared caches, memory bandwidth)
        reference["packing_cpu_factor"] = round(pack["cpu_s"] / seq["cpu_s"], 3)
    fresh = build_costs(out, claims, outcome=CellStore(out).load, report_s=report_s, reference=reference)
    model = CostModel(claims={**load_costs().claims, **fresh.claims}, report_s=report_s, reference=reference)
    doc_out = model.to_json()
    doc_out["profiles"] = profile_estimates(model, resolve_claims(None), doc["seed"], cores, startup)
    COSTS_PATH.write_text(json.dumps(doc_out, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {COSTS_PATH}: {len(fresh.claims)} claims measured, {len(model.claims)} in the model;")
    print(f"predicted wall on {cores} cores:")
    for p, v in doc_out["profiles"].items():
        print(f"  {p:9s} sequential {v['sequential']:7.1f} s   packing {v['packing']:7.1f} s")


#: The speed probe in a fresh interpreter, as a run takes it (diffapprox imported, then the probe).
PROBE_CODE = (
    "import json, diffapprox; from diffapprox._run.costs import PROBE_KIND, speed_probe; "
    "w, c = speed_probe(); print(json.dumps({'kind': PROBE_KIND, 'cpu_s': c, 'wall_s': w}))"
)


def reference_probe(attempts: int = 3) -> dict:
    """The speed probe's reference: :func:`~diffapprox._run.costs.speed_probe` in a fresh interpreter.

    The same function, warm-up and kernel as a run's first ETA uses; the CPU seconds (this thread's
    alone) are what the cost model's seconds are compared with, so the load while it is taken
    hardly matters.  The least of ``attempts`` fresh readings (the least disturbed).
    """
    got = []
    for _ in range(attempts):
        r = subprocess.run(
            [sys.executable, "-c", PROBE_CODE],
            env={**os.environ, **QUIET_THREADS},
            capture_output=True,
            text=True,
            check=True,
        )
        got.append(json.loads(r.stdout.strip().splitlines()[-1]))
    best = min(got, key=lambda d: d["cpu_s"])
    return {"kind": best["kind"], "cpu_s": round(best["cpu_s"], 6), "wall_s": round(best["wall_s"], 6)}


def write_probe() -> None:
    """Refresh only the speed probe's reference in the shipped cost model (``--write-probe``)."""
    from diffapprox._run.costs import COSTS_PATH

    doc = json.loads(COSTS_PATH.read_text(encoding="utf-8"))
    doc["reference"].pop("probe_s", None)
    doc["reference"]["probe"] = {**reference_probe(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}
    COSTS_PATH.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"wrote the speed probe's reference to {COSTS_PATH}: {doc['reference']['probe']}")


def profile_estimates(model, claims, seed: int, cores: int, startup: float) -> dict:
    """Each profile's predicted wall seconds under both executors on ``cores`` cores (an idle machine).

    Packing: cells and finish steps (waiting cells aside) take ``packing_cpu_factor`` times their CPU.
    """
    from diffapprox._run.execute import LocalExecutor, PackingExecutor

    out = {}
    for profile in ("quick", "standard", "paper"):
        cells = []
        for claim in claims:
            try:
                cells += claim.cells(profile, seed)
            except Exception as exc:  # noqa: BLE001 - a claim that cannot list its cells is left out, and said
                print(f"  (profile {profile}: {claim.id} left out: {type(exc).__name__}: {exc})")
        tasks = [(c.uses, model.core_seconds(c)) for c in cells]
        fins = [("core", model.finish_seconds(c.id)) for c in claims]
        seq_s = LocalExecutor(threads=cores).predict_wall(tasks) + sum(s for _, s in fins)
        f = float(model.reference.get("packing_cpu_factor", 1.0))
        ex = PackingExecutor(threads=cores)
        side = [(u, sec if u == "waiting" else f * sec) for u, sec in tasks]
        pack_s = ex.predict_wall(side) + ex.predict_wall([(u, f * sec) for u, sec in fins])
        tail = model.report_s + startup
        out[profile] = {"sequential": round(seq_s + tail, 1), "packing": round(pack_s + tail, 1)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="standard")
    ap.add_argument("--claims", default=None, help="comma-separated claim ids (default: all)")
    ap.add_argument("--seed", type=int, default=20180330)
    ap.add_argument("--threads", type=int, default=None, help="cores to use (default: all)")
    ap.add_argument("--out", default=None, help="directory for the two runs (default: a temporary one)")
    ap.add_argument("--only", choices=("sequential", "packing"), default=None)
    ap.add_argument("--write-costs", action="store_true", help="rebuild the shipped cost model from the sequential run")
    ap.add_argument(
        "--write-probe",
        action="store_true",
        help="only refresh the speed probe's reference in the shipped cost model (no run)",
    )
    args = ap.parse_args()
    if args.write_probe:
        write_probe()
        return

    from diffapprox._run.execute import machine_cores

    cores = args.threads or machine_cores()
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="diffapprox-whole-run-"))
    root.mkdir(parents=True, exist_ok=True)
    reaper = become_subreaper()
    print(
        f"whole run: profile {args.profile}, seed {args.seed}, {cores} cores, {os.cpu_count()} CPUs; "
        f"OpenMP threads sleep when idle ({', '.join(f'{k}={v}' for k, v in QUIET_THREADS.items())}); "
        + ("descendants reaped here (all CPU counted)" if reaper else "no subreaper: worker CPU may be missed")
    )
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    runs = {}
    for ex in ("sequential", "packing"):
        if args.only not in (None, ex):
            continue
        runs[ex] = run_validate(ex, args, root / f"{ex}-{stamp}")
        report_run(runs[ex], cores)

    if len(runs) == 2:
        s, p = runs["sequential"], runs["packing"]
        ratio = p["wall_s"] / s["wall_s"]
        busy = p["cpu_s"] / p["wall_s"]
        diff = differing_claims(s["results"], p["results"])
        print("\nagainst the targets (2 cores, standard profile):")
        print(f"  packing / sequential wall time   {ratio:.2f}   (target <= {TARGET_WALL_RATIO})")
        print(f"  cores busy under packing         {busy:.2f}   (target >= {TARGET_CORES_BUSY})")
        for r in (s, p):
            if r["first_eta_s"] is not None:
                f = (r["first_eta_at_s"] + r["first_eta_s"]) / r["wall_s"]
                print(f"  first ETA / wall ({r['executor']:10s})  {f:.2f}   (target within x{TARGET_ETA_FACTOR})")
        print(f"  results identical (timings excepted)  {'yes' if not diff else 'NO: ' + ', '.join(diff)}")
        skipped = [c["id"] for c in s["results"]["claims"] if not c.get("reproducible", True)]
        if skipped:
            print(f"  (not compared, declared not reproducible: {', '.join(skipped)})")

    print("\nper-claim seconds: cells wall / cells CPU / finish wall (under packing, claims' cells overlap):")
    timings = {
        ex: json.loads((r["out"] / "timings.json").read_text(encoding="utf-8"))["claims"] for ex, r in runs.items()
    }
    print("  claim                      " + "".join(f"{ex:>26s}" for ex in runs))
    ids = [c["id"] for c in next(iter(runs.values()))["results"]["claims"]]
    for cid in ids:
        vals = []
        for ex in runs:
            t = timings[ex].get(cid)
            if t is None:
                vals.append(f"{'(not run)':>26s}")
                continue
            fin = t["finish_wall_s"] or 0.0
            vals.append(f"{t['cells_wall_s']:10.1f} /{t['cells_cpu_s']:7.1f} /{fin:6.1f}")
        print(f"  {cid:26s} " + "".join(vals))
    summary = {
        ex: {k: r[k] for k in ("wall_s", "cpu_s", "first_eta_s", "first_eta_at_s", "load_before", "load_after")}
        for ex, r in runs.items()
    }
    (root / "benchmark.json").write_text(
        json.dumps({"profile": args.profile, "cores": cores, "runs": summary}, indent=1)
    )
    print(f"\nruns kept under {root} (figures above in benchmark.json)")
    if args.write_costs:
        if "sequential" not in runs:
            raise SystemExit("--write-costs needs the sequential run")
        write_costs(runs["sequential"], args, cores, runs.get("packing"))


if __name__ == "__main__":
    main()
