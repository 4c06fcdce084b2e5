"""``course tidy`` keeps the slide tags consistent and stamps the plain Colab link."""

import nbformat
import pytest

from course_tools import colab, notebooks

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
SETUP = colab.COLAB_SETUP + "\nfrom course_utils import config\n\nconfig.setup()\n"


def lecture(*cells):
    """A lecture notebook: title, Setup cell, then ``cells``."""
    title = md("# 99 · T\n\nOverview.")
    return nbformat.v4.new_notebook(cells=[title, code(SETUP), *cells])


def tags_after_tidy(notebook):
    """The tags of every cell once tidied."""
    return [cell.metadata.get("tags", []) for cell in notebooks.tidy(notebook).cells]


def test_tidy_renames_setup_and_hides_the_setup_and_exported_import_cells():
    notebook = lecture(
        code("import os", metadata={"tags": ["setup"]}),
        code("#| export\nimport keras\n\nfrom course_utils import plots"),
        code("#| export\ndef model():\n    return 1"),
        md("note", metadata={"tags": ["notes"]}),
    )
    tags = tags_after_tidy(notebook)
    assert tags == [[], ["remove-cell"], ["remove-cell"], ["remove-cell"], [], ["notes"]]
    assert notebooks.tidy(notebooks.tidy(notebook)) == notebooks.tidy(notebook)  # idempotent


@pytest.mark.parametrize(
    "cell, message",
    [
        (code("x", metadata={"tags": ["hide-input"]}), "unknown tags ['hide-input']"),
        (code("x", metadata={"tags": ["remove-cell", "fragment"]}), "drop ['fragment']"),
        (code("x", metadata={"tags": ["remove-input", "remove-output"]}), "tag remove-cell"),
        (md("x", metadata={"tags": ["notes", "fragment"]}), "note cannot be a fragment"),
        (code("x", metadata={"tags": ["notes"]}), "notes is for markdown cells"),
        (md("x", metadata={"tags": ["remove-input"]}), "are for code cells"),
    ],
)
def test_tidy_refuses_tags_that_make_no_sense(cell, message):
    with pytest.raises(notebooks.NotebookFormatError, match=message.replace("[", r"\[")):
        notebooks.tidy(lecture(cell))


def test_nbval_tags_are_known():
    notebook = lecture(code("1 / 0", metadata={"tags": ["raises-exception", "nbval-skip"]}))
    assert tags_after_tidy(notebook)[2] == ["nbval-skip", "raises-exception"]


@pytest.mark.parametrize(
    "first",
    [
        "# 99 · T\n\nOverview.",
        "# 99 · T\n\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        "(https://colab.research.google.com/github/someone/else/blob/main/x.ipynb)",
        "# 99 · T\n\n[Open in Colab](https://colab.research.google.com/github/a/b/blob/main/y)",
    ],
)
def test_the_colab_link_is_stamped_as_a_plain_link(tmp_path, first):
    (tmp_path / "notebooks").mkdir()
    notebook = lecture()
    notebook.cells[0].source = first
    path = tmp_path / "notebooks" / "99_t.ipynb"
    notebooks.write(notebook, path)
    assert notebooks.tidy_all(root=tmp_path) == ["notebooks/99_t.ipynb"]
    title = notebooks.read(path).cells[0].source
    assert title.startswith("# 99 · T")
    assert title.count("colab.research.google.com") == 1
    assert title.endswith(f"[Open in Colab]({colab.colab_url('notebooks', '99_t.ipynb')})")
    assert "colab-badge.svg" not in title  # no image from the network
    assert notebooks.tidy_all(check=True, root=tmp_path) == []


def test_tidy_all_names_the_notebook_with_bad_tags(tmp_path):
    (tmp_path / "notebooks").mkdir()
    notebook = lecture(code("x", metadata={"tags": ["hidden"]}))
    notebooks.write(notebook, tmp_path / "notebooks" / "99_t.ipynb")
    with pytest.raises(notebooks.NotebookFormatError, match=r"notebooks/99_t.ipynb: cell .*"):
        notebooks.tidy_all(root=tmp_path)
