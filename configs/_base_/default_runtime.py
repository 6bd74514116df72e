_base_ = 'mmseg::_base_/default_runtime.py'
# Registers DPCHead, the data sets and the hooks when mmseg's own
# tools/train.py or tools/test.py runs one of these configs.
custom_imports = dict(
    imports=['mmseg_dpc.datasets', 'mmseg_dpc.engine', 'mmseg_dpc.models'],
    allow_failed_imports=False)
