"""Pipeline configuration: the shipped configs validate; a bad value gives one line that names the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from shift_core.bench.config import REPO, config_error, deep_merge, load_config
from shift_core.errors import ShiftUserError


def test_shipped_configs_are_valid() -> None:
    assert load_config()["timeline"]["time_scale"] == 0.001
    assert load_config(REPO / "config" / "full.yaml")["timeline"]["time_scale"] == 0.01


@pytest.mark.parametrize(("path", "value", "key"), [
    (("fabric", "rc_timeout"), 0, "fabric.rc_timeout"),
    (("timeline", "strategies"), ["shift", "magic"], "timeline.strategies.1"),
    (("backends", "nic", "devices"), ["bad name"], "backends.nic.devices.0"),
    (("training", "busy_backup_load"), 1.0, "training.busy_backup_load"),
])
def test_bad_value_is_one_line_naming_the_key(path: tuple[str, ...], value: object, key: str) -> None:
    config = load_config()
    node = config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    msg = config_error(config)
    assert msg is not None and "\n" not in msg
    assert msg.startswith(f"invalid config: {key}:")


def test_unknown_and_missing_keys_are_named() -> None:
    config = load_config()
    assert "typo_key" in (config_error({**config, "typo_key": 1}) or "")
    del config["latency"]
    assert "latency" in (config_error(config) or "")


def test_override_file_merges_and_bad_file_is_a_user_error(tmp_path: Path) -> None:
    override = tmp_path / "o.yaml"
    override.write_text("latency:\n  iterations: 7\n")
    config = load_config(override)
    assert config["latency"]["iterations"] == 7 and config["latency"]["sizes"] == [1, 2, 4, 8, 16]
    override.write_text("latency:\n  iterations: -1\n")
    with pytest.raises(ShiftUserError, match=r"latency\.iterations"):
        load_config(override)
    with pytest.raises(ShiftUserError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")


def test_deep_merge_keeps_untouched_keys() -> None:
    assert deep_merge({"a": {"x": 1, "y": 2}, "b": 3}, {"a": {"y": 5}}) == {"a": {"x": 1, "y": 5}, "b": 3}
