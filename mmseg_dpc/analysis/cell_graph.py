"""Draw a cell as its DAG, like the paper's figures of the best and worst
cells: the backbone feature F on the left, each branch placed one column
right of its input, all branches joined in the concatenation."""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

from ..models.utils.cell_spec import CONV1X1, SEP_CONV3X3, Branch

COLORS = {CONV1X1: '#9ecae1', SEP_CONV3X3: '#fdae6b',
          'pyramid_pooling': '#a1d99b'}


def _label(b: Branch) -> str:
    if b.op == CONV1X1:
        return '1x1 conv'
    if b.op == SEP_CONV3X3:
        return f'3x3 sep\nrate {b.rate[0]}x{b.rate[1]}'
    return f'avg pool\n{b.grid[0]}x{b.grid[1]} grid'


def layout(cell: Sequence[Branch]) -> Dict[int, Tuple[float, float]]:
    """Node positions: ``-1`` is F, ``len(cell)`` the concatenation."""
    depth = {-1: 0}
    children: Dict[int, list] = {}
    for i, b in enumerate(cell):
        depth[i] = depth[b.input] + 1
        children.setdefault(b.input, []).append(i)
    rows: list = []  # tree pre-order: one row per branch, subtrees together

    def visit(node: int) -> None:
        for c in children.get(node, []):
            rows.append(c)
            visit(c)

    visit(-1)
    mid = (len(rows) - 1) / 2
    pos = {-1: (0.0, 0.0)}
    for r, i in enumerate(rows):
        pos[i] = (float(depth[i]), mid - r)
    pos[len(cell)] = (float(max(depth.values()) + 1), 0.0)
    return pos


def draw_cell(cell: Sequence[Branch], path: str,
              title: Optional[str] = None) -> str:
    """Save the DAG of ``cell`` as a PNG at ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    pos = layout(cell)
    concat = len(cell)
    width = 2.2 * (pos[concat][0] + 1)
    height = 1.2 * (max(abs(y) for _, y in pos.values()) * 2 + 2)
    fig, ax = plt.subplots(figsize=(max(width, 5), max(height, 3)))
    boxes = {-1: ('F\n(backbone)', '#d9d9d9'),
             concat: ('concat\n+ 1x1', '#bcbddc')}
    for i, b in enumerate(cell):
        boxes[i] = (f'[{i}] {_label(b)}', COLORS[b.op])
    line = dict(color='#555555', lw=1.2)
    for i, b in enumerate(cell):  # input -> branch: between two columns
        (x0, y0), (x1, y1) = pos[b.input], pos[i]
        ax.annotate('', xy=(x1 - 0.32, y1), xytext=(x0 + 0.32, y0),
                    arrowprops=dict(arrowstyle='->', shrinkA=0, shrinkB=0,
                                    **line))
    # every branch into the concatenation along its own row to a bus left
    # of it (one row per branch: no line crosses another branch's box)
    bus = pos[concat][0] - 0.5
    ys = [pos[i][1] for i in range(len(cell))] + [0.0]
    for i in range(len(cell)):
        x, y = pos[i]
        ax.plot([x + 0.32, bus], [y, y], **line)
    ax.plot([bus, bus], [min(ys), max(ys)], **line)
    ax.annotate('', xy=(pos[concat][0] - 0.32, 0.0), xytext=(bus, 0.0),
                arrowprops=dict(arrowstyle='->', shrinkA=0, shrinkB=0,
                                **line))
    for node, (text, color) in boxes.items():
        x, y = pos[node]
        ax.add_patch(FancyBboxPatch((x - 0.32, y - 0.3), 0.64, 0.6,
                                    boxstyle='round,pad=0.02', fc=color,
                                    ec='#333333'))
        ax.text(x, y, text, ha='center', va='center', fontsize=8)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.axis('off')
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
