"""TF DeepLab checkpoint variables <-> mmseg-dpc model parameters.

A model's map is a list of :class:`Tensor` (TF name, state-dict key,
layout), built from the model itself: the backbone (``DeepLabMobileNetV2``:
slim's ``MobilenetV2/...``; ``DeepLabXception71``: ``xception_71/...``), the
DPC (``meta_architecture/branch{i}[_depthwise|_pointwise]``,
``concat_projection``), the DeepLabv3+ decoder (``decoder/
feature_projection0``, ``decoder_conv{0,1}_{depthwise,pointwise}``) and the
classifier (``logits/semantic``, with biases). Layouts are converted
explicitly: convolutions ``[kh, kw, in, out]`` <-> ``[out, in, kh, kw]``,
depthwise ``[kh, kw, C, 1]`` <-> ``[C, 1, kh, kw]``, BatchNorm
gamma / beta / moving mean / moving variance <-> weight / bias /
running_mean / running_var.

Rates and grids are not stored in a checkpoint: a cell of other rates with
the same operations converts without error; the config must name the cell
the checkpoint was trained with.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..models.utils.cell_spec import CONV1X1, PYRAMID_POOLING, SEP_CONV3X3

# TF layout -> torch layout, and back
_TO_TORCH = dict(conv=(3, 2, 0, 1), depthwise=(2, 3, 0, 1), vector=None)
_TO_TF = dict(conv=(2, 3, 1, 0), depthwise=(2, 3, 0, 1), vector=None)
_BN = (('gamma', 'weight'), ('beta', 'bias'), ('moving_mean', 'running_mean'),
       ('moving_variance', 'running_var'))
# training state a checkpoint may hold beside the model
_TRAINING_STATE = ('global_step', '/Momentum', '/ExponentialMovingAverage',
                   '/Adam', '/RMSProp')


class ConversionError(ValueError):
    """The checkpoint is not one of the model the config describes."""


@dataclass(frozen=True)
class Tensor:
    tf: str
    mm: str
    layout: str  # 'conv' | 'depthwise' | 'vector'


def _conv(tf: str, mm: str) -> List[Tensor]:
    return [Tensor(f'{tf}/weights', f'{mm}.weight', 'conv')]


def _bn(tf: str, mm: str) -> List[Tensor]:
    return [Tensor(f'{tf}/BatchNorm/{a}', f'{mm}.{b}', 'vector')
            for a, b in _BN]


def _conv_bn(tf: str, mm: str, conv: str = 'conv', bn: str = 'bn'
             ) -> List[Tensor]:
    return _conv(tf, f'{mm}.{conv}') + _bn(tf, f'{mm}.{bn}')


def _depthwise_bn(tf: str, mm: str, conv: str = 'conv', bn: str = 'bn'
                  ) -> List[Tensor]:
    return [Tensor(f'{tf}/depthwise_weights', f'{mm}.{conv}.weight',
                   'depthwise')] + _bn(tf, f'{mm}.{bn}')


def _separable(tf: str, mm: str) -> List[Tensor]:
    """DeepLab's split separable conv <-> mmcv's
    ``DepthwiseSeparableConvModule``."""
    return (_depthwise_bn(f'{tf}_depthwise', f'{mm}.depthwise_conv') +
            _conv_bn(f'{tf}_pointwise', f'{mm}.pointwise_conv'))


def mobilenet_v2_map(backbone, mm: str = 'backbone') -> List[Tensor]:
    """slim's MobilenetV2 (``expanded_conv``, ``expanded_conv_1``, ...)."""
    out = _conv_bn('MobilenetV2/Conv', f'{mm}.conv1')
    k = 0
    for name in backbone.layers:
        for j, block in enumerate(getattr(backbone, name)):
            tf = 'MobilenetV2/expanded_conv' + (f'_{k}' if k else '')
            convs = [f'{mm}.{name}.{j}.conv.{i}' for i in
                     range(len(block.conv))]
            if len(convs) == 3:
                out += _conv_bn(f'{tf}/expand', convs[0])
            out += _depthwise_bn(f'{tf}/depthwise', convs[-2])
            out += _conv_bn(f'{tf}/project', convs[-1])
            k += 1
    return out


def xception71_map(backbone, mm: str = 'backbone.model') -> List[Tensor]:
    """DeepLab's ``xception_71``: two stem convs, entry flow blocks 1-5,
    middle flow units 1-16, exit flow blocks 1-2, timm's block order."""
    units = ([f'entry_flow/block{b}/unit_1' for b in range(1, 6)] +
             [f'middle_flow/block1/unit_{u}' for u in range(1, 17)] +
             ['exit_flow/block1/unit_1', 'exit_flow/block2/unit_1'])
    blocks = backbone.model.blocks
    if len(blocks) != len(units):
        raise ConversionError(f'Xception-71 has {len(units)} blocks, this '
                              f'backbone {len(blocks)}')
    out = (_conv_bn('xception_71/entry_flow/conv1_1', f'{mm}.stem.0') +
           _conv_bn('xception_71/entry_flow/conv1_2', f'{mm}.stem.1'))
    for i, (unit, block) in enumerate(zip(units, blocks)):
        tf = f'xception_71/{unit}/xception_module'
        for s in (1, 2, 3):
            sep = f'{mm}.blocks.{i}.stack.conv{s}'
            out += _depthwise_bn(f'{tf}/separable_conv{s}_depthwise', sep,
                                 'conv_dw', 'bn_dw')
            out += _conv_bn(f'{tf}/separable_conv{s}_pointwise', sep,
                            'conv_pw', 'bn_pw')
        if block.shortcut is not None:
            out += _conv_bn(f'{tf}/shortcut', f'{mm}.blocks.{i}.shortcut')
    return out


