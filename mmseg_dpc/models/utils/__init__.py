from .atrous_conv import AtrousConv2d, kept_taps
from .cell_spec import (OPS, PAPER_GRIDS, PAPER_RATES, TOP1_CITYSCAPES, Branch,
                        cell_to_json, parse_branch, parse_cell)
from .dense_prediction_cell import DensePredictionCell, PyramidPooling

__all__ = [
    'AtrousConv2d', 'Branch', 'DensePredictionCell', 'OPS', 'PAPER_GRIDS',
    'PAPER_RATES', 'PyramidPooling', 'TOP1_CITYSCAPES', 'cell_to_json',
    'kept_taps', 'parse_branch', 'parse_cell'
]
