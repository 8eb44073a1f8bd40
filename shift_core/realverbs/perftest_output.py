"""perftest's result row as numbers, or the reason a run has none (one parser for every real-verbs suite).

perftest (``ib_{write,send,read}_{bw,lat}``) prints one result row under a ``#bytes`` header: for bandwidth
tests ``bytes iterations BW-peak BW-average MsgRate``, for latency tests ``bytes iterations t_min t_max
t_typical t_avg t_stdev 99% 99.9%``. Two things make a row useless, and both happen on soft-RoCE under QEMU:

* perftest converts CPU cycles to time with a frequency it calibrates itself: a linear fit of the TSC against
  ``gettimeofday`` over 200 samples (``get_clock.c: sample_get_cpu_mhz``). When the process is preempted during
  those ~2 ms -- a TCG guest on a loaded host -- the fit's r^2 drops below 0.9, perftest prints
  ``Correlation coefficient r^2: ... < 0.9`` on stderr, uses 0 MHz, and reports every latency as ``inf`` (the
  stdev as ``-nan``) and, with ``-F``, every bandwidth as 0.00. That is what crashed the rxe stage's parser
  (an ``inf`` row has only two numeric fields).
* the run failed before reporting (connection refused, device missing): there is no row.

:func:`parse` returns the row's values (``inf``/``nan`` kept as floats) and a reason that is empty only when the
run measured something; callers record a rep with a reason as a failed rep, with its output, and go on.
"""

from __future__ import annotations

import math
import re

#: column names of the result row, in perftest's order
LAT_COLUMNS = ("bytes", "iters", "t_min_us", "t_max_us", "t_typical_us", "t_avg_us", "t_stdev_us", "t_p99_us",
               "t_p999_us")
BW_COLUMNS = ("bytes", "iters", "bw_peak_gbps", "bw_avg_gbps", "msg_rate_mpps")
#: the value a benchmark reports for each kind of test
METRIC = {"lat": "t_typical_us", "bw": "bw_avg_gbps"}
CALIBRATION = re.compile(r"Correlation coefficient r\^2: \S+ < 0\.9")


def kind(tool: str) -> str:
    """``lat`` or ``bw`` from the tool name (``ib_write_lat`` -> ``lat``)."""
    suffix = tool.rsplit("_", 1)[-1]
    if suffix not in METRIC:
        raise ValueError(f"not a perftest tool: {tool!r} (expected ib_<verb>_bw or ib_<verb>_lat)")
    return suffix


def _number(token: str) -> float | None:
    try:
        return float(token)  # float() reads perftest's "inf" and "-nan" too
    except ValueError:
        return None


def result_row(text: str) -> list[float] | None:
    """The numbers of the first row under the ``#bytes`` header, or ``None`` when there is no such row."""
    seen_header = False
    for line in text.splitlines():
        if "#bytes" in line:
            seen_header = True
            continue
        cols = line.split()
        if seen_header and len(cols) >= 2 and cols[0].isdigit() and cols[1].isdigit():
            nums = [_number(c) for c in cols]
            return [x for x in nums if x is not None]
    return None


def parse(tool: str, stdout: str, stderr: str = "") -> tuple[dict[str, float], str]:
    """``(values, "")`` when the run measured its metric; ``(values or {}, reason)`` when it did not."""
    columns = LAT_COLUMNS if kind(tool) == "lat" else BW_COLUMNS
    metric = METRIC[kind(tool)]
    row = result_row(stdout)
    if row is None:
        last = next((ln.strip() for ln in reversed((stdout + "\n" + stderr).splitlines()) if ln.strip()), "")
        return {}, f"no result row in the output ({last[:160] or 'no output'})"
    values = dict(zip(columns, row, strict=False))
    value = values.get(metric)
    if value is not None and math.isfinite(value) and value > 0:
        return values, ""
    calibration = CALIBRATION.search(stderr + stdout)
    if calibration:
        return values, (f"perftest's CPU-frequency calibration failed ({calibration.group(0)}), so it reported "
                        f"{metric}={value}: the process was preempted while it timed the TSC")
    if value is None:
        return values, f"result row has {len(row)} fields, {metric} missing"
    return values, f"perftest reported {metric}={value}"


def rep_row(tool: str, mode: str, rep: int, rc: int, stdout: str, stderr: str, server: str) -> dict[str, object]:
    """One rep as a table row: its finite values and ``valid``; a failed rep keeps its reason and output tail."""
    values, why = parse(tool, stdout, stderr)
    if rc and not why:
        why = f"exit status {rc}"
    row: dict[str, object] = {"tool": tool, "mode": mode, "rep": rep, "rc": rc, "valid": not why,
                              **{k: v for k, v in values.items() if math.isfinite(v)}}
    if why:
        row["reason"] = why
        row["output"] = (stdout + stderr + server)[-1500:]
    return row
