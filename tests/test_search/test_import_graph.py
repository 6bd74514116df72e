"""The search package's modules import one another one way only."""
import ast
import os
import os.path as osp

import mmseg_dpc.search

PACKAGE = 'mmseg_dpc.search'


def import_graph():
    """Module -> the search modules it imports (anywhere in it, lazy
    imports inside functions included)."""
    root = osp.dirname(mmseg_dpc.search.__file__)
    modules = {osp.splitext(f)[0] for f in os.listdir(root)
               if f.endswith('.py') and f != '__init__.py'}
    graph = {}
    for name in modules:
        with open(osp.join(root, f'{name}.py')) as f:
            tree = ast.parse(f.read())
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module:
                    target = node.module.split('.')[0]
                elif (node.level == 0 and node.module
                      and node.module.startswith(PACKAGE + '.')):
                    target = node.module[len(PACKAGE) + 1:].split('.')[0]
                else:
                    continue
                if target in modules:
                    deps.add(target)
        graph[name] = deps - {name}
    return graph


def find_cycle(graph):
    state = {}

    def visit(node, path):
        state[node] = 'open'
        for dep in sorted(graph[node]):
            if state.get(dep) == 'open':
                return path + [node, dep]
            if dep not in state:
                cycle = visit(dep, path + [node])
                if cycle:
                    return cycle
        state[node] = 'done'
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def test_no_module_of_the_search_imports_another_in_a_circle():
    graph = import_graph()
    assert {'driver', 'ledger', 'runner', 'record', 'strategies',
            'processes', 'launchers', 'trial_process'} <= set(graph)
    assert find_cycle(graph) is None, ' -> '.join(find_cycle(graph))


def test_the_cycle_finder_finds_one():
    assert find_cycle(dict(a={'b'}, b={'c'}, c={'a'})) == ['a', 'b', 'c',
                                                           'a']


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
