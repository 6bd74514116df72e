"""Third-party warnings and mmengine's messages go to a log file, not among
a tool's own lines; errors still reach the console."""
import logging
import warnings

from mmengine.logging import MMLogger, print_log

from mmseg_dpc.utils.third_party_log import third_party_log

from ..conftest import DEMO_CONFIG, run_tool


def test_messages_go_to_the_file_and_are_counted(tmp_path, capsys):
    path = tmp_path / 'logs' / 'third_party.log'
    path.parent.mkdir()
    # a logger of this test's own, whose console is the captured one (an
    # earlier test's logger may write to another stream)
    MMLogger.get_instance(f'third_party_test_{id(path)}', log_level='INFO')
    with third_party_log(str(path)) as log:
        warnings.warn('an old API', DeprecationWarning)
        print_log('Unsupported operator aten::x encountered 3 time(s)',
                  'current', logging.WARNING)
        print_log('parameter report', 'current', logging.INFO)
        print_log('it broke', 'current', logging.ERROR)
    text = path.read_text()
    assert 'an old API' in text and 'aten::x' in text
    assert 'parameter report' in text
    assert log.count == 2  # the warnings, not the information
    assert log.summary() == ('2 third-party warning(s) (mmengine, mmseg, '
                             f'torch) are in {path}')
    out = capsys.readouterr()
    console = out.out + out.err
    assert 'it broke' in console
    assert 'aten::x' not in console and 'an old API' not in console
    print_log('after the block', 'current', logging.WARNING)
    out = capsys.readouterr()
    assert 'after the block' in out.out + out.err  # restored


def test_cache_features_prints_its_own_lines_only(tmp_path, shapes_root):
    cache = tmp_path / 'cache'
    proc = run_tool('tools/cache_features.py', DEMO_CONFIG, '--out',
                    str(cache), '--levels', '3', '--cfg-options',
                    f'train_dataloader.dataset.data_root={shapes_root}',
                    f'val_dataloader.dataset.data_root={shapes_root}')
    lines = (proc.stdout + proc.stderr).splitlines()
    assert lines and all(line.startswith('[') for line in lines), lines
    assert not any('init_weights' in line or 'Warning' in line
                   for line in lines)
    assert 'init_weights' in (cache / 'cache_features.log').read_text()


def test_the_block_creates_no_folder(tmp_path):
    """A tool that refuses its settings leaves no work dir: the messages
    then stay in a temporary file, which the summary names."""
    path = tmp_path / 'work_dir' / 'third_party.log'
    with third_party_log(str(path)) as log:
        warnings.warn('early', UserWarning)
    assert not path.parent.exists()
    assert log.count == 1 and log.path != str(path)
    with open(log.path) as f:
        assert 'early' in f.read()
