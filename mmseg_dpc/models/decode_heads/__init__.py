from .dpc_head import DPCHead
from .dpc_supernet_head import DPCSupernetHead, export_cell_state_dict

__all__ = ['DPCHead', 'DPCSupernetHead', 'export_cell_state_dict']
