import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest


@pytest.fixture(scope='session')
def feature_cache(tmp_path_factory, shapes_root) -> str:
    """Cached demo-backbone features of the generated data set."""
    from mmengine.config import Config

    from mmseg_dpc.feature_cache import cache_features

    from ..conftest import DEMO_CONFIG
    cfg = Config.fromfile(DEMO_CONFIG)
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = shapes_root
    out = str(tmp_path_factory.mktemp('feature_cache'))
    for split in ('train', 'val'):
        cache_features(cfg, split, out, levels=[3], device='cpu',
                       progress=False, shard_size=8)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='session')
def postgres_url():
    """A real PostgreSQL server on loopback, started for the tests (the
    server package is installed by tools/install.sh)."""
    bins = sorted(glob.glob('/usr/lib/postgresql/*/bin/postgres'))
    if not bins:
        pytest.fail('PostgreSQL server not found under /usr/lib/postgresql:'
                    ' tools/install.sh installs the postgresql package')
    bindir = os.path.dirname(bins[-1])
    root = tempfile.mkdtemp(prefix='mmseg_dpc_pg_', dir='/tmp')
    os.chmod(root, 0o755)
    data = os.path.join(root, 'data')
    as_user = []
    if os.geteuid() == 0:  # the server refuses to run as root
        import pwd
        pg = pwd.getpwnam('postgres')
        os.makedirs(data)
        os.chown(data, pg.pw_uid, pg.pw_gid)
        os.chown(root, pg.pw_uid, pg.pw_gid)
        as_user = ['runuser', '-u', 'postgres', '--']
    subprocess.run(as_user + [f'{bindir}/initdb', '-D', data, '-A', 'trust',
                              '-U', 'postgres'], check=True,
                   capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        as_user + [f'{bindir}/postgres', '-D', data, '-p', str(port), '-h',
                   '127.0.0.1', '-k', root],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import psycopg2
    for _ in range(100):
        try:
            conn = psycopg2.connect(host='127.0.0.1', port=port,
                                    user='postgres', dbname='postgres')
            break
        except psycopg2.OperationalError:
            time.sleep(0.1)
    else:
        server.kill()
        pytest.fail('PostgreSQL did not start')
    conn.autocommit = True
    conn.cursor().execute('CREATE DATABASE optuna')
    conn.close()
    yield f'postgresql+psycopg2://postgres@127.0.0.1:{port}/optuna'
    server.terminate()
    server.wait(timeout=30)
    shutil.rmtree(root, ignore_errors=True)
