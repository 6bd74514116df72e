"""Per-branch contribution of a trained DPC: the L1 norm of each branch's
slice of the concat projection's weights (the paper's analysis).

    python tools/analysis/branch_contributions.py CONFIG CHECKPOINT \
        --out contributions.png
"""
import argparse

from mmengine.config import Config

from mmseg_dpc.analysis import (branch_contributions,
                                plot_branch_contributions)
from mmseg_dpc.analysis.plots import relative_contributions
from mmseg_dpc.search import Architecture


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', help='the model config (names the cell)')
    p.add_argument('checkpoint')
    p.add_argument('--out', required=True)
    a = p.parse_args()
    arch = Architecture(Config.fromfile(a.config).model.decode_head.arch)
    c = branch_contributions(a.checkpoint)
    if c['num_branches'] != arch.num_branches:
        raise SystemExit(f'error: the checkpoint has {c["num_branches"]} '
                         f'branches, the config {arch.num_branches}')
    labels = [f'[{i}] {b.describe()}' for i, b in enumerate(arch.branches)]
    rel = relative_contributions(c['l1'], c['l1_se'])
    plot_branch_contributions(rel, labels, a.out, f'cell {arch.hash}')
    for label, v, r in zip(labels, c['l1'], rel):
        print(f'{label:24s} {v:10.2f}  {r.value:.2f} x the mean '
              f'(+- {2 * r.se:.2f}){" stands out" if r.stands_out else ""}')
    print(f'-> {a.out}')


if __name__ == '__main__':
    main()
