"""TF DeepLab checkpoints -> mmseg: DeepLab's own logits reproduced on the
shared fixture, round trips through TensorFlow's saver, wrong checkpoints
refused."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmseg.registry import MODELS

from mmseg_dpc.converters import (ConversionError, convert,
                                  deeplab_variables, read_tf_checkpoint,
                                  write_tf_checkpoint)

from ..conftest import REPO, run_tool

FIXTURE = osp.join(osp.dirname(REPO), 'shared', 'fixtures', 'deeplab',
                   'mobilenetv2-dpc-257')
MOBILENET = f'{REPO}/configs/dpc/dpc_mobilenet-v2-deeplab-d16_8xb2-90k_cityscapes-769x769.py'
XCEPTION = f'{REPO}/configs/dpc/dpc_xception71-deeplab-d16_8xb2-90k_cityscapes-769x769.py'


def build(config, **options):
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    return MODELS.build(cfg.model)


@pytest.mark.skipif(not osp.isdir(FIXTURE), reason=f'no DeepLab fixture at '
                    f'{FIXTURE} (it lies in the project\'s shared folder, '
                    'not in a clone)')
def test_converted_fixture_gives_deeplabs_logits(tmp_path):
    """Google's DeepLab code (MobileNetV2 + top-1 DPC, output stride 16,
    seeded random weights and BatchNorm statistics) made the checkpoint
    and the logits; the converted model must compute the same."""
    dst = tmp_path / 'converted.pth'
    out = run_tool('tools/model_converters/deeplab2mmseg.py', FIXTURE,
                   str(dst)).stdout
    assert '312 variables -> 312 parameters' in out
    # the fixture's 257x257 image as it is (not padded to Cityscapes' size)
    model = build(MOBILENET, **{'model.data_preprocessor.test_cfg': None})
    load_checkpoint(model, str(dst), map_location='cpu', strict=True)
    model.eval()
    image = np.load(osp.join(FIXTURE, 'input.npy'))  # RGB, HWC, uint8
    bgr = torch.from_numpy(image[..., ::-1].copy()).permute(2, 0, 1)
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=[bgr]), training=False)
        feats = model.extract_feat(data['inputs'])
        logits = model.decode_head(feats)
        upsampled = model.encode_decode(
            data['inputs'], [dict(img_shape=image.shape[:2])])
    inter = np.load(osp.join(FIXTURE, 'intermediates.npz'))

    def nhwc(t):
        return t.permute(0, 2, 3, 1).numpy()

    backbone = inter['MobilenetV2__expanded_conv_16__output']
    assert np.abs(nhwc(feats[0]) - backbone).max() < 1e-4
    with torch.no_grad():  # each DPC branch, then the concat projection
        branches = model.decode_head.dpc.branch_outputs(feats[0])
        projected = model.decode_head.dpc(feats[0])
    # (measured up to 7.4e-5 on activations up to 6.3 in size: float32
    # rounding; the bound on intermediates leaves room for thread counts)
    for i, y in enumerate(branches):
        ref = inter[f'meta_architecture__branch{i}_pointwise__Relu']
        assert np.abs(nhwc(y) - ref).max() < 2e-4, f'branch {i}'
    ref = inter['meta_architecture__concat_projection__Relu']
    assert np.abs(nhwc(projected) - ref).max() < 2e-4
    ref = np.load(osp.join(FIXTURE, 'logits.npy'))
    assert ref.shape == (1, 17, 17, 19) and 0.5 < ref.std() < 2
    assert np.abs(nhwc(logits) - ref).max() < 1e-4
    assert (nhwc(logits).argmax(-1) == ref.argmax(-1)).all()
    ref_up = np.load(osp.join(FIXTURE, 'logits_upsampled.npy'))
    assert np.abs(nhwc(upsampled) - ref_up).max() < 1e-4
    # DeepLab's labels, except where its two best logits are closer than
    # the 1e-4 the logits may differ by
    labels = upsampled.argmax(1).numpy()
    ref_labels = np.load(osp.join(FIXTURE, 'predictions.npy'))
    top2 = np.sort(ref_up, axis=-1)[..., -2:]
    near_tie = top2[..., 1] - top2[..., 0] < 1e-4
    assert (labels == ref_labels)[~near_tie].all()
    assert (labels != ref_labels).sum() <= near_tie.sum() < 20


def randomize(model, seed=0):
    """Random weights and BatchNorm statistics (positive variances)."""
    g = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    for key, value in state.items():
        if key.endswith('num_batches_tracked'):
            value.zero_()
        elif key.endswith('running_var'):
            value.copy_(torch.rand(value.shape, generator=g) + 0.5)
        else:
            value.copy_(torch.randn(value.shape, generator=g))
    return state


@pytest.mark.parametrize('config, options', [
    (MOBILENET, {}),
    (XCEPTION, {}),
], ids=['mobilenet-v2+dpc', 'xception71+dpc+decoder'])
def test_round_trip_through_tensorflows_saver(tmp_path, config, options):
    model = build(config, **options)
    state = {k: v.clone() for k, v in randomize(model).items()}
    variables = deeplab_variables(model)
    if config == XCEPTION:  # DeepLab's names, shapes and layouts
        v = variables
        assert v['xception_71/entry_flow/block3/unit_1/xception_module/'
                 'separable_conv2_depthwise/depthwise_weights'].shape == \
            (3, 3, 256, 1)
        assert v['decoder/feature_projection0/weights'].shape == \
            (1, 1, 256, 48)
        assert v['decoder/decoder_conv0_pointwise/weights'].shape == \
            (1, 1, 256 + 48, 256)
        assert v['logits/semantic/biases'].shape == (19, )
    prefix = write_tf_checkpoint(variables, str(tmp_path / 'model.ckpt'))
    back = read_tf_checkpoint(prefix)
    assert sorted(back) == sorted(variables)
    converted, report = convert(back, build(config, **options))
    assert report['skipped'] == []
    assert sorted(converted) == sorted(state)
    for key, value in state.items():
        assert torch.equal(converted[key], value), key


def test_other_architectures_are_refused_by_name(tmp_path):
    mobilenet = build(MOBILENET)
    variables = deeplab_variables(mobilenet)
    with pytest.raises(ConversionError, match=r"not one of this model: .* "
                       r"variables are under \['MobilenetV2', 'logits', "
                       r"'meta_architecture'\]"):
        convert(variables, build(XCEPTION))
    with pytest.raises(ConversionError, match='other shapes.*logits/'
                       'semantic/weights'):
        convert(variables, build(
            MOBILENET, **{'model.decode_head.num_classes': 21}))
    extra = dict(variables, **{'decoder/feature_projection0/weights':
                               np.zeros((1, 1, 24, 48), np.float32)})
    with pytest.raises(ConversionError, match='no place for.*decoder/'):
        convert(extra, mobilenet)
    one_by_one = [dict(op='conv', kernel=1, input=-1)] * 5
    with pytest.raises(ConversionError, match='branch0/weights'):
        convert(variables, build(
            MOBILENET, **{'model.decode_head.arch': one_by_one}))
    # and from the command line, with a TF checkpoint
    prefix = write_tf_checkpoint(variables, str(tmp_path / 'model.ckpt'))
    import subprocess
    import sys
    proc = subprocess.run(
        [sys.executable, 'tools/model_converters/deeplab2mmseg.py', prefix,
         str(tmp_path / 'x.pth'), '--config', XCEPTION], cwd=REPO,
        capture_output=True, text=True)
    assert proc.returncode == 2
    assert 'does not fit' in proc.stderr and 'MobilenetV2' in proc.stderr
    assert not (tmp_path / 'x.pth').exists()


def test_training_state_is_reported_not_converted():
    model = build(MOBILENET)
    variables = deeplab_variables(model)
    variables['global_step'] = np.array(30000)
    variables['logits/semantic/weights/Momentum'] = np.zeros((1, 1, 256, 19))
    _, report = convert(variables, model)
    assert report['skipped'] == ['global_step',
                                 'logits/semantic/weights/Momentum']
    assert len(report['zero_filled']) == 62


def test_deeplab_mobilenet_v2_dilates_as_slim():
    from mmseg_dpc.models.backbones import DeepLabMobileNetV2
    b16 = DeepLabMobileNetV2(output_stride=16)
    assert b16.block_rates()[-2:] == [[1, 2, 2], [2]]
    b8 = DeepLabMobileNetV2(output_stride=8)
    assert b8.block_rates()[3:] == [[1, 2, 2, 2], [2, 2, 2], [2, 4, 4], [4]]
    out = b16(torch.zeros(1, 3, 257, 257))
    assert isinstance(out, tuple) and out[-1].shape == (1, 320, 17, 17)


def test_deeplab_xception_taps_the_decoder_feature_before_its_relu():
    from mmseg_dpc.models.backbones import DeepLabXception71
    b = DeepLabXception71(output_stride=16).eval()
    x = torch.randn(1, 3, 65, 65)
    with torch.no_grad():
        low, last = b(x)
        assert torch.equal(last, b.model.forward_features(x))
        stack = b.model.blocks[2].stack
        h = b.model.blocks[1](b.model.blocks[0](b.model.stem(x)))
        tap = stack.conv2(stack.act2(stack.conv1(stack.act1(h))))
    assert low.shape == (1, 256, 17, 17) and last.shape == (1, 2048, 5, 5)
    assert torch.equal(low, tap) and (low < 0).any()
