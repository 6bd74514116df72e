from .architecture import Architecture
from .cost import Cost, cell_cost, head_cost
from .optuna_adapter import OptunaSpaceAdapter
from .space import DPCSearchSpace

__all__ = [
    'Architecture', 'Cost', 'DPCSearchSpace', 'OptunaSpaceAdapter',
    'cell_cost', 'head_cost'
]
