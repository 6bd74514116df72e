from .deeplab_mobilenet_v2 import DeepLabMobileNetV2
from .deeplab_xception import DeepLabXception71

__all__ = ['DeepLabMobileNetV2', 'DeepLabXception71']
