"""Interactive explorers of convolution arithmetic: sliders that redraw a picture and a size.

``explore_conv()`` (topic 01) and ``explore_conv_transpose()`` (topic 02) show the picture for
the current settings, then the sliders below it. The picture is an ordinary image output with a
display id that the sliders update, so a static render (nbconvert, slides, nbval) shows the
default picture, never an empty widget or an error. Only matplotlib, NumPy and ipywidgets are
imported here; no TensorFlow.
"""

import io

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
from IPython import display
from matplotlib import patches

from course_utils import arith, numpy_conv, plots

CONV_DEFAULTS = {"input_size": 7, "kernel_size": 3, "strides": 2, "padding": "same", "dilation": 1}
TRANSPOSE_DEFAULTS = {
    "input_size": 3,
    "kernel_size": 3,
    "strides": 2,
    "padding": "valid",
    "output_padding": None,
}
# The input values drawn in the grids: digits 1 to 9 (never 0, which would look like padding),
# the same every time.
_DIGITS = np.random.default_rng(0).integers(1, 10, size=(16, 16))
# Colours of the first two windows (or stamps), and of the output cells they make.
_FIRST, _SECOND = "tab:red", "tab:blue"


# --- the arithmetic behind each picture ---------------------------------------------------------


def conv_case(input_size, kernel_size, strides, padding, dilation):
    """Input, dilated kernel, padding ``(top, bottom, left, right)`` and output of a Conv2D."""
    x = _DIGITS[:input_size, :input_size].astype(float)
    kernel = numpy_conv.dilate_kernel(np.ones((kernel_size, kernel_size)), dilation)
    span = kernel.shape[0]
    before, after = (
        arith.same_padding_amounts(input_size, kernel_size, strides, dilation)
        if padding == "same"
        else (0, 0)
    )
    size = arith.conv_output_size(input_size, kernel_size, strides, padding, dilation)
    padded = np.pad(x, (before, after))
    output = np.array(
        [
            [
                np.sum(
                    padded[i * strides : i * strides + span, j * strides : j * strides + span]
                    * kernel
                )
                for j in range(size)
            ]
            for i in range(size)
        ]
    ).reshape(size, size)
    return x, kernel, (before, after, before, after), output


def transpose_case(input_size, kernel_size, strides, padding, output_padding):
    """The direct convolution equal to a Conv2DTranspose: spread-out and padded input, flipped
    kernel, output; plus the padding ``(top, bottom, left, right)`` around the spread input.
    """
    x = _DIGITS[:input_size, :input_size].astype(float) % 3 + 1
    kernel = np.arange(1, kernel_size * kernel_size + 1, dtype=float).reshape(
        kernel_size, kernel_size
    )
    size = arith.conv_transpose_output_size(
        input_size, kernel_size, strides, padding, output_padding
    )
    spread = numpy_conv.insert_zeros(x, strides)
    # The transposed convolution crops what the forward convolution padded: what remains of
    # the full k - 1 border is the padding of the equivalent direct convolution.
    cropped = (
        max((input_size - 1) * strides + kernel_size - size, 0) // 2 if padding == "same" else 0
    )
    before = kernel_size - 1 - cropped
    after = size + kernel_size - 1 - before - spread.shape[0]
    padded = np.pad(spread, (before, after))
    flipped = kernel[::-1, ::-1]
    output = np.array(
        [
            [
                np.sum(padded[i : i + kernel_size, j : j + kernel_size] * flipped)
                for j in range(size)
            ]
            for i in range(size)
        ]
    ).reshape(size, size)
    return x, kernel, spread, (before, after, before, after), output


# --- pictures ------------------------------------------------------------------------------------


def _outline(ax, top, left, size, colour, style="-"):
    """Draw a square outline over cells ``[top, top + size)`` x ``[left, left + size)``."""
    ax.add_patch(
        patches.Rectangle(
            (left - 0.5, top - 0.5),
            size,
            size,
            fill=False,
            edgecolor=colour,
            linewidth=2.5,
            linestyle=style,
        )
    )


