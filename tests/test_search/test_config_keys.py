"""A search config key that nothing reads is an error naming the closest
known key, unless a _base_ search config defines it."""
import pytest
from mmengine.config import Config

from mmseg_dpc.search.config_keys import check_known_keys, unknown_keys

KNOWN = ('num_trials', 'strategy', 'rerank', 'proxy_config')


def test_a_typo_names_the_key_it_meant(tmp_path):
    (tmp_path / 'base.py').write_text(
        'num_trials = 16\nstrategy = dict(type="random")\n'
        'my_iters = 10\n')  # a variable of the base's own
    (tmp_path / 'mine.py').write_text(
        "_base_ = ['./base.py']\nnum_trails = 3\nmy_iters = 20\n"
        'zzz = 1\n')
    cfg = Config.fromfile(str(tmp_path / 'mine.py'))
    assert unknown_keys(cfg, KNOWN) == [
        "'num_trails' (did you mean 'num_trials'?)", "'zzz'"]
    with pytest.raises(ValueError, match=r"unknown search config key\(s\) "
                       r"in .*mine.py: 'num_trails' \(did you mean "
                       r"'num_trials'\?\), 'zzz'; the search reads none"):
        check_known_keys(cfg, KNOWN)
    (tmp_path / 'mine.py').write_text(
        "_base_ = ['./base.py']\nnum_trials = 3\nmy_iters = 20\n")
    check_known_keys(Config.fromfile(str(tmp_path / 'mine.py')), KNOWN)


def test_the_demo_search_config_as_a_base(tmp_path):
    """The issue's case: a config inheriting the demo's search config,
    ``num_trails`` for ``num_trials``; what the demo's bases define (its
    verdict, rerank, ...) is allowed even where ``KNOWN`` lacks it."""
    from mmseg_dpc.utils.config import shipped_config
    demo = shipped_config(
        'search/dpc-search_random-16_synthetic-shapes-192x192.py')
    (tmp_path / 'mine.py').write_text(
        f"_base_ = [{demo!r}]\nnum_trails = 3\n")
    cfg = Config.fromfile(str(tmp_path / 'mine.py'))
    assert 'verdict' in cfg and 'verdict' not in KNOWN
    assert unknown_keys(cfg, KNOWN) == [
        "'num_trails' (did you mean 'num_trials'?)"]


def test_the_search_refuses_a_typo_before_anything_exists(
        tmp_path, feature_cache, shapes_root):
    """The issue's probe: ``num_trails = 3`` ran the default trials without
    a word; now the search names it and starts nothing."""
    import subprocess
    import sys

    from ..conftest import REPO
    from .test_search_tool import search_config
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trails=3)
    wd = tmp_path / 'work'
    proc = subprocess.run([sys.executable, 'tools/search.py', cfg,
                           '--work-dir', str(wd)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "'num_trails' (did you mean 'num_trials'?)" in proc.stderr
    assert not wd.exists()
