from .feature_data_preprocessor import FeatureDataPreprocessor

__all__ = ['FeatureDataPreprocessor']
