"""What made a run: its config, less what only says where it runs.

A resumed work dir keeps the runs it holds. Such a run may only stand in
for a new one where it was trained as the new one would be: the same
model, data, schedule, initialisation and seed. Two configs are compared
as flat ``key.path = value`` maps, so a refusal can name the keys that
differ.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict, Tuple

from mmengine.config import Config

# what a runner does with a kept run made under other settings
ON_CHANGED = ('retrain', 'refuse')
# where a run writes, how its process was launched and whether it resumed
# (the train tool sets both, and mmengine's Runner dumps the config again
# with them), and the study's bookkeeping of one trial: none changes what
# is trained
WHERE_KEYS = ('work_dir', 'launcher', 'resume')
WHERE_PARTS = ('report', )


def flat_config(cfg: Config) -> Dict[str, Any]:
    """``cfg`` as ``{'model.decode_head.channels': 128, ...}`` (list items
    by index), without :data:`WHERE_KEYS` and the study's report."""
    flat: Dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k not in WHERE_PARTS:
                    walk(f'{prefix}.{k}' if prefix else str(k), v)
        elif isinstance(value, (list, tuple)) and value:
            for i, v in enumerate(value):
                walk(f'{prefix}.{i}', v)
        else:
            flat[prefix] = list(value) if isinstance(value, tuple) else value

    walk('', {k: v for k, v in cfg.to_dict().items()
              if k not in WHERE_KEYS})
    return flat


def fingerprint(cfg: Config) -> str:
    """A short hash of :func:`flat_config`."""
    text = json.dumps(flat_config(cfg), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ConfigChange:
    """How a kept run's config differs from the one a new run would get."""
    run_dir: str
    keys: Tuple[str, ...]

    def describe(self, limit: int = 6) -> str:
        keys = ', '.join(self.keys[:limit])
        more = len(self.keys) - limit
        return f'{self.run_dir}: {keys}' + (f' (and {more} more)'
                                            if more > 0 else '')


def config_change(run_dir: str, old: Config, new: Config) -> ConfigChange:
    """The keys whose value differs between ``old`` and ``new`` (added and
    removed ones included); no keys where the two train alike."""
    a, b = flat_config(old), flat_config(new)
    keys = sorted(k for k in set(a) | set(b) if a.get(k, KeyError) !=
                  b.get(k, KeyError))
    return ConfigChange(run_dir, tuple(keys))


class ChangedRunsError(ValueError):
    """Runs of a resumed work dir were trained under other settings."""

    def __init__(self, changes) -> None:
        self.changes = list(changes)
        lines = '\n  '.join(c.describe() for c in self.changes)
        super().__init__(
            f'{len(self.changes)} complete run(s) in the work dir were '
            'trained under other settings than this command gives them '
            f'(keys that differ):\n  {lines}\nRun with the settings that '
            'made them, use another work dir, or let them be retrained '
            "(on_changed='retrain')")
