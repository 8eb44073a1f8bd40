"""Fault schedules: a validated YAML/JSON list of timed faults, armed on a fabric (host side; pydantic).

A schedule is a mapping with a ``faults`` list; each entry names its ``kind`` (the vocabulary's
:data:`~shift_core.vocabulary.FAULT_KINDS` plus ``link_up`` and ``delay``), the device ``nic`` and a time
``at_ns``::

    faults:
      - {kind: packet_loss, nic: h0.nic0, psn: 3}             # drop the request packet with PSN 3, once
      - {kind: ack_loss, nic: h0.nic0, probability: 0.01}      # 1% of ACKs heading to h0.nic0
      - {kind: link_flap, nic: h1.nic0, at_ns: 50000, down_ns: 20000, up_ns: 30000, count: 3}
      - {kind: link_down, nic: h1.nic0, at_ns: 1000000}
      - {kind: second_failure, nic: h1.nic1, at_ns: 2000000, mode: nic_fatal}
      - {kind: delay, nic: h0.nic1, extra_ns: 5000, at_ns: 0, until_ns: 100000}

A bad schedule raises :class:`~shift_core.errors.ShiftUserError` with one line naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shift_core.errors import ShiftUserError
from shift_core.fabric.injector import FaultInjector
from shift_core.vocabulary import FAULT_KINDS

NicName = Annotated[str, Field(pattern=r"^h\d+\.nic\d+$", description="device name, e.g. h0.nic0")]
Ns = Annotated[int, Field(ge=0, description="virtual time in ns")]


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nic: NicName
    at_ns: Ns = 0


class LinkDown(_Fault):
    """The NIC's link goes down at ``at_ns`` (``IBV_EVENT_PORT_ERR``)."""
    kind: Literal["link_down"]


class LinkUp(_Fault):
    """The NIC's link comes back at ``at_ns`` (``IBV_EVENT_PORT_ACTIVE``)."""
    kind: Literal["link_up"]


class LinkFlap(_Fault):
    """``count`` cycles of ``down_ns`` down, ``up_ns`` up."""
    kind: Literal["link_flap"]
    down_ns: Annotated[int, Field(gt=0)]
    up_ns: Annotated[int, Field(gt=0)]
    count: Annotated[int, Field(ge=1)] = 1


class NicFatal(_Fault):
    """The device dies at ``at_ns`` (``IBV_EVENT_DEVICE_FATAL``)."""
    kind: Literal["nic_fatal"]


class SecondFailure(_Fault):
    """A second fault, on another device (the backup), after the first."""
    kind: Literal["second_failure"]
    mode: Literal["link_down", "nic_fatal"] = "link_down"


class _Loss(_Fault):
    probability: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    psn: Annotated[int, Field(ge=0)] | None = None
    qpn: Annotated[int, Field(ge=0)] | None = None
    count: Annotated[int, Field(ge=1)] = 1
    until_ns: Ns | None = None

    @model_validator(mode="after")
    def _one_selector(self) -> _Loss:
        if (self.probability is None) == (self.psn is None):
            raise ValueError("give exactly one of probability or psn")
        return self


class PacketLoss(_Loss):
    """Request packets sent by ``nic`` are dropped (per-packet ``probability``, or the exact ``psn``)."""
    kind: Literal["packet_loss"]


class AckLoss(_Loss):
    """ACKs/responses heading to requester ``nic`` are dropped (``probability``, or the ACK of ``psn``)."""
    kind: Literal["ack_loss"]


class Delay(_Fault):
    """Extra one-way latency on ``nic``'s link from ``at_ns`` to ``until_ns``."""
    kind: Literal["delay"]
    extra_ns: Annotated[int, Field(gt=0)]
    until_ns: Ns | None = None


AnyFault = Annotated[LinkDown | LinkUp | LinkFlap | NicFatal | SecondFailure | PacketLoss | AckLoss | Delay,
                     Field(discriminator="kind")]

#: schedule kinds = the vocabulary's fault kinds + link_up and delay
SCHEDULE_KINDS: tuple[str, ...] = (*FAULT_KINDS, "link_up", "delay")


class FaultSchedule(BaseModel):
    """A validated fault schedule."""

    model_config = ConfigDict(extra="forbid")
    faults: list[AnyFault] = Field(default_factory=list)

    def arm(self, inj: FaultInjector) -> None:
        """Schedule every fault on the injector's fabric (device names are checked here)."""
        for i, f in enumerate(self.faults):
            if f.nic not in inj.fabric.nics:
                raise ShiftUserError(f"fault schedule: faults[{i}].nic: no device {f.nic!r} in this fabric "
                                     f"(has {', '.join(inj.fabric.nics)})")
            if isinstance(f, LinkDown):
                inj.link_down(f.nic, f.at_ns)
            elif isinstance(f, LinkUp):
                inj.link_up(f.nic, f.at_ns)
            elif isinstance(f, LinkFlap):
                inj.link_flap(f.nic, f.at_ns, f.down_ns, f.up_ns, f.count)
            elif isinstance(f, NicFatal):
                inj.nic_fatal(f.nic, f.at_ns)
            elif isinstance(f, SecondFailure):
                if f.mode == "nic_fatal":
                    inj.nic_fatal(f.nic, f.at_ns, label="second_failure")
                else:
                    inj.link_down(f.nic, f.at_ns, label="second_failure")
            elif isinstance(f, PacketLoss):
                inj.packet_loss(f.nic, f.probability or 0.0, f.psn, f.qpn, f.count, f.at_ns, f.until_ns)
            elif isinstance(f, AckLoss):
                inj.ack_loss(f.nic, f.probability or 0.0, f.psn, f.qpn, f.count, f.at_ns, f.until_ns)
            elif isinstance(f, Delay):
                inj.delay(f.nic, f.extra_ns, f.at_ns, f.until_ns)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    parts: list[str] = []
    loc = list(err["loc"])
    for i, p in enumerate(loc):
        if isinstance(p, int):
            parts[-1] = f"{parts[-1]}[{p}]" if parts else f"[{p}]"
        elif i > 0 and isinstance(loc[i - 1], int) and p in SCHEDULE_KINDS:
            continue  # the discriminator tag pydantic inserts
        else:
            parts.append(str(p))
    where = ".".join(parts) or "(top level)"
    msg = err["msg"]
    if err["type"] == "union_tag_invalid":
        msg = f"unknown kind; use one of {', '.join(SCHEDULE_KINDS)}"
    elif err["type"] == "union_tag_not_found":
        msg = "missing 'kind'"
    return f"{where}: {msg}"


def load_schedule(src: FaultSchedule | dict[str, Any] | str | Path) -> FaultSchedule:
    """Parse and validate a schedule from a file path (YAML or JSON), a dict, or pass one through."""
    if isinstance(src, FaultSchedule):
        return src
    where = "fault schedule"
    data: Any = src
    if isinstance(src, (str, Path)):
        path = Path(src)
        where = f"fault schedule {path}"
        if not path.is_file():
            raise ShiftUserError(f"{where}: no such file (give a YAML or JSON fault schedule)")
        try:
            text = path.read_text()
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise ShiftUserError(f"{where}: not valid {'JSON' if path.suffix == '.json' else 'YAML'} "
                                 f"({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ShiftUserError(f"{where}: expected a mapping with a 'faults' list")
    try:
        return FaultSchedule.model_validate(data)
    except ValidationError as exc:
        raise ShiftUserError(f"{where}: {_first_error(exc)}") from None
