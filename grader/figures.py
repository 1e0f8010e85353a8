"""Pictures for the report, drawn in the grader's process from plain data (PNG bytes in a `Figure`,
drawn only when a report shows it).

Matplotlib is used through its object API with the Agg canvas: no pyplot state, no window,
the same bytes for the same data.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from .model import Figure

CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
DPI = 80


def _new(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    figure = MplFigure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def decision_boundary(
    title: str,
    caption: str,
    grid_classes: Any,
    extent: tuple[float, float, float, float],
    X: Any,
    y: Any,
    predicted: Any,
    n_classes: int,
) -> Figure:
    """The classes a model gives to every point of a grid, with the test points on top (× where wrong).

    `X=None` draws the boundary alone (a hidden split's points and labels are not for students).
    """
    return Figure(title, lambda: _boundary_png(title, grid_classes, extent, X, y, predicted, n_classes), caption)


def _boundary_png(title: str, grid_classes: Any, extent: tuple[float, float, float, float], X: Any, y: Any,
                  predicted: Any, n_classes: int) -> bytes:
    from matplotlib.colors import ListedColormap

    colours = ListedColormap(CLASS_COLOURS[:n_classes])
    figure = _new(3.4, 3.4)
    axes = figure.add_subplot()
    if grid_classes is not None:
        steps = int(round(len(grid_classes) ** 0.5))
        image = grid_classes.reshape(steps, steps).numpy()
        axes.imshow(image, origin="lower", extent=extent, cmap=colours, vmin=-0.5, vmax=n_classes - 0.5,
                    alpha=0.3, aspect="auto", interpolation="nearest")
    if X is not None:
        right = (predicted == y).numpy()
        points, labels = X.numpy(), y.numpy()
        axes.scatter(points[right, 0], points[right, 1], c=labels[right], cmap=colours, vmin=-0.5,
                     vmax=n_classes - 0.5, s=8, edgecolors="none")
        axes.scatter(points[~right, 0], points[~right, 1], c="black", marker="x", s=18, linewidths=1)
    axes.set_xlim(extent[0], extent[1])
    axes.set_ylim(extent[2], extent[3])
    axes.set_title(title, fontsize=9)
    axes.set_xticks([])
    axes.set_yticks([])
    return _png(figure)


def confusion_matrix(title: str, caption: str, y: Any, predicted: Any, n_classes: int) -> Figure:
    """Rows: the true class; columns: the predicted class; the count in each cell."""
    return Figure(title, lambda: _confusion_png(title, y, predicted, n_classes), caption)


def _confusion_png(title: str, y: Any, predicted: Any, n_classes: int) -> bytes:
    import numpy as np

    counts = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(counts, (y.numpy(), predicted.numpy()), 1)
    figure = _new(4.2, 3.8)
    axes = figure.add_subplot()
    axes.imshow(counts, cmap="Blues")
    for (row, column), count in np.ndenumerate(counts):
        if count:
            colour = "white" if count > counts.max() / 2 else "black"
            axes.text(column, row, str(count), ha="center", va="center", fontsize=7, color=colour)
    axes.set_xticks(range(n_classes))
    axes.set_yticks(range(n_classes))
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title, fontsize=9)
    return _png(figure)


def image_grid(title: str, caption: str, images: Sequence[Any], labels: Sequence[str], columns: int = 8) -> Figure:
    """Small grey images side by side, each with a label under it (e.g. "7 → 1")."""
    return Figure(title, lambda: _grid_png(title, images, labels, columns), caption)


def _grid_png(title: str, images: Sequence[Any], labels: Sequence[str], columns: int) -> bytes:
    rows = max(1, -(-len(images) // columns))
    figure = _new(1.0 * columns, 1.15 * rows + 0.3)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        axes = figure.add_subplot(rows, columns, i + 1)
        axes.imshow(image.reshape(image.shape[-2], image.shape[-1]).numpy(), cmap="gray_r", vmin=0, vmax=1)
        axes.set_xlabel(label, fontsize=8)
        axes.set_xticks([])
        axes.set_yticks([])
    figure.suptitle(title, fontsize=9)
    return _png(figure)
