from .atrous_conv import AtrousConv2d, kept_taps
from .cell_spec import (OPS, PAPER_GRIDS, PAPER_RATES, TOP1_CITYSCAPES, Branch,
                        cell_to_json, parse_branch, parse_cell)
from .bn_reestimation import reestimate_bn_statistics
from .dense_prediction_cell import DensePredictionCell, PyramidPooling
from .dpc_supernet import DPCSupernet, SupernetSpace

__all__ = [
    'AtrousConv2d', 'Branch', 'DPCSupernet', 'DensePredictionCell', 'OPS',
    'PAPER_GRIDS', 'PAPER_RATES', 'PyramidPooling', 'SupernetSpace',
    'TOP1_CITYSCAPES', 'cell_to_json', 'kept_taps', 'parse_branch',
    'parse_cell', 'reestimate_bn_statistics'
]
