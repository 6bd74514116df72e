from .cached_features import CachedFeatureDataset
from .pascal_person_part import PascalPersonPartDataset
from .synthetic_shapes import (SyntheticShapesDataset,
                               generate_synthetic_shapes)

__all__ = [
    'CachedFeatureDataset', 'PascalPersonPartDataset',
    'SyntheticShapesDataset', 'generate_synthetic_shapes'
]
