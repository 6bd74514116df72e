"""tools/misc/stress_tests.sh runs the ``processes`` tests in rounds, says
per round what passed and what was left running, and fails a round that
failed (here: one that ran no test)."""
import os
import os.path as osp
import subprocess
import sys

from ..conftest import REPO

SCRIPT = osp.join(REPO, 'tools', 'misc', 'stress_tests.sh')
QUICK = 'tests/test_search/test_postgres_server.py'  # one test, about 2 s


def stress(tmp_path, *args):
    env = dict(os.environ, PYTHON=sys.executable, STRESS_TESTS=QUICK,
               STRESS_LOG_DIR=str(tmp_path / 'logs'))
    return subprocess.run(['bash', SCRIPT, *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_rounds_pass_and_leave_nothing_running(tmp_path):
    out = stress(tmp_path, '2')
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert [line.split(':')[0] for line in lines] == [
        '[stress] round 1/2 ok', '[stress] round 2/2 ok'], out.stdout
    for line in lines:
        assert '1 passed' in line and 'left running: 0' in line, line
    assert (tmp_path / 'logs' / 'round-2.log').read_text().strip()
    assert not (tmp_path / 'logs' / 'round-1.tmp').exists()


def test_a_round_that_fails_fails_the_script(tmp_path):
    out = stress(tmp_path, '1', '-k', 'no_test_has_this_name')
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stdout.startswith('[stress] round 1/1 FAILED: '), out.stdout
    assert 'deselected' in out.stdout
