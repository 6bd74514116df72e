# Cityscapes trained on 769x769 crops as the paper, and evaluated as TF
# DeepLab's model zoo does: whole 1024x2048 images, no resize, padded to
# 1025x2049 with the mean pixel by the model's data preprocessor
# (`test_cfg=dict(size=(1025, 2049))`), so every stride divides the size
# minus one and align_corners=True resizes line up as in DeepLab.
_base_ = './cityscapes_769x769.py'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
# DeepLab's multi-scale evaluation: scales 0.75 to 2.0 and flips
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True)
             for r in (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')]
        ])
]
val_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
