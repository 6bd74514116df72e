"""Write the report of a search (plots + report.md) into its work dir.

    python tools/analysis/search_report.py WORK_DIR
"""
import argparse
import sys

from mmseg_dpc.analysis import write_report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('work_dir')
    a = p.parse_args()
    try:
        print(write_report(a.work_dir))
    except ValueError as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
