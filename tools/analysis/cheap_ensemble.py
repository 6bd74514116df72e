"""``python tools/analysis/cheap_ensemble.py ARGS`` =
``mmseg-dpc-cheap-ensemble ARGS`` = ``python -m
mmseg_dpc.tools.analysis.cheap_ensemble ARGS``: a wrapper of the package's
tool (see it for usage), kept so the clone's commands work as mmseg's do."""
from mmseg_dpc.tools.analysis.cheap_ensemble import main

if __name__ == '__main__':
    main()
