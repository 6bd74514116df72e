"""Heartbeats of a driver's trials, recorded whatever its loop is doing."""
from __future__ import annotations

import threading
from typing import Set

from optuna.storages import RDBStorage


class HeartbeatThread:
    """Records the heartbeat of every trial this driver holds, every
    ``interval`` seconds, from a thread of its own (as Optuna's
    ``optimize`` does): however long the driver's loop blocks (asking,
    admission, writing configs, starting the fork server), its live trials
    never look stale to another driver."""

    def __init__(self, storage: RDBStorage, interval: float) -> None:
        self.storage = storage
        self.interval = interval
        self._held: Set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name='search-heartbeat')
        self._thread.start()

    def hold(self, trial_id: int) -> None:
        """Beat for ``trial_id`` from now on (and once at once)."""
        self.storage.record_heartbeat(trial_id)
        with self._lock:
            self._held.add(trial_id)

    def release(self, trial_id: int) -> None:
        with self._lock:
            self._held.discard(trial_id)

    def holds(self, trial_id: int) -> bool:
        with self._lock:
            return trial_id in self._held

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                held = list(self._held)
            for trial_id in held:
                try:
                    self.storage.record_heartbeat(trial_id)
                except Exception as e:  # a passing database error
                    print(f'[search] heartbeat of trial id {trial_id} '
                          f'failed: {type(e).__name__}: {e}', flush=True)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
