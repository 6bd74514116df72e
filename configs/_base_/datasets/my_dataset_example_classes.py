# The classes of my_dataset_example.py: what a model on that data set
# predicts. In a file of their own because the proxy config inherits them
# too (its data is the feature cache, not the images), so that
# `num_classes` reaches the DPC, ASPP and proxy heads from this one place.
# A data set class that declares its own METAINFO needs only `num_classes`
# here (docs/en/user_guides/2_search_your_dataset.md).
metainfo = dict(
    classes=('background', 'table', 'plate', 'ball', 'box'),
    palette=[[0, 0, 0], [140, 90, 40], [230, 230, 230], [220, 40, 40],
             [40, 80, 220]])
num_classes = len(metainfo['classes'])
