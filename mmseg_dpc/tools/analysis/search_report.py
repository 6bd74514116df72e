"""Write the report of a search (plots + report.md) into its work dir.

    python tools/analysis/search_report.py WORK_DIR \
        [--baseline NAME=RUN_DIR|MIOU ...]

``--baseline`` adds a model to the report's comparison table: the last
validation mIoU of a ``tools/train.py`` run directory (its metrics.json),
or a number.
"""
import argparse
import os.path as osp
import sys

from mmseg_dpc.analysis import write_report
from mmseg_dpc.engine import read_metrics
from mmseg_dpc.utils.third_party_log import third_party_log


def baseline(text: str):
    """``NAME=RUN_DIR|MIOU`` -> ``(NAME, 'xx.xx mIoU')``."""
    name, sep, value = text.partition('=')
    if not sep or not name:
        raise ValueError(f'--baseline {text!r}: expected NAME=RUN_DIR|MIOU')
    if osp.isdir(value):
        miou = read_metrics(value)['mIoU']
    else:
        try:
            miou = float(value)
        except ValueError:
            raise ValueError(f'--baseline {text!r}: {value!r} is neither a '
                             'run directory nor a number') from None
    return name, f'{miou:.2f} mIoU'


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('work_dir')
    p.add_argument('--baseline', action='append', default=[],
                   metavar='NAME=RUN_DIR|MIOU')
    a = p.parse_args()
    try:
        extra = dict(baseline(b) for b in a.baseline)
        # matplotlib's and torch's warnings to a log, not among these lines
        with third_party_log(osp.join(a.work_dir, 'report.log')) as log:
            path = write_report(a.work_dir, extra=extra or None)
    except ValueError as e:
        sys.exit(f'error: {e}')
    print(path)
    if log.summary():
        print(log.summary())


if __name__ == '__main__':
    main()