def dpc_map(head, mm: str = 'decode_head',
            scope: str = 'meta_architecture') -> List[Tensor]:
    out = []
    for i, branch in enumerate(head.arch):
        tf, m = f'{scope}/branch{i}', f'{mm}.dpc.branches.{i}'
        if branch.op == SEP_CONV3X3:
            out += _separable(tf, m)
        elif branch.op == CONV1X1:
            out += _conv_bn(tf, m)
        elif branch.op == PYRAMID_POOLING:
            out += _conv_bn(tf, f'{m}.conv')
        else:
            raise ConversionError(f'branch {i}: no DeepLab layout for '
                                  f'{branch.op!r}')
    return out + _conv_bn(f'{scope}/concat_projection', f'{mm}.dpc.project')


def decoder_map(mm: str = 'decode_head') -> List[Tensor]:
    return (_conv_bn('decoder/feature_projection0', f'{mm}.c1_bottleneck') +
            _separable('decoder/decoder_conv0', f'{mm}.sep_bottleneck.0') +
            _separable('decoder/decoder_conv1', f'{mm}.sep_bottleneck.1'))


def model_map(model: nn.Module) -> List[Tensor]:
    """The map of an ``EncoderDecoder`` with a ``DeepLabMobileNetV2`` or
    ``DeepLabXception71`` backbone and a ``DPCHead``."""
    from ..models.backbones import DeepLabMobileNetV2, DeepLabXception71
    from ..models.decode_heads import DPCHead
    backbone, head = model.backbone, model.decode_head
    if isinstance(backbone, DeepLabMobileNetV2):
        out = mobilenet_v2_map(backbone)
    elif isinstance(backbone, DeepLabXception71):
        out = xception71_map(backbone)
    else:
        raise ConversionError(
            f'no DeepLab layout for a {type(backbone).__name__} backbone: '
            'use DeepLabMobileNetV2 or DeepLabXception71 (see '
            'configs/dpc/*deeplab*)')
    if not isinstance(head, DPCHead):
        raise ConversionError(f'no DeepLab layout for {type(head).__name__}')
    out += dpc_map(head)
    if head.c1_bottleneck is not None:
        out += decoder_map()
    out += [Tensor('logits/semantic/weights', 'decode_head.conv_seg.weight',
                   'conv'),
            Tensor('logits/semantic/biases', 'decode_head.conv_seg.bias',
                   'vector')]
    if getattr(model, 'auxiliary_head', None) is not None:
        raise ConversionError('DeepLab models have no auxiliary head: set '
                              'model.auxiliary_head=None')
    return out


def _to_torch(value: np.ndarray, layout: str) -> torch.Tensor:
    axes = _TO_TORCH[layout]
    value = value if axes is None else value.transpose(axes)
    return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))


def convert(variables: Dict[str, np.ndarray], model: nn.Module
            ) -> Tuple[Dict[str, torch.Tensor], Dict[str, List[str]]]:
    """The state dict of ``model`` filled from DeepLab ``variables``, and a
    report: ``skipped`` (the checkpoint's training state, e.g. momentum),
    ``zero_filled`` (BatchNorm's ``num_batches_tracked``, which DeepLab
    does not keep). Raises :class:`ConversionError` naming what does not
    match: variables the model needs that are missing or of another shape,
    and variables of the checkpoint that the model has no place for."""
    target = model.state_dict()
    mapping = model_map(model)
    missing = [t.tf for t in mapping if t.tf not in variables]
    if missing:
        scopes = sorted({n.split('/')[0] for n in variables})
        raise ConversionError(
            f'the checkpoint is not one of this model: {len(missing)} of '
            f'{len(mapping)} variables missing, e.g. {missing[:3]}; its '
            f'variables are under {scopes}')
    state: Dict[str, torch.Tensor] = {}
    wrong = []
    for t in mapping:
        value = _to_torch(variables[t.tf], t.layout)
        if tuple(value.shape) != tuple(target[t.mm].shape):
            wrong.append(f'{t.tf} {list(variables[t.tf].shape)} -> {t.mm} '
                         f'{list(target[t.mm].shape)}')
        state[t.mm] = value
    if wrong:
        raise ConversionError(f'{len(wrong)} variables have other shapes '
                              f'than the model: {wrong[:5]}')
    used = {t.tf for t in mapping}
    skipped = sorted(n for n in variables if n not in used
                     and any(k in n for k in _TRAINING_STATE))
    extra = sorted(set(variables) - used - set(skipped))
    if extra:
        raise ConversionError(
            f'the checkpoint holds {len(extra)} variables this model has no '
            f'place for, e.g. {extra[:5]}: it is of another architecture '
            '(decoder, cell or backbone) than the config')
    zero_filled = []
    for key, value in target.items():
        if key not in state:
            if not key.endswith('num_batches_tracked'):
                raise ConversionError(f'model parameter {key} has no '
                                      'DeepLab variable')
            state[key] = torch.zeros_like(value)
            zero_filled.append(key)
    return state, dict(skipped=skipped, zero_filled=zero_filled)


def deeplab_variables(model: nn.Module) -> Dict[str, np.ndarray]:
    """``model``'s weights under DeepLab's names and layouts (the inverse
    of :func:`convert`)."""
    state = model.state_dict()
    out = {}
    for t in model_map(model):
        value = state[t.mm].detach().cpu().numpy()
        axes = _TO_TF[t.layout]
        out[t.tf] = np.ascontiguousarray(
            value if axes is None else value.transpose(axes))
    return out
