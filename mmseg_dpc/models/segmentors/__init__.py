from .cached_feature_segmentor import CachedFeatureSegmentor

__all__ = ['CachedFeatureSegmentor']
