"""The two-host stage: run the suite and write ``data/<backend>/`` (``rxe`` for soft-RoCE, ``nic`` for NICs).

Outputs (contract 2): ``timeline``, ``downtime``, ``verbs_cost``, ``latency`` and ``interposer`` as
``<stem>.csv`` + ``<stem>.json`` (manifest + ``summary`` + ``notes``), the fault-matrix rows as
``faults/faults.{csv,json}``, and ``twohost.json``: the run's manifest (hosts, drivers, devices, clock
offsets, failed runs, ``wall_seconds``). A stem none of whose runs produced data is written with
``status: failed`` and the reason -- never numbers that were not measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from shift_core.bench.record import BenchResult, write_result
from shift_core.realverbs import results
from shift_core.realverbs.plan import PARTS
from shift_core.results import manifest, write_json_atomic, write_text_atomic

STEMS = ("timeline", "downtime", "verbs_cost", "latency", "interposer")


def outputs(data_root: Path | str, label: str) -> list[Path]:
    """Every file the stage writes for ``label``."""
    root = Path(data_root) / label
    return ([root / f"{s}.{ext}" for s in STEMS for ext in ("csv", "json")]
            + [root / "faults" / "faults.csv", root / "faults" / "faults.json", root / "twohost.json"])


def pipeline_outputs(config: Mapping[str, Any]) -> list[str]:
    """What the pipeline asks of the two-host suite: its files for ``backends.nic.backend`` when a peer is set."""
    nic = config["backends"]["nic"]
    return [str(p) for p in outputs("data", nic["backend"])] if nic["peer"] else []


def write_skipped(data_root: Path | str, label: str, reason: str, config: Mapping[str, Any] | None = None,
                  status: str = "skipped") -> None:
    """Every output says ``status: <status>`` with the reason (CSV: a one-row status table)."""
    record = manifest(label, config, status=status, reason=reason, extra={"stage": "twohost"})
    for out in outputs(data_root, label):
        if out.suffix == ".csv":
            write_text_atomic(out, f"status,reason\n{status},\"{reason}\"\n")
        else:
            write_json_atomic(out, record)


def _write(res: BenchResult, root: Path, config: Mapping[str, Any] | None, wall: float) -> str:
    csv, js = root / f"{res.name}.csv", root / f"{res.name}.json"
    if len(res.frame) == 0:
        why = "; ".join(str(v) for v in res.notes.get("failed", {}).values()) if isinstance(
            res.notes.get("failed"), dict) else str(res.notes.get("failed") or "")
        reason = f"no run of {res.name} produced data" + (f": {why[:500]}" if why else "")
        write_text_atomic(csv, ",".join(res.frame.columns) + "\n")
        write_json_atomic(js, manifest(res.backend, config, status="failed", reason=reason,
                                       extra={"benchmark": res.name, "summary": {}, "notes": dict(res.notes)}))
        return "failed"
    write_result(res, csv, js, config, wall_seconds=wall)
    return "ok"


def write(plan: Mapping[str, Any], events: list[dict[str, Any]], nic: Mapping[str, Any], setup: Any,
          data_root: Path | str, wall_seconds: float, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Turn the events into the stems and write them with the stage manifest; returns the manifest."""
    label = plan["label"]
    root = Path(data_root) / label
    suite = nic["suite"]
    walls: dict[str, float] = {}
    for e in events:
        if e["event"] == "run":
            stem = plan["runs"][e["index"]]["meta"]["stem"]
            walls[stem] = walls.get(stem, 0.0) + float(e["seconds"])
    built = {"timeline": results.timeline(events, plan, suite["timeline"], label),
             "downtime": results.downtime(events, plan, label), "verbs_cost": results.verbs_cost(events, plan, label),
             "latency": results.latency(events, plan, label), "interposer": results.interposer(events, plan, label)}
    status = {stem: _write(res, root, config, walls.get(stem, 0.0)) for stem, res in built.items()}
    frame, summary = results.faults(events, plan, label)
    write_text_atomic(root / "faults" / "faults.csv", frame.to_csv(index=False))
    failed_rows = summary.pop("failed_runs", {})
    write_json_atomic(root / "faults" / "faults.json", manifest(
        label, config, status="ok" if len(frame) else "failed",
        reason="" if len(frame) else f"no fault-matrix run produced data: {failed_rows}",
        extra={"summary": summary, "failed_runs": failed_rows, "wall_seconds": round(walls.get("faults", 0.0), 2)}))
    status["faults"] = "ok" if len(frame) else "failed"
    runs = [e for e in events if e["event"] == "run"]
    failed = [{"run": e["name"], "error": e["error"]} for e in runs if e["status"] != "ok"]
    offsets = [e["offset"] for e in runs]
    hosts = {role: {"dest": getattr(setup, role).dest, "hostname": setup.probes[role]["hostname"],
                    "devices": setup.probes[role]["devices"], "python": setup.probes[role]["python"]}
             for role in ("host", "peer")}
    m = manifest(label, config, status="ok" if all(v == "ok" for v in status.values()) else "failed",
                 reason="; ".join(f"{k}: no data" for k, v in status.items() if v != "ok"),
                 extra={"stage": "twohost", "hosts": hosts, "peer_addr": setup.peer_addr, "parts": status,
                        "runs": len(runs), "failed_runs": failed, "rc": plan["rc"],
                        "clock": {"max_uncertainty_ms": max((o["uncertainty_ns"] for o in offsets), default=0) / 1e6,
                                  "max_drift_ms": max((abs(o["after_ns"] - o["before_ns"]) for o in offsets),
                                                      default=0) / 1e6, "tolerance_ms": plan["max_skew_ms"]},
                        "wall_seconds": round(wall_seconds, 1)})
    write_json_atomic(root / "twohost.json", m)
    return m


def run_stage(config: Mapping[str, Any], data_root: Path | str, log: Callable[[str], None],
              on_event: Callable[[dict[str, Any]], None], parts: list[str] | None = None,
              log_dir: Path | None = None) -> dict[str, Any]:
    """Run the whole suite between ``backends.nic.host`` and ``backends.nic.peer`` and write the results.

    :raises ShiftUserError: / :raises ShiftError: one line, when a host, device or tool is missing or an agent
        fails (nothing is written then).
    """
    from shift_core.realverbs import suite

    nic = dict(config["backends"]["nic"])
    t0 = time.monotonic()
    log_dir = log_dir or Path("logs") / nic["backend"] / "twohost"
    setup, plan, events = suite.run(nic, list(parts or PARTS), int(config.get("seed", 1)), log, on_event, log_dir)
    return write(plan, events, nic, setup, data_root, time.monotonic() - t0, config)
