"""tools/misc/stress_tests.sh runs the ``processes`` tests in rounds, says
per round what passed and what was left running, and fails a round that
failed (one that ran no test) or left a process running."""
import os
import os.path as osp
import signal
import subprocess
import sys

from ..conftest import REPO

SCRIPT = osp.join(REPO, 'tools', 'misc', 'stress_tests.sh')
QUICK = 'tests/test_search/test_postgres_server.py'  # one test, about 2 s


LEAKY = '''
import subprocess, sys
import pytest
@pytest.mark.processes
def test_leaves_a_process():
    p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],
                         start_new_session=True)
    open({pid_file!r}, 'w').write(str(p.pid))
'''


def stress(tmp_path, *args, tests=QUICK):
    env = dict(os.environ, STRESS_PYTHON=sys.executable, STRESS_TESTS=tests,
               STRESS_LOG_DIR=str(tmp_path / 'logs'), STRESS_GRACE='3')
    return subprocess.run(['bash', SCRIPT, *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_rounds_pass_and_leave_nothing_running(tmp_path):
    out = stress(tmp_path, '2')
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert [line.split(':')[0] for line in lines] == [
        '[stress] round 1/2 ok', '[stress] round 2/2 ok'], out.stdout
    for line in lines:
        assert '1 passed' in line and 'left running after 3 s: 0' in line, \
            line
    assert (tmp_path / 'logs' / 'round-2.log').read_text().strip()
    assert not (tmp_path / 'logs' / 'round-1.tmp').exists()


def test_a_round_that_fails_fails_the_script(tmp_path):
    out = stress(tmp_path, '1', '-k', 'no_test_has_this_name')
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stdout.startswith('[stress] round 1/1 FAILED: '), out.stdout
    assert 'deselected' in out.stdout


def test_a_round_that_leaves_a_process_running_fails(tmp_path):
    pid_file = tmp_path / 'pid'
    leaky = tmp_path / 'test_leaky.py'
    leaky.write_text(LEAKY.format(pid_file=str(pid_file)))
    try:
        out = stress(tmp_path, '1', tests=str(leaky))
        assert out.returncode == 1, out.stdout + out.stderr
        assert out.stdout.startswith('[stress] round 1/1 FAILED: 1 passed')
        assert 'left running after 3 s: 1 of the round' in out.stdout, \
            out.stdout
        listed = (tmp_path / 'logs' / 'round-1.log').read_text()
        assert 'time.sleep(60)' in listed.split('left running after')[1]
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_bad_usage_is_named_and_runs_nothing(tmp_path):
    for args in (['-k', 'x'], ['0']):
        out = stress(tmp_path, *args)
        assert out.returncode == 2 and 'usage:' in out.stderr, out.stderr
    assert not (tmp_path / 'logs' / 'round-1.log').exists()
