"""What an mmengine Runner of this package needs: the metrics-file hook,
checkpoints loadable under torch's ``weights_only=True`` default, and config
texts formatted once per process."""
from ..utils.checkpoint import register_checkpoint_safe_globals
from ..utils.config_format import memoize_config_formatting
from .hooks import *  # noqa: F401,F403

register_checkpoint_safe_globals()
memoize_config_formatting()
