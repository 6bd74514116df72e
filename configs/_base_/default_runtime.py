_base_ = 'mmseg::_base_/default_runtime.py'
# Registers DPCHead, the data sets and the search space when mmseg's own
# tools/train.py or tools/test.py runs one of these configs.
custom_imports = dict(imports=['mmseg_dpc'], allow_failed_imports=False)