def _size_formula(values, transpose):
    """The output-size rule with the numbers filled in."""
    n, k, s, padding = (values[key] for key in ("input_size", "kernel_size", "strides", "padding"))
    if not transpose:
        d = values["dilation"]
        size = arith.conv_output_size(n, k, s, padding, d)
        if padding == "same":
            return f"ceil({n} / {s}) = {size}"
        span = arith.effective_kernel_size(k, d)
        text = f"floor(({n} - {span}) / {s}) + 1 = {size}"
        return text + (f", dilated span {k} + {k - 1}*{d - 1} = {span}" if d > 1 else "")
    op = values["output_padding"]
    size = arith.conv_transpose_output_size(n, k, s, padding, op)
    if op is not None:
        pad = k // 2 if padding == "same" else 0
        return f"({n} - 1)*{s} + {k} - 2*{pad} + {op} = {size}"
    if padding == "same":
        return f"{n}*{s} = {size}"
    return f"{n}*{s} + max({k} - {s}, 0) = {size}"


def conv_figure(input_size, kernel_size, strides, padding, dilation):
    """Input with padding hatched, the first two windows outlined, kernel and output."""
    x, kernel, pads, output = conv_case(input_size, kernel_size, strides, padding, dilation)
    values = {
        "input_size": input_size,
        "kernel_size": kernel_size,
        "strides": strides,
        "padding": padding,
        "dilation": dilation,
    }
    title = (
        f"Conv2D  n={input_size}, k={kernel_size}, strides={strides}, padding='{padding}', "
        f"dilation={dilation}   output: {_size_formula(values, False)}"
    )
    if output.size == 0:
        return _empty_figure(x, kernel, pads, title, "no window fits: 'valid' gives no output")
    figure = plots.show_conv_grids(
        x, kernel, output, pads, titles=("input (padding hatched)", "kernel", "output")
    )
    input_ax, kernel_ax, output_ax = figure.axes[:3]
    # A kernel of ones is one colour; fix the scale so ones are dark and dilation's holes light.
    kernel_ax.clear()
    plots.show_matrix(
        kernel,
        kernel_ax,
        "kernel (dilated)" if dilation > 1 else "kernel",
        cmap="Oranges",
        vmin=0,
        vmax=1.6,
    )
    span = kernel.shape[0]
    _outline(input_ax, 0, 0, span, _FIRST)
    _outline(output_ax, 0, 0, 1, _FIRST)
    if output.shape[1] > 1:
        _outline(input_ax, 0, strides, span, _SECOND, "--")
        _outline(output_ax, 0, 1, 1, _SECOND, "--")
    figure.suptitle(title, fontsize=10)
    return figure


def transpose_figure(input_size, kernel_size, strides, padding, output_padding):
    """The equivalent convolution: spread-out input (inserted zeros dotted, padding hatched),
    flipped kernel and output; the window of the first output pixel outlined."""
    x, kernel, spread, pads, output = transpose_case(
        input_size, kernel_size, strides, padding, output_padding
    )
    values = {
        "input_size": input_size,
        "kernel_size": kernel_size,
        "strides": strides,
        "padding": padding,
        "output_padding": output_padding,
    }
    title = (
        f"Conv2DTranspose  n={input_size}, k={kernel_size}, strides={strides}, "
        f"padding='{padding}', output_padding={output_padding}   "
        f"output: {_size_formula(values, True)}"
    )
    figure = plots.show_conv_grids(
        spread,
        kernel[::-1, ::-1],
        output,
        pads,
        titles=(
            "input, s - 1 zeros inserted (dots), padded (hatched)",
            "kernel, flipped",
            "output",
        ),
    )
    input_ax, _, output_ax = figure.axes[:3]
    top, left = pads[0], pads[2]
    inserted = np.ones_like(spread, dtype=bool)
    inserted[::strides, ::strides] = False
    for row, col in zip(*np.nonzero(inserted)):
        input_ax.add_patch(
            patches.Rectangle(
                (left + col - 0.5, top + row - 0.5),
                1,
                1,
                fill=False,
                hatch="..",
                edgecolor="0.6",
                linewidth=0,
            )
        )
    _outline(input_ax, 0, 0, kernel_size, _FIRST)
    _outline(output_ax, 0, 0, 1, _FIRST)
    figure.suptitle(title, fontsize=10)
    return figure


