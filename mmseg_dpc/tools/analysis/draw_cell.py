"""Draw a DPC cell as its DAG.

    python tools/analysis/draw_cell.py CELL --out cell.png [--title T]

CELL is a reference JSON file, a model/trial config with a DPCHead, or a
trial directory of a search.
"""
import argparse
import os.path as osp

from mmengine.config import Config

from mmseg_dpc.analysis import draw_cell
from mmseg_dpc.search import Architecture


def load_cell(path: str) -> Architecture:
    if osp.isdir(path):
        path = osp.join(path, 'config.py')
    if path.endswith('.py'):
        head = Config.fromfile(path).model.decode_head
        if head.get('type') != 'DPCHead':
            raise SystemExit(f'error: {path}: decode_head is not a DPCHead')
        return Architecture(head.arch)
    return Architecture(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('cell')
    p.add_argument('--out', required=True)
    p.add_argument('--title')
    a = p.parse_args()
    arch = load_cell(a.cell)
    draw_cell(arch.branches, a.out, a.title or f'cell {arch.hash}')
    print(f'{arch} -> {a.out}')


if __name__ == '__main__':
    main()
