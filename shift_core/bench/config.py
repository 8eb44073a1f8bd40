"""The pipeline configuration: loading, merging profile overrides, and validation with one-line errors.

The schema (``workflow/schemas/config.schema.yaml``) is the single description of every key; the pipeline
validates with ``snakemake.utils.validate`` and the ``shift bench`` CLI with this module, and both report a bad
value as one line that names the key (``timeline.time_scale: 2 is greater than the maximum of 1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from shift_core.errors import ShiftUserError

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = REPO / "config" / "config.yaml"


def _key_path(err: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in err.absolute_path]
    if err.validator == "required" and isinstance(err.message, str):
        missing = err.message.split("'")[1] if "'" in err.message else ""
        parts.append(missing)
    if err.validator == "additionalProperties":
        extra = err.message.split("'")[1] if "'" in err.message else ""
        parts.append(extra)
    return ".".join(p for p in parts if p) or "<top level>"


def config_error(config: Mapping[str, Any], schema_path: Path = SCHEMA) -> str | None:
    """The first schema violation of ``config`` as one line naming the key, or ``None`` when valid."""
    schema = yaml.safe_load(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    err = jsonschema.exceptions.best_match(validator.iter_errors(dict(config)))
    if err is None:
        return None
    msg = err.message.splitlines()[0]
    if len(msg) > 160:
        msg = msg[:157] + "..."
    return f"invalid config: {_key_path(err)}: {msg} (see config/README.md)"


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged into ``base`` recursively, as Snakemake merges ``--configfile`` over ``configfile:``."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(*paths: str | Path) -> dict[str, Any]:
    """Load ``config/config.yaml`` merged with ``paths`` (later wins) and validate it.

    :raises ShiftUserError: a file is missing or unreadable, or a value violates the schema (one line).
    """
    config: dict[str, Any] = {}
    for path in (DEFAULT_CONFIG, *paths):
        p = Path(path)
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except OSError as exc:
            raise ShiftUserError(f"cannot read config {p}: {exc.strerror}; pass an existing YAML file") from None
        except yaml.YAMLError as exc:
            raise ShiftUserError(f"config {p} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(loaded, Mapping):
            raise ShiftUserError(f"config {p} must be a mapping of keys to values")
        config = deep_merge(config, loaded)
    err = config_error(config)
    if err:
        raise ShiftUserError(err)
    return config
