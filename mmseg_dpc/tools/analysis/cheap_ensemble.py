"""Do several runs of one cheap stage rank cells better than one?

    python tools/analysis/cheap_ensemble.py RUN [RUN ...]
        [--stage one_shot:position] [--sizes 1 2 3 5]

Each RUN is a ``proxy_fidelity.py --cheap`` work dir (or its
``cheap_fidelity.json``) of the same cells and proxy runs, its stage run
with another seed (e.g. supernets of ``randomness.seed`` and
``sample_seed`` S). For each size k, every disjoint group of k runs ranks
the cells by their mean rank over the group (runs after the last whole
group are left out: the table's "runs used"); prints each group's Kendall
and Spearman against the proxy and their means. An ensemble that does not
gain says the stage's error is shared by its runs (a bias of the stage, not
the noise of one run); one that gains is worth k times the stage's cost.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Any, Dict, List, Optional


def read_run(path: str) -> Dict[str, Any]:
    """The summary of a fidelity run: a work dir or its JSON file."""
    from mmseg_dpc.analysis.cheap_fidelity import CHEAP_FIDELITY_FILE
    file = osp.join(path, CHEAP_FIDELITY_FILE) if osp.isdir(path) else path
    try:
        with open(file) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(
            f'{file}: not a fidelity run\'s summary ({e})') from e


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('runs', nargs='+', metavar='RUN',
                   help='fidelity work dirs or their cheap_fidelity.json')
    p.add_argument('--stage', default='one_shot:position')
    p.add_argument('--sizes', type=int, nargs='+',
                   help='runs averaged (default: 1 to all of them)')
    a = p.parse_args(argv)
    from mmseg_dpc.analysis.cheap_ensemble import (ensemble_fidelity,
                                                   ensemble_table)
    try:
        runs = [read_run(r) for r in a.runs]
        rows = ensemble_fidelity(runs, a.stage,
                                 a.sizes or range(1, len(runs) + 1))
    except ValueError as e:
        sys.exit(f'error: {e}')
    print(f'{len(runs)} runs of {a.stage}, {len(runs[0]["per_cell"])} '
          'cells; groups in the order given')
    print('\n'.join(ensemble_table(a.stage, rows)))


if __name__ == '__main__':
    main()
