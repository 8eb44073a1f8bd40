"""The nic stage between TWO QEMU guests, run as a user with two RDMA hosts runs it.

The session fixture (``twohost``, tests/rdma/conftest.py) boots the rxe image twice
(``workflow/scripts/rxe/twohost.py``: host + peer, each with soft-RoCE on a primary and a backup link to the
other guest, sshd reached through a forwarded port) and runs

    snakemake data/rxe/twohost.json --snakefile workflow/Snakefile --profile workflow/profiles/quick \\
        --forcerun twohost_suite --configfile <guests.yaml>

in the project, where ``<guests.yaml>`` is what ``shift rxe twohost`` writes (ssh aliases, devices, the
management address, cable-pull fault commands, backend rxe). The stage reaches both guests over ssh, copies
its agent there and writes data/rxe/ -- the same files a pair of ConnectX hosts gives data/nic/. Policy as
the other rxe tests: CI=true must run them; elsewhere they run when asked (``-m rxe``, ``SHIFT_RXE=1``).
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from shift_core.realverbs import results

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book"))
import producers

pytestmark = [pytest.mark.rxe, pytest.mark.timeout(5400)]
REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "rxe"


def _json(stem: str) -> dict[str, Any]:
    return dict(json.loads((DATA / f"{stem}.json").read_text()))


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open()))


def test_the_stage_ran_between_two_soft_roce_hosts_and_is_labelled_rxe(twohost: dict[str, Any]) -> None:
    m = twohost["manifest"]
    assert m["backend"] == "rxe" and m["stage"] == "twohost"
    assert {m["hosts"]["host"]["hostname"], m["hosts"]["peer"]["hostname"]} == {"shift-host", "shift-peer"}
    for role in ("host", "peer"):
        assert {d["driver"] for d in m["hosts"][role]["devices"].values()} == {"rdma_rxe"}
    assert m["status"] == "ok", (m["reason"], m["failed_runs"])
    assert m["clock"]["max_uncertainty_ms"] <= m["clock"]["tolerance_ms"]


def test_every_table_has_the_sims_columns(twohost: dict[str, Any]) -> None:
    for stem, cols in (("timeline", results.TIMELINE_COLUMNS), ("downtime", results.DOWNTIME_COLUMNS),
                       ("verbs_cost", results.VERBS_COST_COLUMNS), ("latency", results.LATENCY_COLUMNS)):
        with (DATA / f"{stem}.csv").open() as fh:
            assert next(csv.reader(fh)) == cols, stem
        assert _json(stem)["status"] == "ok" and _json(stem)["summary"], stem
    with (DATA / "faults" / "faults.csv").open() as fh:
        assert next(csv.reader(fh)) == results.FAULTS_COLUMNS


def _runs(strategy: str) -> list[dict[str, Any]]:
    return [r for r in _json("timeline")["notes"]["runs"] if r["run"].startswith(f"{strategy}/")]


def test_shift_keeps_write_and_read_streams_going_on_the_backup_with_every_byte_verified(
        twohost: dict[str, Any]) -> None:
    """A primary link goes down at 5 s (the peer's: receiver_nic; the host's: sender_nic) and comes back at
    10 s: SHIFT's WRITE and READ streams fail over, the target's buffers (WRITE) and every landed READ are
    checked end to end, and traffic flows in every sample between the first success on the backup and the
    recovery. (When the backup takes over depends on detection, RC timeout x retries, which a loaded TCG host
    stretches from ~1 s to ~2 s: the samples before it are not asserted.)"""
    frame = _rows(DATA / "timeline.csv")
    for op in ("write", "read"):
        for site in ("receiver_nic", "sender_nic"):
            (run,) = [r for r in _runs("shift") if r["run"] == f"shift/{op}/{site}"]
            assert run["data_intact"], run
            backup_s = run["first_backup_ok_s"]
            assert backup_s is not None and 5.0 < backup_s < 9.0, run
            during = [float(r["gbps"]) for r in frame if (r["strategy"], r["op"], r["site"]) == ("shift", op, site)
                      and backup_s <= float(r["t_s"]) - 1.0 and float(r["t_s"]) <= 10.0]
            assert during and min(during) > 0, (op, site, backup_s, during)


def test_none_surfaces_the_error_and_stops(twohost: dict[str, Any]) -> None:
    frame = _rows(DATA / "timeline.csv")
    runs = _runs("none")
    assert runs
    for run in runs:
        assert run["first_errors"] and run["first_errors"][0][1].endswith("_ERR"), run
        assert run["data_intact"], run
        strategy, op, site = run["run"].split("/")
        after = [float(r["gbps"]) for r in frame if (r["strategy"], r["op"], r["site"]) == (strategy, op, site)
                 and float(r["t_s"]) > 7.0]
        assert after and max(after) == 0.0, (run["run"], after)


def test_naive_duplicates_two_sided_messages_under_ack_loss_and_shift_never_corrupts(
        twohost: dict[str, Any]) -> None:
    """Theorem 1's physical case: 100 % loss of what the peer sends back. The peer executed the SENDs, the
    host timed out, and naive re-posts them on the backup: the receiver gets them twice. SHIFT's counter
    handshake skips what the peer consumed."""
    rows = _rows(DATA / "faults" / "faults.csv")
    naive = [r for r in rows if r["strategy"] == "naive" and r["fault"] == "ack_loss" and r["workload"] == "send_recv"]
    assert naive and all(r["outcome"] == "silent_corruption" and int(r["duplicate_executions"]) > 0
                         for r in naive), naive
    shift = [r for r in rows if r["strategy"] == "shift"]
    assert shift and not [r for r in shift if r["outcome"] == "silent_corruption"], shift
    none = [r for r in rows if r["strategy"] == "none"]
    assert none and all(r["outcome"] == "error_surfaced" for r in none), none


def test_downtime_is_measured_per_site_and_op_with_detection_apart(twohost: dict[str, Any]) -> None:
    rows = _rows(DATA / "downtime.csv")
    cells = {(r["site"], r["op"]) for r in rows if r["downtime_us"]}
    assert cells == {(s, o) for s in ("sender_nic", "receiver_nic", "switch_port") for o in ("write", "send", "read")}
    assert all(float(r["detect_us"]) > -50_000 for r in rows if r["detect_us"])  # within one poll of the fault
    summary = _json("downtime")["summary"]
    assert summary["max_mean_us"] > 0 and "mean_us_receiver_nic_read" in summary


def test_perftest_ran_with_and_without_libshift_interleaved(twohost: dict[str, Any]) -> None:
    rows = _rows(DATA / "interposer.csv")
    for tool in ("ib_write_bw", "ib_write_lat", "ib_send_bw", "ib_read_bw"):
        for mode in ("plain", "libshift"):
            reps = [r for r in rows if r["tool"] == tool and r["mode"] == mode]
            assert len(reps) >= 5, (tool, mode)
            assert any(r["valid"] == "True" for r in reps), reps  # a calibration failure is a row, not a crash
    assert "ib_write_lat_pair_ratio_median" in _json("interposer")["summary"]


#: the paper items drawn from the two-host run, and the data they draw (contract 2)
FIGURES = {"fig7_timeline": "timeline", "fig8b_downtime": "downtime", "fig9_verbs_cost": "verbs_cost",
           "table2_latency": "latency"}


def test_the_figures_draw_the_two_host_run_beside_the_sim_and_the_claims_fill_the_rxe_column(
        twohost: dict[str, Any], tmp_path: Path) -> None:
    """What the pipeline's figure and claims rules do with data/rxe/ (the real scripts, on a copy of the run's
    files beside small sim runs, so no extra guest boot): every figure has an rxe panel, and every claim whose
    metric the suite measures has an rxe value."""
    shutil.copytree(DATA, tmp_path / "rxe", ignore=shutil.ignore_patterns("perftest*", "failover*"))
    shutil.copy(DATA / "twohost.json", tmp_path / "rxe" / "manifest.json")
    for stem in FIGURES.values():
        producers.bench(stem, tmp_path / "sim", {"sizes": [1, 16]} if stem == "latency" else None)
    for fig, stem in FIGURES.items():
        out = tmp_path / "figures" / f"{fig}.png"
        producers.figure(fig, [tmp_path / "sim" / f"{stem}.csv", tmp_path / "rxe" / "manifest.json"], out)
        assert Image.open(out).info["shift:backends"] == "sim, rxe", fig
    producers.claims(tmp_path)
    rows = _rows(tmp_path / "claims.csv")
    measured = [r for r in rows if r["source"].startswith(("Fig 7", "Fig 8b", "Fig 9", "Table 2"))
                and r["id"].split("_")[0] != "detection" and r["rxe"]]
    assert len(measured) >= 20, [(r["id"], r["rxe"]) for r in rows]
    assert all(r["nic"] == "" for r in rows)  # soft-RoCE never fills the nic column
