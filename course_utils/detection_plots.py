"""Figures of topic 07: boxes on scenes, the YOLO grid, IoU matrices, precision envelopes, RoIs.

Boxes here are continuous pixel corners (see :mod:`course_utils.detection`); these functions
convert to the inclusive boxes :func:`course_utils.plots.draw_boxes` draws. Matplotlib only.
"""

import matplotlib.pyplot as plt
import numpy as np

from course_utils import detection, plots, roi


def draw_grid(ax, image_size, grid_size, colour="0.55"):
    """Draw the S x S grid of a YOLO output over an image shown with ``imshow``."""
    # imshow puts pixel centres at integers, so pixel edges (and cell edges) sit at k - 0.5
    for edge in np.arange(1, grid_size) * image_size / grid_size - 0.5:
        ax.axhline(edge, color=colour, linewidth=0.6)
        ax.axvline(edge, color=colour, linewidth=0.6)
    return ax


def draw_continuous_boxes(ax, boxes, labels=None, scores=None, colour="yellow"):
    """:func:`course_utils.plots.draw_boxes` for continuous boxes (it expects inclusive pixels)."""
    return plots.draw_boxes(ax, detection.continuous_to_inclusive(boxes), labels, scores, colour)


def show_detections(
    images, truths=None, detections=None, titles=None, columns=4, size=2.6, labels=True
):
    """Scenes with true boxes (green) and detections (yellow, with class and score if ``labels``).

    ``truths``: (k, 5) arrays of (class, corners); ``detections``: ``Detections``; both in
    continuous pixel coordinates (see :func:`course_utils.detection.truths_to_continuous`).
    """
    figure = plots.show_images(images, titles=titles, columns=columns, size=size)
    for index, ax in enumerate(figure.axes[: len(images)]):
        if truths is not None:
            truth = detection.truth_array(truths[index])
            draw_continuous_boxes(ax, truth[:, 1:], truth[:, 0], colour="lime")
        if detections is not None:
            found = detections[index]
            if labels:
                draw_continuous_boxes(ax, found.boxes, found.classes, found.scores, "yellow")
            else:
                draw_continuous_boxes(ax, found.boxes, colour="yellow")
    return figure


def show_iou_matrix(boxes, matrix):
    """Numbered boxes beside the matrix of their pairwise IoUs."""
    boxes = detection.as_boxes(boxes)
    figure, (left, right) = plt.subplots(1, 2, figsize=(7.5, 3.2))
    left.set_xlim(boxes[:, 0].min() - 1, boxes[:, 2].max() + 1)
    left.set_ylim(boxes[:, 3].max() + 1, boxes[:, 1].min() - 1)
    left.set_aspect("equal")
    draw_continuous_boxes(left, boxes + 0.5, labels=np.arange(len(boxes)), colour="tab:orange")
    left.set_title("boxes")
    plots.show_matrix(matrix, ax=right, fmt="{:.2f}", title="IoU matrix")
    figure.tight_layout()
    return figure


