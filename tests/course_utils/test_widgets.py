"""The convolution explorers: sliders give Keras' output sizes, pictures are right, and a static
render shows a picture rather than an error."""

import base64
import itertools

import matplotlib
import nbclient
import nbformat
import numpy as np
import pytest

from course_utils import arith, numpy_conv, widgets

matplotlib.use("Agg")
PADDINGS = ("valid", "same")


class FakeHandle:
    """Stands in for IPython's DisplayHandle and records the updates."""

    def __init__(self):
        self.updates = []

    def update(self, image):
        """Record one redraw."""
        self.updates.append(image)


def test_conv_sliders_report_arith_size():
    """Moving each slider changes the reported size exactly as arith computes it."""
    explorer = widgets.Explorer()
    settings = [
        ("input_size", 9),
        ("kernel_size", 4),
        ("strides", 3),
        ("padding", "valid"),
        ("dilation", 2),
        ("strides", 1),
        ("padding", "same"),
        ("input_size", 1),
    ]
    for name, value in settings:
        explorer.controls[name].value = value
        values = explorer.values()
        expected = arith.conv_output_size(**values)
        assert explorer.output_size == expected
        assert f"output size: <b>{expected}</b>" in explorer.label.value


def test_transpose_sliders_report_arith_size():
    """The transposed explorer follows arith, output_padding included, and keeps it valid."""
    explorer = widgets.Explorer(transpose=True)
    assert "dilation" not in explorer.controls
    explorer.controls["strides"].value = 3
    assert explorer.controls["output_padding"].options == (
        (("None", None), ("0", 0), ("1", 1), ("2", 2))
    )
    for name, value in [
        ("output_padding", 2),
        ("padding", "same"),
        ("kernel_size", 4),
        ("input_size", 5),
    ]:
        explorer.controls[name].value = value
        expected = arith.conv_transpose_output_size(**explorer.values())
        assert explorer.output_size == expected
        assert f"<b>{expected}</b>" in explorer.label.value
    explorer.controls["strides"].value = 2  # output_padding 2 is no longer allowed: back to None
    assert explorer.controls["output_padding"].value is None
    assert explorer.output_size == arith.conv_transpose_output_size(**explorer.values())


def test_dilation_with_stride_caveat():
    """Keras refuses strides > 1 with dilation > 1, and the label says so."""
    explorer = widgets.Explorer(strides=2, dilation=2)
    assert "refuses" in explorer.label.value
    explorer.controls["strides"].value = 1
    assert "refuses" not in explorer.label.value


def test_unknown_setting():
    """A misspelt setting fails with the known names."""
    with pytest.raises(TypeError, match="known"):
        widgets.Explorer(stride=2)


def test_conv_picture_is_the_convolution():
    """The numbers drawn are numpy_conv.conv2d's, with the padding TensorFlow uses."""
    for n, k, s, padding, d in itertools.product(
        range(1, 10), range(1, 6), range(1, 5), ("valid", "same"), (1, 2, 3)
    ):
        x, kernel, pads, output = widgets.conv_case(n, k, s, padding, d)
        assert output.shape == (arith.conv_output_size(n, k, s, padding, d),) * 2
        if output.size:
            expected = numpy_conv.conv2d(x, np.ones((k, k)), s, padding, d)
            np.testing.assert_allclose(output, expected)
        if padding == "same":
            assert pads[:2] == arith.same_padding_amounts(n, k, s, d)


def test_transpose_picture_is_the_transposed_convolution():
    """Zero insertion, the drawn padding and the flipped kernel give numpy_conv.conv2d_transpose."""
    for n, k, s, padding in itertools.product(range(1, 7), range(1, 6), range(1, 5), PADDINGS):
        for op in [None, *range(s)]:
            x, kernel, spread, pads, output = widgets.transpose_case(n, k, s, padding, op)
            assert min(pads) >= 0, (n, k, s, padding, op)
            assert spread.shape[0] + pads[0] + pads[1] - k + 1 == output.shape[0]
            expected = numpy_conv.conv2d_transpose(x, kernel, s, padding, op)
            np.testing.assert_allclose(output, expected, err_msg=str((n, k, s, padding, op)))


def test_transpose_picture_matches_keras():
    """A few settings against Keras' own Conv2DTranspose, output_padding included."""
    import keras

    for n, k, s, padding, op in [
        (3, 3, 2, "valid", None),
        (3, 4, 2, "same", 1),
        (4, 3, 3, "same", 2),
        (2, 1, 3, "valid", None),
    ]:
        x, kernel, _, _, output = widgets.transpose_case(n, k, s, padding, op)
        layer = keras.layers.Conv2DTranspose(
            1, k, strides=s, padding=padding, output_padding=op, use_bias=False
        )
        layer.build((1, n, n, 1))
        layer.set_weights([kernel[:, :, None, None].astype(np.float32)])
        expected = np.asarray(layer(x[None, :, :, None].astype(np.float32)))[0, :, :, 0]
        np.testing.assert_allclose(output, expected, atol=1e-4)


def test_figures_draw_for_every_slider_position():
    """No slider position crashes the picture, including 'valid' with no window that fits."""
    explorer = widgets.Explorer(input_size=2, kernel_size=5, padding="valid", strides=1)
    assert explorer.output_size == 0
    figure = explorer.figure()
    assert "no window fits" in " ".join(t.get_text() for t in figure.axes[2].texts)
    # The extremes of the sliders: the biggest grids and the smallest.
    for transpose, n in ((False, 12), (False, 1), (True, 8), (True, 1)):
        explorer = widgets.Explorer(transpose=transpose, input_size=n, kernel_size=5, strides=4)
        assert widgets.png(explorer.figure()).data[:4] == b"\x89PNG"


def test_sliders_redraw_the_shown_picture():
    """Once shown, every change redraws the picture through its display handle."""
    explorer = widgets.Explorer()
    explorer._handle = FakeHandle()
    explorer.controls["kernel_size"].value = 5
    explorer.controls["padding"].value = "valid"
    assert len(explorer._handle.updates) == 2
    assert explorer._handle.updates[-1].data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_static_render_shows_default_picture_and_sliders_update_it():
    """Executed without a widget frontend (as nbconvert, nbval and slides do), each explorer cell
    shows a PNG picture, then the sliders, and raises nothing; moving a slider from the kernel
    replaces that picture in place (an update_display_data message for its display id)."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("from course_utils import widgets"),
        nbformat.v4.new_code_cell("widgets.explore_conv()"),
        nbformat.v4.new_code_cell(
            "widgets.explore_conv_transpose(padding='same', output_padding=1)"
        ),
        nbformat.v4.new_code_cell("explorer = widgets.Explorer(input_size=5)\nexplorer.show();"),
        nbformat.v4.new_code_cell("explorer.controls['input_size'].value = 9"),
    ]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    for cell in notebook.cells[1:4]:
        assert [output.output_type for output in cell.outputs] == ["display_data"] * 2
        picture, sliders = cell.outputs
        assert "image/png" in picture.data
        assert "application/vnd.jupyter.widget-view+json" in sliders.data
    shown = notebook.cells[3].outputs[0].data["image/png"]
    fresh = {size: widgets.png(widgets.Explorer(input_size=size).figure()).data for size in (5, 9)}
    assert base64.b64decode(shown) == fresh[9] != fresh[5]
    assert notebook.cells[4].outputs == []
