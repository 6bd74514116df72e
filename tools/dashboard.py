"""``python tools/dashboard.py ARGS`` = ``mmseg-dpc-dashboard ARGS`` = ``python
-m mmseg_dpc.tools.dashboard ARGS``: a wrapper of the package's tool (see it
for usage), kept so the clone's commands work as mmseg's do."""
import sys

from mmseg_dpc.tools.dashboard import main

if __name__ == '__main__':
    sys.exit(main())