def plot_precision_envelope(precision, recall):
    """Precision against recall, its envelope, the all-point area and the 11 VOC 2007 points."""
    envelope = np.maximum.accumulate(np.asarray(precision, dtype=float)[::-1])[::-1]
    recall = np.asarray(recall, dtype=float)
    points = np.linspace(0, 1, 11)
    eleven = [envelope[recall >= point].max(initial=0) for point in points]
    figure, ax = plt.subplots(figsize=(4.6, 3.2))
    steps_x = np.concatenate([[0], recall])
    steps_y = np.concatenate([envelope[:1], envelope])
    ax.plot(recall, precision, "o--", color="0.5", label="precision")
    ax.step(steps_x, steps_y, where="pre", label="envelope")
    ax.fill_between(steps_x, steps_y, step="pre", alpha=0.2, label="all-point AP")
    ax.plot(points, eleven, "k+", markersize=9, label="11 points")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def show_matching(truth_boxes, detection_boxes, scores, panels):
    """Boxes as their x-extents, one row each: truths, then detections coloured by verdict.

    ``panels``: ``(title, hits)`` pairs, one panel per matching rule; boxes that share their
    y-extent (as in the lecture's case) are told apart by rows.
    """
    truth_boxes, detection_boxes = (
        detection.as_boxes(truth_boxes),
        detection.as_boxes(detection_boxes),
    )
    rows = [f"truth {index}" for index in range(len(truth_boxes))]
    rows += [f"detection {score:.2f}" for score in scores]
    figure, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 0.45 * len(rows) + 0.9))
    for ax, (title, hits) in zip(np.atleast_1d(axes), panels):
        colours = ["tab:green"] * len(truth_boxes)
        colours += ["tab:blue" if hit else "tab:red" for hit in hits]
        extents = np.concatenate([truth_boxes, detection_boxes])[:, [0, 2]]
        ax.barh(range(len(rows)), extents[:, 1] - extents[:, 0], left=extents[:, 0], color=colours)
        for row, hit in enumerate(hits, start=len(truth_boxes)):
            verdict = "true positive" if hit else "false positive"
            ax.text(extents[row, 1] + 0.3, row, verdict, va="center", fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(extents.min() - 0.5, extents.max() + 6)
        ax.set_xlabel("x (pixels)", fontsize=8)
        ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def show_grid_targets(image, truth, image_size, grid_size, indicator):
    """A scene under its grid, centres marked, beside the grid of object indicators."""
    truth = detection.truth_array(truth)
    figure, axes = plt.subplots(1, 2, figsize=(7, 3.4))
    axes[0].imshow(np.squeeze(image), cmap="gray")
    draw_grid(axes[0], image_size, grid_size)
    draw_continuous_boxes(axes[0], truth[:, 1:], truth[:, 0], colour="lime")
    centres = detection.corners_to_centres(truth[:, 1:])
    axes[0].plot(centres[:, 0] - 0.5, centres[:, 1] - 0.5, "r+", markersize=10)
    axes[0].set_title("centres (+) pick the cells")
    plots.show_matrix(indicator, ax=axes[1], fmt="{:.0f}", title="object indicator $1_i^{obj}$")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    return figure


def plot_per_class_ap(per_class, title):
    """A bar per class of its AP."""
    figure, ax = plt.subplots(figsize=(5, 2.6))
    ax.bar(range(len(per_class)), per_class)
    ax.set_xticks(range(len(per_class)))
    ax.set_xlabel("digit")
    ax.set_ylabel("AP@0.5")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    figure.tight_layout()
    return figure


def show_roi_comparison(feature_map, box, shifts):
    """RoI pooling (top) and RoIAlign (bottom) of ``box`` moved right by each shift, in cells."""
    figure, axes = plt.subplots(2, len(shifts), figsize=(2.2 * len(shifts), 4.4))
    for column, shift in enumerate(shifts):
        moved = (box[0] + shift, box[1], box[2] + shift, box[3])
        pooled, aligned = roi.roi_pool(feature_map, moved), roi.roi_align(feature_map, moved)
        for row, (values, name, fmt) in enumerate(
            ((pooled, "RoI pool", "{:.0f}"), (aligned, "RoIAlign", "{:.1f}"))
        ):
            # colours from 0 to the panel's maximum, so the written numbers stay legible
            plots.show_matrix(
                values,
                ax=axes[row, column],
                fmt=fmt,
                title=f"{name}, shift {shift}",
                vmin=0,
                vmax=values.max(),
            )
    figure.tight_layout()
    return figure


def show_roi_samples(feature_map, box, output_size=2, sampling_ratio=2):
    """A proposal, the whole cells RoI pooling rounds it to, and RoIAlign's sample points."""
    figure, ax = plt.subplots(figsize=(3.6, 3.6))
    ax.imshow(feature_map, cmap="Blues", alpha=0.6)
    draw_continuous_boxes(ax, [box], colour="tab:red")
    draw_continuous_boxes(ax, [np.round(box)], colour="tab:orange")
    xs, ys = roi.roi_align_points(box, output_size, sampling_ratio)
    grid_x, grid_y = np.meshgrid(xs, ys)
    ax.plot(grid_x, grid_y, "k.", markersize=5)
    ax.set_title("proposal (red), rounded (orange),\nRoIAlign samples (dots)", fontsize=9)
    figure.tight_layout()
    return figure


def show_augmentations(examples, titles, size=2.1):
    """Augmented scenes in a row, each (image, continuous truth) with its boxes drawn."""
    images = [image for image, _ in examples]
    figure = plots.show_images(
        images, titles=titles, columns=len(images), size=size, vmin=0, vmax=1
    )
    for ax, (_, truth) in zip(figure.axes, examples):
        truth = detection.truth_array(truth)
        draw_continuous_boxes(ax, truth[:, 1:], truth[:, 0].astype(int), colour="lime")
    return figure
