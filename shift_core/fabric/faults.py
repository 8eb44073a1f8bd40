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

Instead of ``at_ns`` a fault may name the exact point of the run it strikes with ``when`` (the systematic
explorer's placements, :mod:`shift_core.fabric.taps`): just before request message ``k`` leaves
(``when: {message: k}``), just before response ``k`` leaves (``when: {response: k}``), or the moment a host's
SHIFT machine enters a state (``when: {transition: {host: A, queue: sq, to: fallback, nth: 1}}``, which needs the
SHIFT layer: :mod:`shift_core.explore`)::

      - {kind: drop_message, when: {message: 17}, packet: 0}     # lose the first packet of message 17
      - {kind: drop_response, when: {response: 9}}               # lose response 9 (an ACK, a READ response...)
      - {kind: link_down, nic: h1.nic0, when: {message: 17}}
      - {kind: nic_fatal, nic: h0.nic1, when: {transition: {host: A, queue: sq, to: wait_drained}}}
      - {kind: kv_down, when: {transition: {host: B, queue: sq, to: fallback}}, for_ns: 20000}

``kv_down`` / ``kv_up`` (the KV store unreachable, for ``for_ns`` or for good) also need the layer. A bad
schedule raises :class:`~shift_core.errors.ShiftUserError` with one line naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shift_core.errors import ShiftUserError
from shift_core.fabric.env import URGENT
from shift_core.fabric.injector import FaultInjector
from shift_core.vocabulary import FAULT_KINDS

NicName = Annotated[str, Field(pattern=r"^h\d+\.nic\d+$", description="device name, e.g. h0.nic0")]
Ns = Annotated[int, Field(ge=0, description="virtual time in ns")]
Index = Annotated[int, Field(ge=1, description="1-based index")]


class TransitionTrigger(BaseModel):
    """The ``nth`` time ``host``'s ``queue`` machine enters state ``to`` (``shift_core.shift.machine`` names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    host: Annotated[str, Field(min_length=1, description="host name of the run, e.g. A or B")]
    queue: Literal["sq", "rq"] = "sq"
    to: Annotated[str, Field(pattern=r"^[a-z_]+$", description="state entered, e.g. fallback")]
    nth: Index = 1


class Trigger(BaseModel):
    """Where a fault strikes: exactly one of a message index, a response index or a machine transition."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    message: Index | None = None
    response: Index | None = None
    transition: TransitionTrigger | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        if sum(x is not None for x in (self.message, self.response, self.transition)) != 1:
            raise ValueError("give exactly one of message, response or transition")
        return self


class _Timed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at_ns: Ns = 0
    when: Trigger | None = None

    @model_validator(mode="after")
    def _time_or_trigger(self) -> _Timed:
        if self.when is not None and self.at_ns:
            raise ValueError("give at_ns or when, not both")
        return self


class _Fault(_Timed):
    nic: NicName


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


class DropMessage(_Timed):
    """Packet ``packet`` of request message ``when.message`` is lost (once: that transmission only)."""
    kind: Literal["drop_message"]
    packet: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _needs_message(self) -> DropMessage:
        if self.when is None or self.when.message is None:
            raise ValueError("drop_message needs when: {message: <index>}")
        return self


class DropResponse(_Timed):
    """Response ``when.response`` (an ACK, NAK, READ or atomic response) is lost."""
    kind: Literal["drop_response"]

    @model_validator(mode="after")
    def _needs_response(self) -> DropResponse:
        if self.when is None or self.when.response is None:
            raise ValueError("drop_response needs when: {response: <index>}")
        return self


class KVDown(_Timed):
    """The KV store becomes unreachable, for ``for_ns`` (a slow store) or for good."""
    kind: Literal["kv_down"]
    for_ns: Annotated[int, Field(gt=0)] | None = None


class KVUp(_Timed):
    """The KV store is reachable again."""
    kind: Literal["kv_up"]


AnyFault = Annotated[LinkDown | LinkUp | LinkFlap | NicFatal | SecondFailure | PacketLoss | AckLoss | Delay
                     | DropMessage | DropResponse | KVDown | KVUp, Field(discriminator="kind")]

#: schedule kinds = the vocabulary's fault kinds + link_up, delay, the exact drops and the KV store's
SCHEDULE_KINDS: tuple[str, ...] = (*FAULT_KINDS, "link_up", "delay", "drop_message", "drop_response", "kv_down",
                                   "kv_up")
#: kinds that need the SHIFT layer (a run section): :class:`LayerHooks`
LAYER_KINDS: tuple[str, ...] = ("kv_down", "kv_up")
#: kinds that may strike ``when`` a trigger happens instead of at ``at_ns``
TRIGGERED_KINDS: tuple[str, ...] = ("link_down", "link_up", "link_flap", "nic_fatal", "second_failure",
                                    "drop_message", "drop_response", "kv_down", "kv_up")


class LayerHooks(Protocol):
    """What the SHIFT layer side provides to arm layer faults (``shift_core.explore`` implements it)."""

    def on_transition(self, trigger: TransitionTrigger, action: Callable[[], None]) -> None:
        """Run ``action`` when ``trigger``'s transition happens."""
        ...

    def kv_down(self, for_ns: int | None) -> None:
        """Make the KV store unreachable now (for ``for_ns``, or for good)."""
        ...

    def kv_up(self) -> None:
        """Make the KV store reachable again now."""
        ...


class FaultSchedule(BaseModel):
    """A validated fault schedule."""

    model_config = ConfigDict(extra="forbid")
    faults: list[AnyFault] = Field(default_factory=list)

    def arm(self, inj: FaultInjector, layer: LayerHooks | None = None) -> None:
        """Schedule every fault on the injector's fabric (device names are checked here); faults of the SHIFT
        layer (transition triggers, the KV store) go to ``layer``."""
        for i, f in enumerate(self.faults):
            nic = getattr(f, "nic", None)
            if nic is not None and nic not in inj.fabric.nics:
                raise ShiftUserError(f"fault schedule: faults[{i}].nic: no device {nic!r} in this fabric "
                                     f"(has {', '.join(inj.fabric.nics)})")
            needs_layer = f.kind in LAYER_KINDS or (f.when is not None and f.when.transition is not None)
            if needs_layer and layer is None:
                what = "a transition trigger" if f.kind not in LAYER_KINDS else f.kind
                raise ShiftUserError(f"fault schedule: faults[{i}]: {what} needs the SHIFT layer: "
                                     "give the schedule a run section (shift_core.explore)")
            if f.when is not None:
                self._arm_triggered(i, f, inj, layer)
                continue
            if isinstance(f, KVDown):
                assert layer is not None
                inj.fabric.env.schedule_at(f.at_ns, layer.kv_down, f.for_ns, priority=URGENT)
            elif isinstance(f, KVUp):
                assert layer is not None
                inj.fabric.env.schedule_at(f.at_ns, layer.kv_up, priority=URGENT)
            elif isinstance(f, LinkDown):
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

    @staticmethod
    def _arm_triggered(i: int, f: Any, inj: FaultInjector, layer: LayerHooks | None) -> None:
        """Arm fault ``i``, which strikes ``when`` a message, a response or a transition (see :mod:`.taps`)."""
        from shift_core.fabric.taps import Taps

        if f.kind not in TRIGGERED_KINDS:
            raise ShiftUserError(f"fault schedule: faults[{i}].when: {f.kind} takes at_ns, not when "
                                 f"(when works for {', '.join(TRIGGERED_KINDS)})")
        fabric = inj.fabric
        taps = fabric.taps if fabric.taps is not None else Taps().attach(fabric)
        fabric.batching = False
        trig: Trigger = f.when
        if isinstance(f, DropMessage):
            taps.drop_message[trig.message] = f.packet  # type: ignore[index]
            return
        if isinstance(f, DropResponse):
            taps.drop_response.add(trig.response)  # type: ignore[arg-type]
            return
        action = _action_now(f, inj, layer)
        if trig.message is not None:
            taps.at_message.setdefault(trig.message, []).append(action)
        elif trig.response is not None:
            taps.at_response.setdefault(trig.response, []).append(action)
        else:
            assert layer is not None and trig.transition is not None
            layer.on_transition(trig.transition, action)


def _action_now(f: Any, inj: FaultInjector, layer: LayerHooks | None) -> Callable[[], None]:
    """Fault ``f`` as a callable that applies it at the moment it is called."""
    if isinstance(f, KVDown):
        assert layer is not None
        return lambda: layer.kv_down(f.for_ns)
    if isinstance(f, KVUp):
        assert layer is not None
        return layer.kv_up
    if isinstance(f, LinkDown):
        return lambda: inj.link_down(f.nic)
    if isinstance(f, LinkUp):
        return lambda: inj.link_up(f.nic)
    if isinstance(f, LinkFlap):
        return lambda: inj.link_flap(f.nic, inj.fabric.env.now, f.down_ns, f.up_ns, f.count)
    if isinstance(f, NicFatal):
        return lambda: inj.nic_fatal(f.nic)
    assert isinstance(f, SecondFailure)
    if f.mode == "nic_fatal":
        return lambda: inj.nic_fatal(f.nic, label="second_failure")
    return lambda: inj.link_down(f.nic, label="second_failure")


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
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "union_tag_invalid":
        msg = f"unknown kind; use one of {', '.join(SCHEDULE_KINDS)}"
    elif err["type"] == "union_tag_not_found":
        msg = "missing 'kind'"
    return f"{where}: {msg}"


def read_mapping(src: dict[str, Any] | str | Path) -> tuple[str, dict[str, Any]]:
    """``(where, data)``: a schedule's mapping from a file path (YAML or JSON) or a dict, and how to name it in
    an error message.

    :raises ShiftUserError: for a missing file, bad YAML/JSON, or anything but a mapping.
    """
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
    return where, data


def validation_error(where: str, exc: ValidationError) -> ShiftUserError:
    """One line naming the first bad field of a schedule."""
    return ShiftUserError(f"{where}: {_first_error(exc)}")


def load_schedule(src: FaultSchedule | dict[str, Any] | str | Path) -> FaultSchedule:
    """Parse and validate a schedule from a file path (YAML or JSON), a dict, or pass one through."""
    if isinstance(src, FaultSchedule):
        return src
    where, data = read_mapping(src)
    try:
        return FaultSchedule.model_validate(data)
    except ValidationError as exc:
        raise validation_error(where, exc) from None
