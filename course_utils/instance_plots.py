"""Figures of topic 08: instances in distinct colours, anchors and their labels, mask targets,
and mask AP across IoU thresholds. Matplotlib only.

Boxes are continuous pixel corners (see :mod:`course_utils.detection`); ``imshow`` puts pixel
centres at integers, so a corner ``x`` is drawn at ``x - 0.5``.
"""

import matplotlib.patches as patches
import matplotlib.pyplot as plt
import numpy as np

from course_utils import plots

# Distinct colours for instance ids 1, 2, ... (0 stays black).
INSTANCE_COLOURS = plt.get_cmap("tab10")(np.arange(10))[:, :3]


def instances_to_rgb(instance_mask):
    """An instance-id mask coloured one colour per id (background black)."""
    instance_mask = np.asarray(instance_mask, dtype=int)
    palette = np.concatenate([[[0.0, 0.0, 0.0]], INSTANCE_COLOURS])
    return palette[np.where(instance_mask > 0, (instance_mask - 1) % 10 + 1, 0)]


def stack_to_ids(masks):
    """Boolean masks (k, H, W) as one id mask: pixel of mask j gets j + 1 (later masks on top)."""
    masks = np.asarray(masks, dtype=bool)
    ids = np.zeros(masks.shape[1:], dtype=int)
    for index, mask in enumerate(masks):
        ids[mask] = index + 1
    return ids


def draw_box(ax, box, colour, linewidth=1.2, linestyle="-"):
    """One continuous box on an ``imshow`` axis."""
    x_min, y_min, x_max, y_max = box
    ax.add_patch(
        patches.Rectangle(
            (x_min - 0.5, y_min - 0.5),
            x_max - x_min,
            y_max - y_min,
            fill=False,
            edgecolor=colour,
            linewidth=linewidth,
            linestyle=linestyle,
        )
    )


def show_semantic_and_instances(image, class_mask, instance_mask, size=3.0):
    """One scene three ways: the image, one colour per class, one colour per instance."""
    panels = [image, plots.mask_to_rgb(class_mask), instances_to_rgb(instance_mask)]
    titles = ["image", "semantic: one colour per class", "instances: one colour per object"]
    return plots.show_images(panels, titles=titles, columns=3, size=size)


def show_instances(images, id_masks, titles=None, columns=4, size=2.4, alpha=0.6):
    """Scenes with their instances blended on top, one distinct colour each."""
    panels = []
    for image, ids in zip(images, id_masks):
        grey = np.repeat(np.squeeze(np.asarray(image, dtype=float))[..., None], 3, axis=-1)
        coloured = instances_to_rgb(ids)
        panels.append(np.where((ids > 0)[..., None], (1 - alpha) * grey + alpha * coloured, grey))
    return plots.show_images(panels, titles=titles, columns=columns, size=size)


def show_anchor_shapes(shapes, stride, size=3.2):
    """The A anchors of one location, centred on one cell (drawn as a grey square)."""
    figure, ax = plt.subplots(figsize=(size, size))
    extent = float(np.max(shapes)) / 2 + 2
    ax.add_patch(patches.Rectangle((-stride / 2, -stride / 2), stride, stride, color="0.85"))
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(shapes)))
    for (width, height), colour in zip(shapes, colours):
        rectangle = (-width / 2, -height / 2)
        ax.add_patch(patches.Rectangle(rectangle, width, height, fill=False, edgecolor=colour))
    ax.set_xlim(-extent, extent)
    ax.set_ylim(extent, -extent)
    ax.set_aspect("equal")
    ax.set_title(f"{len(shapes)} anchors of one location (grey: its {stride} x {stride} cell)")
    figure.tight_layout()
    return figure


def show_anchor_labels(image, anchor_boxes, labels, truth_boxes, size=3.6):
    """A scene with its true boxes (white) and its positive (green) and ignored (orange) anchors."""
    figure, axes = plt.subplots(1, 2, figsize=(2 * size, size))
    for ax, label, name in zip(axes, (1, -1), ("positive", "ignored")):
        ax.imshow(np.squeeze(image), cmap="gray")
        colour = "lime" if label == 1 else "orange"
        for box in anchor_boxes[labels == label]:
            draw_box(ax, box, colour, linewidth=0.8)
        for box in truth_boxes:
            draw_box(ax, box, "white", linewidth=1.6, linestyle="--")
        ax.set_title(f"{int(np.sum(labels == label))} {name} anchors")
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    return figure


def plot_anchor_recall(
    thresholds,
    recalls,
    size=(5.5, 3.2),
    xlabel="IoU threshold",
    ylabel="boxes with an anchor that close",
):
    """The share of true boxes found at each x (an IoU threshold, a number of proposals), one
    curve per set of anchors or proposals."""
    figure, ax = plt.subplots(figsize=size)
    for name, values in recalls.items():
        ax.plot(thresholds, values, marker="o", markersize=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def show_mask_targets(crops, targets, predictions=None, size=1.5):
    """RoI crops of the image, their m x m mask targets and, if given, the predicted soft masks."""
    rows = [crops, targets] + ([predictions] if predictions is not None else [])
    names = ["RoIAlign crop", "target", "prediction"]
    shape = (size * len(crops), size * len(rows))
    figure, axes = plt.subplots(len(rows), len(crops), figsize=shape, squeeze=False)
    for row, (images, name) in enumerate(zip(rows, names)):
        for column, image in enumerate(images):
            ax = axes[row, column]
            ax.imshow(np.squeeze(image), cmap="gray", vmin=0, vmax=1 if row else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(name, fontsize=9)
    figure.tight_layout()
    return figure


def plot_ap_by_threshold(thresholds, curves, size=(5.5, 3.2)):
    """Mask mAP at each IoU threshold, one curve per set of boxes."""
    figure, ax = plt.subplots(figsize=size)
    for name, values in curves.items():
        label = f"{name}: mean {np.mean(values):.2f}"
        ax.plot(thresholds, values, marker="o", markersize=3, label=label)
    ax.set_xlabel("mask IoU threshold")
    ax.set_ylabel("mask mAP")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def embedding_to_rgb(embeddings, foreground):
    """Per-pixel embeddings (H, W, D) shown as colours: their first three principal components
    scaled to [0, 1] over the foreground; background black."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    vectors = embeddings[foreground]
    centred = vectors - vectors.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    components = centred @ directions[:3].T
    low, high = components.min(axis=0), components.max(axis=0)
    rgb = np.zeros(np.shape(foreground) + (3,))
    rgb[foreground, : components.shape[1]] = (components - low) / np.maximum(high - low, 1e-9)
    return rgb
