"""The tests' PostgreSQL server dies with the process that started it, even
when that process is killed, and its folder is removed at the next start."""
import os
import signal
import subprocess
import sys
import time

import pytest

from ..conftest import REPO
from .postgres import _alive, reap_stale_servers

pytestmark = pytest.mark.processes


def test_a_killed_starter_leaves_no_server_and_no_data():
    starter = subprocess.Popen(
        [sys.executable, '-m', 'tests.test_search.postgres'], cwd=REPO,
        stdout=subprocess.PIPE, text=True)
    try:
        url, pid, root = starter.stdout.readline().split()
        pid = int(pid)
        assert _alive(pid) and os.path.isdir(root)
        starter.send_signal(signal.SIGKILL)  # as a killed pytest run
        starter.wait(timeout=30)
    finally:
        starter.kill()
    deadline = time.time() + 60
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), f'server {pid} outlived its starter'
    assert root in reap_stale_servers()
    assert not os.path.exists(root)
