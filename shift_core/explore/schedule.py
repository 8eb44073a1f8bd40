"""A replayable schedule: the run (workload, strategy, bound, seed, RC settings) plus its fault list.

Written by ``shift explore`` for every violation (and one witness per outcome class per cell), and read by
``shift fabric run --schedule``, which then replays the SHIFT run instead of a plain WRITE stream::

    run: {workload: send_recv, strategy: naive, n: 4, seed: 0}
    faults:
    - {kind: link_down, nic: h1.nic0, when: {message: 7}}

Faults are :mod:`shift_core.fabric.faults` entries; ``when`` names the exact point (message index, response index
or machine transition) of the run they strike. A bad file gives one line naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shift_core.explore.controls import CONTROL_STRATEGIES
from shift_core.fabric.faults import AnyFault, read_mapping, validation_error
from shift_core.vocabulary import STRATEGIES, WORKLOADS


class RunSpec(BaseModel):
    """The failover run a schedule replays (every knob that changes the run is here).

    The defaults are the explorer's bound: RC detection after (2 + 1) x 4.096 us x 2^4 = 197 us, a sender step
    every 50 us (so a run of 4 steps spans the detection time, and traffic is still flowing when a failed-over
    QP's probe, every 5 us, finds the default path back: the switch-back and its fence happen inside the run),
    and a stall declared 20 ms (100 detection times) after the start.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    workload: str
    strategy: str
    n: Annotated[int, Field(ge=1, le=256, description="workload steps")] = 4
    seed: int = 0
    timeout: Annotated[int, Field(ge=1, le=31, description="RC local ACK timeout exponent")] = 4
    retry_cnt: Annotated[int, Field(ge=0, le=6, description="RC retries (7 = forever is refused)")] = 2
    dup_write: Literal["reexecute", "ack_only"] = "reexecute"
    probe_interval_ns: Annotated[int, Field(gt=0, description="probe period of a failed-over QP")] = 5_000
    pace_ns: Annotated[int, Field(ge=0, description="gap between two sender steps")] = 50_000
    max_poll_ns: Annotated[int, Field(gt=0, description="longest idle app poll interval")] = 20_000
    deadline_ns: Annotated[int, Field(gt=0, description="a run not finished by then is a stall")] = 20_000_000

    @field_validator("workload")
    @classmethod
    def _workload(cls, v: str) -> str:
        if v not in WORKLOADS:
            raise ValueError(f"unknown workload {v!r}; use one of {', '.join(WORKLOADS)}")
        return v

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, v: str) -> str:
        if v not in STRATEGIES and v not in CONTROL_STRATEGIES:
            raise ValueError(f"unknown strategy {v!r}; use one of {', '.join((*STRATEGIES, *CONTROL_STRATEGIES))}")
        return v


class ReplaySchedule(BaseModel):
    """A run plus the faults that strike it."""

    model_config = ConfigDict(extra="forbid")
    run: RunSpec
    faults: list[AnyFault] = Field(default_factory=list)

    def to_yaml(self) -> str:
        """The schedule as compact YAML (defaults left out, one line per fault), ready for
        ``shift fabric run --schedule``."""
        d = self.to_json()
        faults = "".join(f"- {_flow(f)}\n" for f in d["faults"]) if d["faults"] else ""
        return f"run: {_flow(d['run'])}\nfaults:{' []' if not faults else ''}\n{faults}"

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True) | {
            "faults": [{"kind": f.kind} | f.model_dump(mode="json", exclude_defaults=True) for f in self.faults]}


def _flow(x: Any) -> str:
    return yaml.safe_dump(x, default_flow_style=True, sort_keys=False, width=1 << 20).strip()


def load_replay(src: ReplaySchedule | dict[str, Any] | str | Path) -> ReplaySchedule:
    """Parse and validate a replayable schedule (file path, dict, or pass one through).

    :raises ShiftUserError: one line naming the first bad field.
    """
    if isinstance(src, ReplaySchedule):
        return src
    where, data = read_mapping(src)
    try:
        return ReplaySchedule.model_validate(data)
    except ValidationError as exc:
        raise validation_error(where, exc) from None


def has_run_section(src: str | Path) -> bool:
    """Whether the schedule file names a SHIFT run (``run:``), so it replays through :mod:`shift_core.explore`."""
    _, data = read_mapping(src)
    return "run" in data
