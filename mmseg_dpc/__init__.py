"""mmseg-dpc: the Dense Prediction Cell and its architecture search for
MMSegmentation.

Importing the package is cheap: its subpackages load when first used
(``mmseg_dpc.search``, ``mmseg_dpc.SEARCH_SPACES``), so a command can start
the trials' fork server before it imports torch. What registers in mmseg's
registries is what defines it, as in mmseg: importing
:mod:`mmseg_dpc.models` registers the head and the proxy segmentor,
:mod:`mmseg_dpc.datasets` the data sets, :mod:`mmseg_dpc.engine` the hooks
(and makes mmengine checkpoints loadable under torch's
``weights_only=True``). The shipped configs name the three in
``custom_imports``; :func:`register_all_modules` imports them all.
"""
import importlib
from typing import Any

from .version import __version__

_SUBPACKAGES = ('analysis', 'converters', 'datasets', 'engine',
                'feature_cache', 'models', 'search', 'tools', 'utils')
# what ``custom_imports`` names so that mmseg's own tools find our modules
REGISTERING_MODULES = ('mmseg_dpc.datasets', 'mmseg_dpc.engine',
                       'mmseg_dpc.models')


def register_all_modules() -> None:
    """Register every module of the package (models, data sets, hooks and
    the search space), as ``mmseg.utils.register_all_modules`` does."""
    for name in REGISTERING_MODULES + ('mmseg_dpc.search', ):
        importlib.import_module(name)


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f'{__name__}.{name}')
    if name == 'SEARCH_SPACES':
        importlib.import_module(f'{__name__}.search')  # registers the space
        from .registry import SEARCH_SPACES
        return SEARCH_SPACES
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['REGISTERING_MODULES', 'SEARCH_SPACES', '__version__',
           'register_all_modules']
