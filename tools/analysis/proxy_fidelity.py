"""``python tools/analysis/proxy_fidelity.py ARGS`` = ``mmseg-dpc-fidelity
ARGS`` = ``python -m mmseg_dpc.tools.analysis.proxy_fidelity ARGS``: a
wrapper of the package's tool (see it for usage), kept so the clone's
commands work as mmseg's do."""
from mmseg_dpc.tools.analysis.proxy_fidelity import cli

if __name__ == '__main__':
    cli()
