"""Directory key-value store: one file per key, the format ``libshift.so``'s file store uses (``csrc/shift_kv.c``).

Why: a C end (libshift under an unmodified program) and a Python end (the SHIFT layer on pyverbs) on one host --
the rxe guest -- must exchange backup attributes through the same store without a server. The file name is the
key with ``:`` and ``/`` replaced by ``_``; the content is the JSON value; writes go to a temporary file that is
renamed into place, so a reader never sees half a value. Standard library only.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from shift_core.kv.store import KVUnavailable


def key_file(root: Path, key: str) -> Path:
    """Where ``key`` lives under ``root`` (the C store's naming)."""
    return root / key.replace(":", "_").replace("/", "_")


class DirKV:
    """``dir://<path>``: JSON values in files under ``path`` (created on first put)."""

    def __init__(self, path: str) -> None:
        self.url = f"dir://{path}"
        self.root = Path(path)

    def put(self, key: str, value: dict[str, Any]) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".kv.")
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(value))
            os.replace(tmp, key_file(self.root, key))
        except OSError as exc:
            raise KVUnavailable(f"Failed to put {key!r} in {self.url}: {exc}") from None

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            text = key_file(self.root, key).read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise KVUnavailable(f"Failed to get {key!r} from {self.url}: {exc}") from None
        return dict(json.loads(text))

    def delete(self, key: str) -> None:
        try:
            key_file(self.root, key).unlink(missing_ok=True)
        except OSError as exc:
            raise KVUnavailable(f"Failed to delete {key!r} from {self.url}: {exc}") from None

    def close(self) -> None:
        """Nothing to release."""
