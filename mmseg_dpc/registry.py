"""Registries of mmseg-dpc.

Models and data sets register in mmseg's own registries (``DPCHead`` is an
mmseg ``MODELS`` entry), so mmseg configs with ``default_scope='mmseg'`` find
them. Search-space components have no counterpart in mmseg and get their own
registry, built from config dicts like any mm component::

    SEARCH_SPACES.build(dict(type='DPCSearchSpace', num_branches=5))
"""
from mmengine.registry import Registry

SEARCH_SPACES = Registry(
    'search space', scope='mmseg_dpc', locations=['mmseg_dpc.search.space'])
