"""Writes that never leave a half-written file behind."""
from __future__ import annotations

import json
import os
import threading
from typing import Any, Optional


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    # unique per process and thread: concurrent writers never share it
    tmp = f'{path}.{os.getpid()}.{threading.get_ident()}.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def atomic_write_json(path: str, obj: Any, indent: int = 1) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent))


def read_json(path: str) -> Optional[Any]:
    """The JSON document at ``path``, or ``None`` where there is none."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)
