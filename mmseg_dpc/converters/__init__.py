"""Weights from other frameworks' checkpoints (TF DeepLab)."""
from .deeplab import ConversionError, convert, deeplab_variables, model_map
from .tf_checkpoint import read_tf_checkpoint, write_tf_checkpoint

__all__ = [
    'ConversionError', 'convert', 'deeplab_variables', 'model_map',
    'read_tf_checkpoint', 'write_tf_checkpoint'
]
