import json

import pytest

from mmseg_dpc.models.utils import (TOP1_CITYSCAPES, Branch, cell_to_json,
                                    parse_cell)

RELEASED_JSON = '''[{"kernel": 3, "rate": [1, 6], "op": "conv", "input": -1},
 {"kernel": 3, "rate": [18, 15], "op": "conv", "input": 0},
 {"kernel": 3, "rate": [6, 3], "op": "conv", "input": 1},
 {"kernel": 3, "rate": [1, 1], "op": "conv", "input": 0},
 {"kernel": 3, "rate": [6, 21], "op": "conv", "input": 0}]'''


def test_released_json_file_loads_as_is(tmp_path):
    path = tmp_path / 'dense_prediction_cell_branch5_top1_cityscapes.json'
    path.write_text(RELEASED_JSON)
    cell = parse_cell(str(path))
    assert cell == parse_cell(TOP1_CITYSCAPES)
    assert cell[1] == Branch('sep_conv3x3', 0, rate=(18, 15))
    assert json.loads(cell_to_json(cell)) == json.loads(RELEASED_JSON)


def test_all_op_kinds_parse():
    cell = parse_cell([
        {'op': 'conv', 'kernel': 1, 'input': -1},
        {'op': 'pyramid_pooling', 'grid_size': [2, 8], 'input': 0},
        {'op': 'conv', 'kernel': 3, 'rate': 12, 'input': 1},
    ])
    assert [b.op for b in cell] == ['conv1x1', 'pyramid_pooling',
                                    'sep_conv3x3']
    assert cell[1].grid == (2, 8) and cell[2].rate == (12, 12)
    assert parse_cell(json.loads(cell_to_json(cell))) == cell


@pytest.mark.parametrize('spec, match', [
    ([], 'empty'),
    ([{'op': 'deconv', 'kernel': 3, 'input': -1}], r"branch 0: field 'op'"),
    ([{'op': 'conv', 'kernel': 3, 'rate': [1, 5], 'input': -1}],
     r"branch 0: field 'rate': 5 is outside the space"),
    ([{'op': 'conv', 'kernel': 1, 'input': -1},
      {'op': 'conv', 'kernel': 1, 'input': 1}],
     r"branch 1: field 'input'"),
    ([{'op': 'conv', 'kernel': 1, 'input': -2}], r"branch 0: field 'input'"),
    ([{'op': 'conv', 'kernel': 1, 'input': -1},
      {'op': 'conv', 'rate': [1, 1], 'input': 0}],
     r"branch 1: field 'kernel': missing"),
    ([{'op': 'conv', 'kernel': 3, 'input': -1}],
     r"branch 0: field 'rate': missing"),
    ([{'op': 'pyramid_pooling', 'input': -1}],
     r"branch 0: field 'grid_size': missing"),
    ([{'op': 'pyramid_pooling', 'grid_size': [3, 1], 'input': -1}],
     r"branch 0: field 'grid_size': 3 is outside"),
    ([{'kernel': 1, 'input': -1}], r"branch 0: field 'op': missing"),
    ([{'op': 'conv', 'kernel': 1}], r"branch 0: field 'input': missing"),
    ([{'op': 'conv', 'kernel': 5, 'input': -1}], r"branch 0: field 'kernel'"),
    ([{'op': 'conv', 'kernel': 1, 'input': -1, 'stride': 2}],
     r"branch 0: field 'stride': unknown"),
    ([{'op': 'conv', 'kernel': 3, 'rate': [1, 2, 3], 'input': -1}],
     r"branch 0: field 'rate': expected"),
    ([{'op': 'conv', 'kernel': 1, 'input': -1}, 'conv'],
     r'branch 1: expected a dict'),
])
def test_bad_specs_name_branch_and_field(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_cell(spec)


def test_bad_json_file_is_named(tmp_path):
    path = tmp_path / 'broken.json'
    path.write_text('[{"op": "conv",')
    with pytest.raises(ValueError, match='broken.json is not valid JSON'):
        parse_cell(str(path))


def test_widened_space_accepts_its_values():
    spec = [{'op': 'conv', 'kernel': 3, 'rate': [24, 2], 'input': -1}]
    with pytest.raises(ValueError):
        parse_cell(spec)
    assert parse_cell(spec, rates=(2, 24))[0].rate == (24, 2)
