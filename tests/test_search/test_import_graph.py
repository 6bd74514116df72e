"""The search package's modules import one another one way only."""
import os
import os.path as osp

import mmseg_dpc.search

from ..test_import_graph import find_cycle
from ..test_import_graph import import_graph as package_import_graph

PACKAGE = 'mmseg_dpc.search'


def import_graph():
    """Search module -> the search modules it imports (anywhere in it, lazy
    imports inside functions included): the package's graph
    (:mod:`tests.test_import_graph`) restricted to the search."""
    prefix = PACKAGE + '.'
    return {m[len(prefix):]: {d[len(prefix):] for d in deps
                              if d.startswith(prefix)}
            for m, deps in package_import_graph().items()
            if m.startswith(prefix)}


def test_no_module_of_the_search_imports_another_in_a_circle():
    graph = import_graph()
    assert {'driver', 'ledger', 'runner', 'record', 'strategies',
            'processes', 'launchers', 'trial_process'} <= set(graph)
    assert find_cycle(graph) is None, ' -> '.join(find_cycle(graph))


def test_process_plumbing_is_a_leaf():
    graph = import_graph()
    assert graph['processes'] == set()
    assert 'launchers' not in graph['trial_process']


def test_optuna_private_api_only_in_the_ledger():
    """``_trial_id``, ``_study_id``, ``_storage``, ``_get_*`` of Optuna
    objects appear in ledger.py only."""
    root = osp.dirname(mmseg_dpc.search.__file__)
    private = ('._trial_id', '._study_id', '._storage', '._get_trials',
               '._get_stale_trial_ids', '._backend')
    for f in sorted(os.listdir(root)):
        if f.endswith('.py') and f != 'ledger.py':
            with open(osp.join(root, f)) as fh:
                text = fh.read()
            used = [p for p in private if p in text]
            assert not used, f'{f} uses Optuna private API {used}'
