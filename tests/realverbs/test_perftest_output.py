"""perftest result rows: the numbers of a good run, and a reason (never an exception) for a bad one.

The outputs below are verbatim perftest 4.5 output from the rxe guest (rdma-core 44, kernel 6.1): a normal
``ib_write_lat`` / ``ib_write_bw`` run, and ``ib_write_lat`` whose CPU-frequency calibration failed under CPU
contention (reproduced with busy loops in the guest: ``Correlation coefficient r^2 ... < 0.9``, every time
``inf``), which is what made the rxe stage's old parser raise IndexError.
"""

from __future__ import annotations

import math

import pytest

from shift_core.realverbs import perftest_output

HEADER_LAT = (" #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   "
              "99% percentile[usec]   99.9% percentile[usec] \n")
LAT_OK = HEADER_LAT + (" 2       1000          16.79          307.00       18.34    \t       20.82       \t14.13  "
                       "\t\t101.47  \t\t307.00 \n" + "-" * 87 + "\n")
LAT_INF = HEADER_LAT + (" 2       200          inf            inf          inf      \t       inf         \t-nan   "
                        "\t\tinf     \t\tinf    \n")
CALIBRATION_ERR = "Correlation coefficient r^2: 0.583415 < 0.9\nCorrelation coefficient r^2: 0.516029 < 0.9\n"
BW_OK = (" #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]\n"
         " 65536      300              0.48               0.47   \t\t   0.000897\n")
BW_ZERO = BW_OK.replace("0.48               0.47", "0.00               0.00")


def test_latency_row_is_read_by_column() -> None:
    values, why = perftest_output.parse("ib_write_lat", LAT_OK)
    assert why == ""
    assert values["t_typical_us"] == 18.34 and values["t_avg_us"] == 20.82 and values["t_p999_us"] == 307.0
    assert values["bytes"] == 2 and values["iters"] == 1000


def test_bandwidth_row_is_read_by_column() -> None:
    values, why = perftest_output.parse("ib_send_bw", BW_OK)
    assert why == "" and values["bw_avg_gbps"] == 0.47 and values["bw_peak_gbps"] == 0.48


def test_failed_calibration_is_a_reason_not_a_crash() -> None:
    values, why = perftest_output.parse("ib_write_lat", LAT_INF, CALIBRATION_ERR)
    assert "calibration failed" in why and "r^2: 0.583415 < 0.9" in why
    assert math.isinf(values["t_typical_us"]) and math.isnan(values["t_stdev_us"])


def test_zero_bandwidth_of_a_failed_calibration_is_not_a_measurement() -> None:
    _, why = perftest_output.parse("ib_write_bw", BW_ZERO, CALIBRATION_ERR)
    assert "calibration failed" in why
    _, why = perftest_output.parse("ib_write_bw", BW_ZERO)
    assert why == "perftest reported bw_avg_gbps=0.0"


def test_a_run_without_a_result_row_says_what_it_printed_last() -> None:
    values, why = perftest_output.parse("ib_read_bw", "", " Couldn't connect to 10.0.0.2:18515\n")
    assert values == {} and "Couldn't connect to 10.0.0.2:18515" in why


def test_unknown_tool_is_refused() -> None:
    with pytest.raises(ValueError, match="not a perftest tool"):
        perftest_output.kind("ibv_rc_pingpong")
