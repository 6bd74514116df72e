"""mmseg-dpc: the Dense Prediction Cell and its architecture search for
MMSegmentation. Importing it registers the head, the data sets and the
search-space components, and makes mmengine checkpoints loadable under
torch's ``weights_only=True`` default."""
from .utils.checkpoint import register_checkpoint_safe_globals
from .utils.config_format import memoize_config_formatting
from .version import __version__

register_checkpoint_safe_globals()
memoize_config_formatting()

from . import datasets, engine, models, search  # noqa: E402,F401
from .registry import SEARCH_SPACES  # noqa: E402

__all__ = ['SEARCH_SPACES', '__version__']
