from .extract import (backbone_stride, cache_features, cache_manifests,
                      cache_pipeline,
                      check_proxy_cache, checkpoint_digest,
                      config_source_hash, expect_cache_source,
                      expected_cache_source, head_levels,
                      resolve_cache_config)
from .storage import (CacheError, FeatureCache, FeatureCacheWriter,
                      read_manifest)

__all__ = [
    'CacheError', 'FeatureCache', 'FeatureCacheWriter', 'backbone_stride',
    'cache_features', 'cache_manifests', 'cache_pipeline', 'check_proxy_cache',
    'checkpoint_digest',
    'config_source_hash', 'expect_cache_source', 'expected_cache_source',
    'head_levels', 'read_manifest', 'resolve_cache_config'
]
