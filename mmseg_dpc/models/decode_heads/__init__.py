from .dpc_head import DPCHead

__all__ = ['DPCHead']
