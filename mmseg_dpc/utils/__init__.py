from .checkpoint import register_checkpoint_safe_globals
from .io import atomic_write_json, atomic_write_text

__all__ = [
    'atomic_write_json', 'atomic_write_text',
    'register_checkpoint_safe_globals'
]
