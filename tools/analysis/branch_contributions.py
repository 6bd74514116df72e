"""``python tools/analysis/branch_contributions.py ARGS`` = ``mmseg-dpc-branch-
contributions ARGS`` = ``python -m
mmseg_dpc.tools.analysis.branch_contributions ARGS``: a wrapper of the
package's tool (see it for usage), kept so the clone's commands work as
mmseg's do."""
import sys

from mmseg_dpc.tools.analysis.branch_contributions import main

if __name__ == '__main__':
    sys.exit(main())
