# Cityscapes, 769x769 crops as the paper (mmseg's pipeline).
_base_ = 'mmseg::_base_/datasets/cityscapes_769x769.py'
