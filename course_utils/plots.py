"""Figures shared by the notebooks: grids of numbers, images, masks, boxes and training curves.

Every function draws into a new figure (or the ``ax`` it is given) and returns the figure or
axes, so a notebook cell shows it and a test can inspect it. Only matplotlib is imported here.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors, patches, ticker

# 11 colours for background + digit classes 0..9, distinguishable on a projector.
SEGMENTATION_COLOURS = np.array(
    [
        [0.00, 0.00, 0.00],
        [0.90, 0.10, 0.29],
        [0.24, 0.71, 0.29],
        [1.00, 0.88, 0.10],
        [0.26, 0.39, 0.85],
        [0.96, 0.51, 0.19],
        [0.57, 0.12, 0.71],
        [0.27, 0.94, 0.94],
        [0.94, 0.20, 0.90],
        [0.74, 0.96, 0.05],
        [0.98, 0.75, 0.83],
    ]
)


def _axes_grid(count, columns=None, size=2.2):
    """A figure with ``count`` axes laid out in rows of ``columns``, axis ticks hidden."""
    columns = min(count, columns or count)
    rows = int(np.ceil(count / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[count:]:
        ax.set_visible(False)
    return figure, axes.ravel()[:count]


def show_matrix(
    matrix,
    ax=None,
    title=None,
    annotate=True,
    cmap="Blues",
    fmt="{:g}",
    highlight=None,
    vmin=None,
    vmax=None,
):
    """Draw a 2-D array as a grid of cells with its numbers written in.

    ``highlight`` is an optional boolean mask of cells to hatch (padding, for example).
    """
    matrix = np.asarray(matrix, dtype=float)
    if ax is None:
        height, width = matrix.shape
        _, ax = plt.subplots(figsize=(max(1.5, 0.45 * width + 0.6), max(1.5, 0.45 * height + 0.6)))
    ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    if highlight is not None:
        for row, col in zip(*np.nonzero(highlight)):
            ax.add_patch(
                patches.Rectangle(
                    (col - 0.5, row - 0.5),
                    1,
                    1,
                    fill=False,
                    hatch="///",
                    edgecolor="0.6",
                    linewidth=0,
                )
            )
    if annotate and matrix.size <= 400:
        # Light text on dark cells: where the value sits high in the colour scale actually used.
        low = np.nanmin(matrix) if vmin is None else vmin
        high = np.nanmax(matrix) if vmax is None else vmax
        span = (high - low) or 1.0
        for (row, col), value in np.ndenumerate(matrix):
            dark = (value - low) / span > 0.6
            ax.text(
                col,
                row,
                fmt.format(value),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    # grid lines between cells
    ax.set_xticks(np.arange(-0.5, matrix.shape[1], 1), minor=True)
    ax.set_yticks(np.arange(-0.5, matrix.shape[0], 1), minor=True)
    ax.grid(which="minor", color="0.75", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def show_conv_grids(x, kernel, output, padding=(0, 0, 0, 0), titles=None, operator="*"):
    """Input (with its zero padding hatched), kernel and output side by side, numbers written in.

    ``padding`` is ``(top, bottom, left, right)`` zeros drawn around ``x``.
    """
    top, bottom, left, right = padding
    x = np.asarray(x, dtype=float)
    padded = np.pad(x, ((top, bottom), (left, right)))
    is_padding = np.ones_like(padded, dtype=bool)
    is_padding[top : top + x.shape[0], left : left + x.shape[1]] = False
    titles = titles or ("input" + (" (padded)" if any(padding) else ""), "kernel", "output")
    widths = [padded.shape[1], np.shape(kernel)[1], np.shape(output)[1]]
    figure, axes = plt.subplots(
        1,
        3,
        figsize=(0.5 * sum(widths) + 2.5, 0.5 * max(padded.shape[0], np.shape(output)[0]) + 1.0),
        gridspec_kw={"width_ratios": widths},
    )
    show_matrix(padded, axes[0], titles[0], highlight=is_padding)
    show_matrix(kernel, axes[1], titles[1], cmap="Oranges")
    show_matrix(output, axes[2], titles[2], cmap="Greens")
    figure.text(
        0.5 * (axes[0].get_position().x1 + axes[1].get_position().x0),
        0.5,
        operator,
        ha="center",
        va="center",
        fontsize=16,
    )
    figure.text(
        0.5 * (axes[1].get_position().x1 + axes[2].get_position().x0),
        0.5,
        "=",
        ha="center",
        va="center",
        fontsize=16,
    )
    return figure


def show_images(images, titles=None, columns=None, cmap="gray", size=2.2, vmin=None, vmax=None):
    """A grid of images (2-D grey or HxWx3 colour), each with an optional title."""
    images = [np.squeeze(np.asarray(image)) for image in images]
    figure, axes = _axes_grid(len(images), columns, size)
    for index, (ax, image) in enumerate(zip(axes, images)):
        ax.imshow(image, cmap=cmap if image.ndim == 2 else None, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(titles[index], fontsize=9)
    figure.tight_layout()
    return figure


def mask_to_rgb(mask, num_classes=None):
    """Colour a class-index mask with :data:`SEGMENTATION_COLOURS` (background black)."""
    mask = np.asarray(mask, dtype=int)
    palette = SEGMENTATION_COLOURS
    if num_classes is not None and num_classes > len(palette):
        extra = plt.get_cmap("tab20")(np.linspace(0, 1, num_classes - len(palette)))[:, :3]
        palette = np.concatenate([palette, extra])
    return palette[np.clip(mask, 0, len(palette) - 1)]


def overlay_mask(image, mask, alpha=0.55):
    """Blend a coloured class mask over a grey or colour image; background stays as it is."""
    image = np.squeeze(np.asarray(image, dtype=float))
    if image.max() > 1.0:
        image = image / 255.0
    rgb = np.stack([image] * 3, axis=-1) if image.ndim == 2 else image
    mask = np.asarray(mask, dtype=int)
    coloured = mask_to_rgb(mask)
    blend = np.where((mask > 0)[..., None], (1 - alpha) * rgb + alpha * coloured, rgb)
    return np.clip(blend, 0.0, 1.0)


def draw_boxes(ax, boxes, labels=None, scores=None, colour="yellow", class_names=None):
    """Draw ``(x_min, y_min, x_max, y_max)`` boxes on ``ax``, labelled with class and score."""
    for index, box in enumerate(np.asarray(boxes, dtype=float).reshape(-1, 4)):
        x_min, y_min, x_max, y_max = box
        # Boxes hold inclusive pixel coordinates and pixel centres sit at integers, so the
        # edges lie half a pixel outside and a box spans x_max - x_min + 1 pixels.
        ax.add_patch(
            patches.Rectangle(
                (x_min - 0.5, y_min - 0.5),
                x_max - x_min + 1,
                y_max - y_min + 1,
                fill=False,
                edgecolor=colour,
                linewidth=1.5,
            )
        )
        text = []
        if labels is not None:
            label = int(labels[index])
            text.append(class_names[label] if class_names else str(label))
        if scores is not None:
            text.append(f"{float(scores[index]):.2f}")
        if text:
            ax.text(
                x_min - 0.5,
                y_min - 1.0,
                " ".join(text),
                color="black",
                fontsize=7,
                bbox={"facecolor": colour, "edgecolor": "none", "pad": 0.5},
            )
    return ax


def show_segmentation(images, masks, predictions=None, columns=4, size=2.2):
    """Rows of image, true mask overlay and (optionally) predicted mask overlay."""
    images, masks = list(images), list(masks)
    panels, titles = [], []
    for index, (image, mask) in enumerate(zip(images, masks)):
        panels += [np.squeeze(image), overlay_mask(image, mask)]
        titles += ["image", "truth"]
        if predictions is not None:
            panels.append(overlay_mask(image, predictions[index]))
            titles.append("prediction")
    per_item = 3 if predictions is not None else 2
    return show_images(panels, titles, columns=max(columns // per_item, 1) * per_item, size=size)


def plot_history(histories, metrics=("loss",), title=None, logy=False):
    """Training curves of one or several ``keras.callbacks.History`` (or dicts), side by side.

    ``histories`` is a History, a dict of lists, or a dict ``{name: History}`` to compare runs.
    """
    if hasattr(histories, "history") or (
        isinstance(histories, dict) and all(isinstance(v, list) for v in histories.values())
    ):
        histories = {"": histories}
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.0), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for name, history in histories.items():
            record = getattr(history, "history", history)
            for prefix, style in (("", "-"), ("val_", "--")):
                if prefix + metric in record:
                    label = " ".join(part for part in (name, prefix.rstrip("_")) if part)
                    ax.plot(
                        np.arange(1, len(record[prefix + metric]) + 1),
                        record[prefix + metric],
                        style,
                        label=label or metric,
                    )
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))  # no epoch 1.5
        ax.set_ylabel(metric)
        if logy:
            ax.set_yscale("log")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def show_feature_maps(feature_maps, columns=8, size=1.3, title=None):
    """Channels of one ``H x W x C`` feature map as a grid of grey images."""
    feature_maps = np.asarray(feature_maps)
    count = feature_maps.shape[-1]
    figure, axes = _axes_grid(count, columns, size)
    for channel, ax in enumerate(axes):
        ax.imshow(feature_maps[..., channel], cmap="viridis")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def confusion_image(confusion, class_names=None, ax=None, title="confusion matrix"):
    """A row-normalised confusion matrix as a heat map (rows: truth, columns: prediction)."""
    confusion = np.asarray(confusion, dtype=float)
    normalised = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.0))
    ax.imshow(normalised, cmap="Blues", norm=colors.Normalize(0, 1))
    ticks = np.arange(len(confusion))
    names = class_names or [str(i) for i in ticks]
    ax.set_xticks(ticks, names, fontsize=7, rotation=90)
    ax.set_yticks(ticks, names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    return ax


def show_scenes(scenes, count=8, columns=4, size=2.2):
    """Scenes with their masks coloured in and their boxes drawn, labelled with the digit."""
    count = min(count, len(scenes.images))
    pairs = zip(scenes.images[:count], scenes.masks[:count])
    figure = show_images(
        [overlay_mask(image, mask) for image, mask in pairs], columns=columns, size=size
    )
    for ax, boxes in zip(figure.axes, scenes.boxes[:count]):
        draw_boxes(ax, boxes[:, 1:], labels=boxes[:, 0])
    return figure


def show_class_balance(fractions, class_names):
    """Bar chart of the share of pixels in each mask class (``fractions``), background first."""
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(0.55 * len(class_names) + 1.5, 2.8))
    positions = np.arange(len(class_names))
    colours = mask_to_rgb(positions, num_classes=len(class_names))
    ax.bar(positions, 100 * fractions, color=colours, edgecolor="0.3")
    for position, fraction in zip(positions, fractions):
        ax.text(
            position, 100 * fraction, f"{100 * fraction:.1f}", ha="center", va="bottom", fontsize=7
        )
    ax.set_xticks(positions, class_names, fontsize=8, rotation=45)
    ax.set_ylabel("% of pixels")
    ax.set_title(f"background is {100 * fractions[0]:.1f}% of all pixels", fontsize=10)
    figure.tight_layout()
    return figure


def draw_model(model, direction="TB", nested=True, dpi=72, show_shapes=True):
    """A diagram of a Keras model drawn from the model itself (``keras.utils.plot_model``).

    Layers are boxes with their output shapes; ``direction`` is graphviz's rank direction
    ("TB" top to bottom, "LR" left to right); ``nested`` opens sub-models. Returns an image that
    Jupyter shows (needs pydot and graphviz's ``dot``, which ``make`` installs).
    """
    import tempfile

    import keras
    from IPython import display

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/model.png"
        keras.utils.plot_model(
            model,
            to_file=path,
            show_shapes=show_shapes,
            show_layer_names=True,
            rankdir=direction,
            expand_nested=nested,
            dpi=dpi,
        )
        with open(path, "rb") as handle:
            return display.Image(data=handle.read(), format="png")
