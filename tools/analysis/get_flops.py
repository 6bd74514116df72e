"""``python tools/analysis/get_flops.py ARGS`` = ``mmseg-dpc-flops ARGS`` =
``python -m mmseg_dpc.tools.analysis.get_flops ARGS``: a wrapper of the
package's tool (see it for usage), kept so the clone's commands work as
mmseg's do."""
import sys

from mmseg_dpc.tools.analysis.get_flops import main

if __name__ == '__main__':
    sys.exit(main())
