"""``python tools/analysis/draw_cell.py ARGS`` = ``mmseg-dpc-draw-cell ARGS`` =
``python -m mmseg_dpc.tools.analysis.draw_cell ARGS``: a wrapper of the
package's tool (see it for usage), kept so the clone's commands work as
mmseg's do."""
import sys

from mmseg_dpc.tools.analysis.draw_cell import main

if __name__ == '__main__':
    sys.exit(main())
