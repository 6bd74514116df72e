"""The package's modules import one another one way only: each subpackage
sits in a declared layer and imports only from its own layer or lower ones,
and no modules import one another in a circle (lazy imports inside
functions count too)."""
import ast
import os
import os.path as osp
from typing import Dict, List, Optional, Set

import mmseg_dpc

PACKAGE = 'mmseg_dpc'
# bottom to top; a module may import its own layer and those below it
LAYERS = [
    {'version', 'registry', 'utils'},
    {'models'},
    {'feature_cache'},
    {'datasets'},
    {'engine'},
    {'search'},
    {'analysis', 'converters'},
    {'tools', ''},  # '': the package itself, a facade for the tools
]


def _modules(root: str) -> Dict[str, str]:
    """Module name -> file, for every module of the package."""
    found = {}
    for folder, _, files in os.walk(root):
        for f in files:
            if f.endswith('.py'):
                path = osp.join(folder, f)
                rel = osp.relpath(path, osp.dirname(root))[:-3]
                name = rel.replace(os.sep, '.')
                found[name[:-len('.__init__')] if name.endswith(
                    '.__init__') else name] = path
    return found


def import_graph(package: str = PACKAGE) -> Dict[str, Set[str]]:
    """Module -> the package's modules it imports (anywhere in it)."""
    root = osp.dirname(mmseg_dpc.__file__)
    modules = _modules(root)
    graph = {}
    for name, path in modules.items():
        is_package = path.endswith('__init__.py')
        with open(path) as f:
            tree = ast.parse(f.read())
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split('.')[:None if is_package else -1]
                    base = base[:len(base) - node.level + 1]
                    target = '.'.join(base + ([node.module]
                                              if node.module else []))
                else:
                    target = node.module or ''
                named = {f'{target}.{a.name}' for a in node.names} & set(
                    modules)  # ``from pkg import module``: that module
                deps.update(named or {target})
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d in modules} - {name}
    return graph


def layer_of(module: str) -> int:
    parts = module.split('.')
    sub = parts[1] if len(parts) > 1 else ''
    for i, layer in enumerate(LAYERS):
        if sub in layer:
            return i
    raise AssertionError(f'{module}: its subpackage {sub!r} is in no layer '
                         'of LAYERS')


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
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


def test_every_subpackage_has_a_layer():
    subpackages = {m.split('.')[1] for m in import_graph() if '.' in m}
    assert {'models', 'feature_cache', 'engine', 'search', 'analysis',
            'tools', 'utils'} <= subpackages
    for module in import_graph():
        layer_of(module)


def test_imports_point_down_the_layers():
    upward = sorted(f'{m} -> {d}' for m, deps in import_graph().items()
                    for d in deps if layer_of(d) > layer_of(m))
    assert not upward, 'imports up the layers:\n' + '\n'.join(upward)


def test_no_modules_import_one_another_in_a_circle():
    graph = import_graph()
    assert 'mmseg_dpc.search.runner' in graph
    cycle = find_cycle(graph)
    assert cycle is None, ' -> '.join(cycle)


def test_the_checks_find_what_they_look_for():
    assert find_cycle(dict(a={'b'}, b={'c'}, c={'a'})) == ['a', 'b', 'c',
                                                           'a']
    assert layer_of('mmseg_dpc.engine.hooks') > layer_of(
        'mmseg_dpc.models.utils')
    graph = import_graph()
    # a relative import resolves to the module it names
    assert 'mmseg_dpc.search.record' in graph['mmseg_dpc.search.runner']
    assert 'mmseg_dpc.models' in graph['mmseg_dpc.search.trial_process']
