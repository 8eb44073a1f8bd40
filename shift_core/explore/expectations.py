"""Expected results of the explorer, as data (``config/fault_expectations.yaml``), and the check against them.

Each cell (workload, strategy) gets ``silent_corruption`` (``none``: every corrupting run is a violation;
``some``: the theorems predict one, so finding none is a violation; ``any``: unchecked) and ``stall`` (``none`` or
``any``), from an ordered list of rules, each with its ``source`` (the claim or theorem). The file is read and
validated (pydantic) once; a bad file is one line naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shift_core.errors import ShiftUserError
from shift_core.explore.controls import CONTROL_STRATEGIES
from shift_core.vocabulary import STRATEGIES, WORKLOADS

#: the repository's expectations file (the explorer's default)
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "fault_expectations.yaml"
_ALL_STRATEGIES = (*STRATEGIES, *CONTROL_STRATEGIES)

Names = Literal["*"] | Annotated[list[str], Field(min_length=1)]


class Rule(BaseModel):
    """Cells named by ``workloads`` x ``strategies`` get the fields this rule sets."""

    model_config = ConfigDict(extra="forbid")
    workloads: Names
    strategies: Names
    silent_corruption: Literal["none", "some", "any"] | None = None
    stall: Literal["none", "any"] | None = None
    source: Annotated[str, Field(min_length=1)]

    @field_validator("workloads")
    @classmethod
    def _workloads(cls, v: Names) -> Names:
        bad = [] if v == "*" else [w for w in v if w not in WORKLOADS]
        if bad:
            raise ValueError(f"unknown workload(s) {bad}; use {', '.join(WORKLOADS)} or \"*\"")
        return v

    @field_validator("strategies")
    @classmethod
    def _strategies(cls, v: Names) -> Names:
        bad = [] if v == "*" else [s for s in v if s not in _ALL_STRATEGIES]
        if bad:
            raise ValueError(f"unknown strateg(ies) {bad}; use {', '.join(_ALL_STRATEGIES)} or \"*\"")
        return v

    def covers(self, workload: str, strategy: str) -> bool:
        return ((self.workloads == "*" or workload in self.workloads)
                and (self.strategies == "*" or strategy in self.strategies))


class Expectations(BaseModel):
    """The ordered rules of the expectations file."""

    model_config = ConfigDict(extra="forbid")
    rules: list[Rule]

    def cell(self, workload: str, strategy: str) -> Expectation:
        """What ``(workload, strategy)`` must show (the last rule setting a field wins)."""
        corr, stall, corr_src, stall_src = "any", "any", "no rule", "no rule"
        for r in self.rules:
            if not r.covers(workload, strategy):
                continue
            if r.silent_corruption is not None:
                corr, corr_src = r.silent_corruption, r.source
            if r.stall is not None:
                stall, stall_src = r.stall, r.source
        return Expectation(silent_corruption=corr, stall=stall, corruption_source=corr_src, stall_source=stall_src)


class Expectation(BaseModel):
    """One cell's expectation and where it comes from."""

    model_config = ConfigDict(frozen=True)
    silent_corruption: str
    stall: str
    corruption_source: str
    stall_source: str

    def problems(self, outcomes: dict[str, int], census_outcome: str) -> list[str]:
        """Why a cell with these outcome counts violates the expectation (empty: it holds)."""
        out = []
        if census_outcome != "correct":
            out.append(f"the fault-free census run is {census_outcome}, not correct")
        n = outcomes.get("silent_corruption", 0)
        if self.silent_corruption == "none" and n:
            out.append(f"{n} silent corruption(s), expected none ({self.corruption_source})")
        if self.silent_corruption == "some" and not n:
            out.append(f"no silent corruption found, but one is predicted ({self.corruption_source})")
        stalls = outcomes.get("stall", 0)
        if self.stall == "none" and stalls:
            out.append(f"{stalls} stall(s), expected none ({self.stall_source})")
        return out


def load_expectations(path: str | Path = DEFAULT_PATH) -> Expectations:
    """Read and validate the expectations file.

    :raises ShiftUserError: for a missing or invalid file (one line naming the field).
    """
    p = Path(path)
    if not p.is_file():
        raise ShiftUserError(f"expectations file {p}: no such file (see config/fault_expectations.yaml)")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ShiftUserError(f"expectations file {p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    try:
        return Expectations.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise ShiftUserError(f"expectations file {p}: {where}: {err['msg']}") from None
