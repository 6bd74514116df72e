"""A finished search's study in Optuna's own dashboard, started by
tools/dashboard.py on loopback and read back through its HTTP API."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from ..conftest import REPO, run_tool
from .test_search_tool import search_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def test_dashboard_shows_the_trials(tmp_path, feature_cache, shapes_root):
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=2)
    wd = tmp_path / 'work'
    run_tool('tools/search.py', cfg, '--work-dir', str(wd))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, 'tools/dashboard.py', str(wd), '--port', str(port)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(300):  # its start-up imports take seconds
            assert server.poll() is None, server.stdout.read()
            try:
                studies = _get(f'{base}/api/studies')['study_summaries']
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError('the dashboard did not answer in 60 s')
        assert [s['study_name'] for s in studies] == [
            'dpc-search_synthetic-shapes']
        detail = _get(f'{base}/api/studies/{studies[0]["study_id"]}')
        assert detail['objective_names'] == ['mIoU']
        done = [t for t in detail['trials'] if t['state'] == 'Complete']
        assert len(done) == 2
        for t in done:
            attrs = {a['key']: a['value'] for a in t['user_attrs']}
            for key in ('arch_hash', 'arch', 'cell', 'mIoU', 'params',
                        'flops', 'trial_dir'):
                assert key in attrs, (key, attrs)
            assert os.path.basename(attrs['trial_dir']).endswith(
                attrs['arch_hash'])
            params = {p['name']: p['param_external_value']
                      for p in t['params']}
            assert sorted(params) == ['b0_input', 'b0_op', 'b1_input',
                                      'b1_op']
            # the cell in words is made of the parameters' names
            ops = [params['b0_op'], params['b1_op']]
            assert attrs['cell'].startswith(f'{ops[0]}<-')
            assert f', {ops[1]}<-' in attrs['cell']
            assert float(t['values'][0]) == float(attrs['mIoU'])
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