def _empty_figure(x, kernel, pads, title, message):
    """Input and kernel only, with a note where the output would be."""
    figure, axes = plt.subplots(1, 3, figsize=(8, 3))
    plots.show_matrix(x, axes[0], "input")
    plots.show_matrix(kernel, axes[1], "kernel", cmap="Oranges")
    axes[2].axis("off")
    axes[2].text(0.5, 0.5, message, ha="center", va="center", fontsize=9, wrap=True)
    figure.suptitle(title, fontsize=10)
    return figure


def png(figure):
    """Render a figure to an IPython PNG image and close it (so it is not shown twice)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return display.Image(data=buffer.getvalue(), format="png")


# --- the explorer ------------------------------------------------------------------------------


class Explorer:
    """Sliders for a Conv2D (or Conv2DTranspose) and the picture and output size they give."""

    def __init__(self, transpose=False, **values):
        """Build the controls with ``values`` overriding the defaults (nothing is shown yet)."""
        self.transpose = transpose
        defaults = dict(TRANSPOSE_DEFAULTS if transpose else CONV_DEFAULTS)
        unknown = set(values) - set(defaults)
        if unknown:
            raise TypeError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(defaults)}.")
        defaults.update(values)
        self.controls = self._build_controls(defaults)
        self.label = ipywidgets.HTML()
        self._handle = None
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self._refresh_label()
        self.widget = ipywidgets.VBox([*self.controls.values(), self.label])

    def _build_controls(self, values):
        """One slider (or toggle) per setting."""
        style = {"description_width": "110px"}
        sizes = (1, 8) if self.transpose else (1, 12)

        def slider(name, low, high, description):
            return ipywidgets.IntSlider(
                value=values[name],
                min=low,
                max=high,
                description=description,
                style=style,
                continuous_update=False,
            )

        controls = {
            "input_size": slider("input_size", *sizes, "input size n"),
            "kernel_size": slider("kernel_size", 1, 5, "kernel size k"),
            "strides": slider("strides", 1, 4, "strides s"),
            "padding": ipywidgets.ToggleButtons(
                options=["valid", "same"],
                value=values["padding"],
                description="padding",
                style=style,
            ),
        }
        if self.transpose:
            controls["output_padding"] = ipywidgets.Dropdown(
                options=self._output_paddings(values["strides"]),
                value=values["output_padding"],
                description="output_padding",
                style=style,
            )
        else:
            controls["dilation"] = slider("dilation", 1, 4, "dilation d")
        return controls

    @staticmethod
    def _output_paddings(strides):
        """Keras accepts output_padding from 0 to strides - 1, or None."""
        return [("None", None)] + [(str(value), value) for value in range(strides)]

    def values(self):
        """The current settings as keyword arguments."""
        return {name: control.value for name, control in self.controls.items()}

    @property
    def output_size(self):
        """The output length along each axis, by Keras' rules (course_utils.arith)."""
        values = self.values()
        if self.transpose:
            return arith.conv_transpose_output_size(**values)
        return arith.conv_output_size(**values)

    def figure(self):
        """A new figure for the current settings."""
        if self.transpose:
            return transpose_figure(**self.values())
        return conv_figure(**self.values())

    def _changed(self, change):
        """Keep output_padding valid for the stride, then refresh the label and picture."""
        if self.transpose and change["owner"] is self.controls["strides"]:
            dropdown = self.controls["output_padding"]
            previous = dropdown.value
            dropdown.options = self._output_paddings(change["new"])
            dropdown.value = previous if previous is None or previous < change["new"] else None
        self._refresh_label()
        if self._handle is not None:
            self._handle.update(png(self.figure()))

    def _refresh_label(self):
        """The output size in words, with the formula and Keras' caveats."""
        values = self.values()
        text = f"output size: <b>{self.output_size}</b> = {_size_formula(values, self.transpose)}"
        if not self.transpose and values["strides"] > 1 and values["dilation"] > 1:
            text += " (Keras' Conv2D refuses strides > 1 together with dilation > 1)"
        self.label.value = text

    def show(self):
        """Display the picture (a plain image, updated in place) and then the sliders."""
        self._handle = display.display(png(self.figure()), display_id=True)
        display.display(self.widget)
        return self


def explore_conv(**values):
    """Show the Conv2D explorer: input size, kernel size, strides, padding and dilation."""
    Explorer(transpose=False, **values).show()


def explore_conv_transpose(**values):
    """Show the Conv2DTranspose explorer: input size, kernel, strides, padding, output_padding."""
    Explorer(transpose=True, **values).show()
