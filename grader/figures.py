"""Pictures for the report, drawn in the grader's process from plain data (PNG bytes in a `Figure`,
drawn only when a report shows it).

Decision boundaries (a dozen per toy2d report) are drawn with numpy alone; pictures with text
(confusion matrices, labelled image grids) with matplotlib, through its object API with the Agg
canvas: no pyplot state, no window. Either way, the same bytes for the same data.
"""

from __future__ import annotations

import io
import struct
import zlib
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
    return Figure(title, lambda: _boundary_png(grid_classes, extent, X, y, predicted, n_classes), caption)


def _boundary_png(grid_classes: Any, extent: tuple[float, float, float, float], X: Any, y: Any, predicted: Any,
                  n_classes: int) -> bytes:
    """Drawn pixel by pixel with numpy (no text in it: the report's caption names it): the grid's
    classes pale, each test point a dot of its true class, a black × where the model is wrong."""
    import numpy as np

    palette = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in CLASS_COLOURS[:n_classes]], dtype=float)
    image = np.full((BOUNDARY_PIXELS, BOUNDARY_PIXELS, 3), 255.0)
    if grid_classes is not None:
        steps = int(round(len(grid_classes) ** 0.5))
        cells = np.clip(grid_classes.reshape(steps, steps).numpy(), 0, n_classes - 1)[::-1]  # row 0: the top
        index = np.arange(BOUNDARY_PIXELS) * steps // BOUNDARY_PIXELS
        image = 255 * (1 - REGION_ALPHA) + REGION_ALPHA * palette[cells[np.ix_(index, index)]]
    if X is not None:
        x0, x1, y0, y1 = extent
        points = X.numpy()
        columns = np.round((points[:, 0] - x0) / (x1 - x0) * (BOUNDARY_PIXELS - 1)).astype(int)
        rows = np.round((y1 - points[:, 1]) / (y1 - y0) * (BOUNDARY_PIXELS - 1)).astype(int)
        right = (predicted == y).numpy()
        labels = np.clip(y.numpy(), 0, n_classes - 1)
        _stamp(image, rows[right], columns[right], _DOT, palette[labels[right]])
        _stamp(image, rows[~right], columns[~right], _CROSS, np.zeros((int((~right).sum()), 3)))
    image[[0, -1], :] = image[:, [0, -1]] = FRAME
    return png_bytes(np.round(image).astype(np.uint8))


BOUNDARY_PIXELS = 256
REGION_ALPHA = 0.3
FRAME = 136  # grey
_DOT = [(r, c) for r in range(-2, 3) for c in range(-2, 3) if r * r + c * c <= 5]
_CROSS = [(d + t, s * d) for d in range(-3, 4) for s in (1, -1) for t in (0, 1)]


def _stamp(image: Any, rows: Any, columns: Any, shape: list[tuple[int, int]], colours: Any) -> None:
    """Paint `shape` (pixel offsets) in `colours` (one per point) at each point, clipped to the image."""
    size = image.shape[0]
    for dr, dc in shape:
        r, c = rows + dr, columns + dc
        inside = (r >= 0) & (r < size) & (c >= 0) & (c < size)
        image[r[inside], c[inside]] = colours[inside]


def png_bytes(rgb: Any) -> bytes:
    """An RGB image (height × width × 3, uint8) as a PNG file: the same bytes for the same pixels."""
    height, width, _ = rgb.shape
    rows = b"".join(b"\0" + row.tobytes() for row in rgb)  # filter type 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, truecolour, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")


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
