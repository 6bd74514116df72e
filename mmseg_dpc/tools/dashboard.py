"""Show a search's study, live, in Optuna's own dashboard.

    python tools/dashboard.py WORK_DIR [--port 8080] [--host 127.0.0.1]
    python tools/dashboard.py --storage postgresql://... [--port 8080]

Each trial shows its architecture hash, its cell (``arch``, and ``cell`` in
words), its metrics, params and FLOPs (user attributes), and its branch
parameters by name (``b0_input``, ``b0_op`` = ``sep3x3_r1x6``, ...).
"""
import argparse
import os
import os.path as osp
import sys


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('work_dir', nargs='?', help="a search's work dir (its "
                   'study.db)')
    p.add_argument('--storage', help='an Optuna storage URL instead')
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=8080)
    a = p.parse_args()
    if bool(a.work_dir) == bool(a.storage):
        p.error('give a work dir or --storage (one of them)')
    url = a.storage
    if a.work_dir:
        db = osp.join(osp.abspath(a.work_dir), 'study.db')
        if not osp.exists(db):
            print(f'error: no study in {a.work_dir} (no study.db); a search '
                  'run with --storage URL: pass --storage URL',
                  file=sys.stderr)
            return 2
        url = f'sqlite:///{db}'
    exe = osp.join(osp.dirname(sys.executable), 'optuna-dashboard')
    if not osp.exists(exe):
        print('error: optuna-dashboard is not installed (pip install '
              '-e ".[search]")', file=sys.stderr)
        return 2
    print(f'[dashboard] {url} at http://{a.host}:{a.port}/', flush=True)
    os.execv(exe, [exe, url, '--host', a.host, '--port', str(a.port)])


if __name__ == '__main__':
    sys.exit(main())
