from .cell_spec import (OPS, PAPER_GRIDS, PAPER_RATES, TOP1_CITYSCAPES, Branch,
                        cell_to_json, parse_branch, parse_cell)
from .dense_prediction_cell import DensePredictionCell, PyramidPooling

__all__ = [
    'Branch', 'DensePredictionCell', 'OPS', 'PAPER_GRIDS', 'PAPER_RATES',
    'PyramidPooling', 'TOP1_CITYSCAPES', 'cell_to_json', 'parse_branch',
    'parse_cell'
]
