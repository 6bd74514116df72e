from .extract import (cache_features, config_source_hash, head_levels,
                      resolve_cache_config)
from .feature_cache import (CacheError, FeatureCache, FeatureCacheWriter,
                            read_manifest)

__all__ = [
    'CacheError', 'FeatureCache', 'FeatureCacheWriter', 'cache_features',
    'config_source_hash', 'head_levels', 'read_manifest',
    'resolve_cache_config'
]
