"""``python tools/analysis/search_report.py ARGS`` = ``mmseg-dpc-report ARGS``
= ``python -m mmseg_dpc.tools.analysis.search_report ARGS``: a wrapper of
the package's tool (see it for usage), kept so the clone's commands work as
mmseg's do."""
import sys

from mmseg_dpc.tools.analysis.search_report import main

if __name__ == '__main__':
    sys.exit(main())
