"""SIGTERM and SIGINT stop ``diffapprox validate`` cleanly; no process outlives it; ``--resume`` finishes it.

The run is a real command (a fresh interpreter, the packing executor with its fork server and
worker processes) over three toy claims of the quick profile (``tests/fixtures/interrupt``): cells
of every kind, each busy for a fraction of a second, so the signal finds cells in flight.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

LAUNCH = Path(__file__).parent / "fixtures" / "interrupt" / "launch.py"
CLAIMS = "test-interrupt-cores,test-interrupt-core,test-interrupt-waiting"
SEED = 7
#: Cells finished before the signal is sent (of 11).
SIGNAL_AFTER = 3
#: Seconds a process may take to end after the run exited (the resource tracker reads its pipe's end).
GONE_S = 15.0


def _cmd(out: Path, *extra: str) -> list[str]:
    head = [sys.executable, str(LAUNCH), "validate", "--profile", "quick", "--claims", CLAIMS]
    return head + ["--seed", str(SEED), "--out", str(out), "--threads", "2", *extra]


def _env() -> dict:
    return {**os.environ, "CI": "true", "OMP_WAIT_POLICY": "PASSIVE"}


def _ctrl_c_default() -> None:
    """In the child, before it execs: SIGINT's default action, as a command started from a terminal has.

    A job started in the background inherits SIGINT ignored (and so would every test it runs);
    Python then never turns SIGINT into KeyboardInterrupt, and the run would not see the signal.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupted_run(out: Path, sig: int) -> tuple[int, str, set[int]]:
    """Start a run, send ``sig`` once SIGNAL_AFTER cells finished; (exit code, stderr, every descendant seen)."""
    proc = subprocess.Popen(
        _cmd(out),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ctrl_c_default,  # noqa: PLW1509 - one signal call, no threads started in between
    )
    me = psutil.Process(proc.pid)
    seen: set[int] = set()
    lines: list[str] = []
    done = threading.Event()

    def watch():  # descendants appear and end over the run: note every one
        while not done.is_set():
            try:
                seen.update(p.pid for p in me.children(recursive=True))
            except psutil.Error:
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    sent = False
    for line in proc.stderr:
        lines.append(line)
        if not sent and line.startswith(f"[{SIGNAL_AFTER}/"):
            seen.update(p.pid for p in me.children(recursive=True))
            proc.send_signal(sig)
            sent = True
    proc.wait(timeout=120)
    done.set()
    watcher.join(5)
    proc.stdout.close()
    proc.stderr.close()
    assert sent, "".join(lines)
    return proc.returncode, "".join(lines), seen


def _alive(pids: set[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def _assert_all_ended(pids: set[int]) -> None:
    """Every process in ``pids`` has ended within GONE_S seconds."""
    deadline = time.monotonic() + GONE_S
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = _alive(pids)
    assert not survivors, [psutil.Process(p).cmdline() for p in survivors]


def _comparable(out: Path) -> dict:
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    doc = {k: v for k, v in doc.items() if k not in ("elapsed_s", "started_utc", "command")}
    doc["claims"] = [{k: v for k, v in c.items() if k != "elapsed_s"} for c in doc["claims"]]
    return doc


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("interrupt") / "full"
    r = subprocess.run(_cmd(out), env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    # the workers' CPU reached the run (the fork server was waited for): at least that of the cells
    # that ran in workers (every single-threaded cell)
    timings = json.loads((out / "timings.json").read_text(encoding="utf-8"))
    in_workers = timings["claims"]["test-interrupt-core"]["cells_cpu_s"]
    assert in_workers > 0.5 and timings["children_cpu_s"] >= in_workers
    return _comparable(out)


@pytest.mark.slow  # five whole runs in fresh interpreters (about 40 s on an idle 2-core machine)
@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")])
def test_signal_stops_cleanly_and_resume_finishes(tmp_path, uninterrupted, sig, code, name):
    out = tmp_path / "cut"
    rc, err, seen = _interrupted_run(out, sig)
    assert rc == code, err
    last = [ln for ln in err.splitlines() if ln.strip()][-1]
    assert name in last and "--resume" in last and str(out) in last, err
    assert seen, "the run started no worker process: nothing was tested"
    _assert_all_ended(seen)
    assert not (out / "results.json").exists()
    kept = list((out / "cells").rglob("*.json"))
    assert len(kept) >= SIGNAL_AFTER  # finished cells are kept
    r = subprocess.run(_cmd(out, "--resume"), env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert _comparable(out) == uninterrupted


# -- diffapprox calibrate ---------------------------------------------------------------------------
CAL_CLAIMS = "saddle-escape,ou-optimum"
#: Replicates per control: 2 x 2 x 8 = 32 blocks of a fraction of a second each.
CAL_REPS = 40
#: Blocks finished before the signal is sent.
CAL_SIGNAL_AFTER = 3


def _cal_cmd(out: Path, json_out: Path) -> list[str]:
    return (
        [sys.executable, "-m", "diffapprox", "calibrate", "--profile", "quick", "--claims", CAL_CLAIMS]
        + ["--reps", str(CAL_REPS), "--kinds", "exact,edge", "--jobs", "2", "--seed", str(SEED)]
        + ["--out", str(out), "--json", str(json_out)]
    )


def _rates(path: Path) -> dict:
    """Each claim's controls and summary (its rates), without the times."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {c["id"]: (c["controls"], c["summary"]) for c in doc["claims"]}


@pytest.mark.slow  # three calibrate runs in fresh interpreters (about 30 s on an idle 2-core machine)
def test_sigterm_stops_calibrate_cleanly_and_a_rerun_resumes(tmp_path):
    full = tmp_path / "full.json"
    r = subprocess.run(_cal_cmd(tmp_path / "full", full), env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out, cut = tmp_path / "cut", tmp_path / "cut.json"
    proc = subprocess.Popen(
        _cal_cmd(out, cut), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    me = psutil.Process(proc.pid)
    seen: set[int] = set()
    lines: list[str] = []
    started = threading.Event()

    def read():  # in a thread: a surviving worker would hold the pipe open, and the test must not hang on it
        for line in proc.stderr:
            lines.append(line)
            if line.startswith(f"calibrate: {CAL_SIGNAL_AFTER}/"):
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(120), "".join(lines)
    seen.update(p.pid for p in me.children(recursive=True))
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    reader.join(GONE_S)
    if not reader.is_alive():
        proc.stderr.close()
    err = "".join(lines)
    assert proc.returncode == 143, err
    assert "SIGTERM" in lines[-1] and str(out) in lines[-1] and "resume" in lines[-1], err
    assert seen, "calibrate started no worker process: nothing was tested"
    _assert_all_ended(seen)
    assert not cut.exists()
    assert len(list(out.rglob("*.json"))) >= CAL_SIGNAL_AFTER  # finished blocks are kept
    r = subprocess.run(_cal_cmd(out, cut), env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert _rates(cut) == _rates(full)
