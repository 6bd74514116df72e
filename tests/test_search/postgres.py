"""A real PostgreSQL server on loopback for the tests (the server package is
installed by tools/install.sh), which dies with the process that started
it, however that process ends.

The server runs as the ``postgres`` user (it refuses root) with
``PR_SET_PDEATHSIG``: when its starter dies (a pytest run killed, say), the
kernel sends it SIGQUIT, PostgreSQL's immediate shutdown. Each server's
folder names its starter's PID (``owner.pid``); the next start removes the
folders of starters that are gone, so a killed run leaves no data behind
for long either.
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

PREFIX = 'mmseg_dpc_pg_'
OWNER_FILE = 'owner.pid'


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    root: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] not in 'ZX'
    except (OSError, IndexError):
        return False


def reap_stale_servers(tmp: str = '/tmp') -> list:
    """Remove the folders of servers whose starter is gone; returns them."""
    reaped = []
    for root in glob.glob(os.path.join(tmp, PREFIX + '*')):
        try:
            with open(os.path.join(root, OWNER_FILE)) as f:
                owner = int(f.read())
        except (OSError, ValueError):
            continue  # being set up, or not ours
        if not _alive(owner):
            shutil.rmtree(root, ignore_errors=True)
            reaped.append(root)
    return reaped


def _run_as(uid: int, gid: int):
    """preexec_fn: become ``uid``, then ask for SIGQUIT when the parent
    dies (a credential change clears the request, so it comes after).
    libc is loaded here: the new user may not read this Python's files."""
    import ctypes
    libc = ctypes.CDLL('libc.so.6', use_errno=True)

    def preexec() -> None:
        os.setsid()
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        libc.prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG
    return preexec


def start_server() -> Server:
    """initdb and start a server on a free loopback port, owned by this
    process; wait until it accepts connections and has a database
    ``optuna``."""
    bins = sorted(glob.glob('/usr/lib/postgresql/*/bin/postgres'))
    if not bins:
        raise RuntimeError('PostgreSQL server not found under '
                           '/usr/lib/postgresql: tools/install.sh installs '
                           'the postgresql package')
    reap_stale_servers()
    bindir = os.path.dirname(bins[-1])
    root = tempfile.mkdtemp(prefix=PREFIX, dir='/tmp')
    os.chmod(root, 0o755)
    with open(os.path.join(root, OWNER_FILE), 'w') as f:
        f.write(str(os.getpid()))
    data = os.path.join(root, 'data')
    os.makedirs(data)
    uid, gid = os.getuid(), os.getgid()
    if os.geteuid() == 0:  # the server refuses to run as root
        import pwd
        pg = pwd.getpwnam('postgres')
        uid, gid = pg.pw_uid, pg.pw_gid
        os.chown(data, uid, gid)
        os.chown(root, uid, gid)
    subprocess.run([f'{bindir}/initdb', '-D', data, '-A', 'trust', '-U',
                    'postgres'], check=True, capture_output=True,
                   preexec_fn=_run_as(uid, gid))
    port = _free_port()
    process = subprocess.Popen(
        [f'{bindir}/postgres', '-D', data, '-p', str(port), '-h',
         '127.0.0.1', '-k', root], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, preexec_fn=_run_as(uid, gid))
    import psycopg2
    deadline = time.time() + 60
    while True:
        try:
            conn = psycopg2.connect(host='127.0.0.1', port=port,
                                    user='postgres', dbname='postgres')
            break
        except psycopg2.OperationalError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                raise RuntimeError('PostgreSQL did not start')
            time.sleep(0.1)
    conn.autocommit = True
    conn.cursor().execute('CREATE DATABASE optuna')
    conn.close()
    return Server(f'postgresql+psycopg2://postgres@127.0.0.1:{port}/optuna',
                  process, root)


def stop_server(server: Server) -> None:
    """Fast shutdown (SIGINT): clients still connected (a test's storage
    pool) are disconnected, where SIGTERM would wait for them."""
    server.process.send_signal(signal.SIGINT)
    server.process.wait(timeout=60)
    shutil.rmtree(server.root, ignore_errors=True)


if __name__ == '__main__':  # the kill test's starter: serve until killed
    s = start_server()
    print(s.url, s.process.pid, s.root, flush=True)
    while True:
        time.sleep(60)
