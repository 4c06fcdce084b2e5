"""What each cell of a lecture becomes on its slides: chosen by tags and headings, not guessed.

The notebook decides (docs/slides.md): ``##`` starts a slide, ``###`` a vertical sub-slide; the
tags ``remove-cell``, ``remove-input`` and ``remove-output`` are applied by nbconvert's own
TagRemovePreprocessor; ``notes`` makes a markdown cell speaker notes; ``fragment`` makes a cell
appear on the next click. Only what never belongs on a slide is dropped without a tag: log
outputs (stderr, Keras epoch lines, progress bars) and widgets, which need a live kernel.

``lint`` finds, without running anything, what the browser check would also refuse: code cells
shown with more than ``MAX_CODE_LINES`` lines, formulas written as plain text (``W^T``), and
decks with fewer than ``MIN_SLIDES`` slides.
"""

import copy
import re

from course_tools import colab, notebooks

MAX_CODE_LINES = 15  # more code than this is unreadable from the back of a lecture hall
MIN_SLIDES = 25  # a 50-minute lecture, with its narrative in the speaker notes
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
HEADING = re.compile(r"^\s*(#{1,3})\s+(.*)")
# Keras epoch logs ("Epoch 3/10", "32/32 ━━━━ 1s 20ms/step - loss: 0.1") and progress bars.
LOG_LINE = re.compile(r"^\s*Epoch \d+/\d+|\d+m?s/step\b|^\s*\d+/\d+ [━=>.]{3}|\d+%\|", re.M)
REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\((https?://[^)\s]+)[^)]*\)")
CODE_IN_MARKDOWN = re.compile(r"```.*?```|`[^`\n]*`", re.S)
# As MathJax finds them: display and inline, an inline formula may wrap onto the next line.
FORMULA = re.compile(r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|\$(?:[^$\n]|\n(?!\s*\n))+?\$", re.S)
# A power or transpose typed as text: W^T, x^2, 2^(n). Inside $...$ it is LaTeX and fine.
PLAIN_FORMULA = re.compile(r"[\w)\]]\^[\w({]")
# Where the slide machinery puts a cell's role; nbconvert reads it.
SLIDE_TYPES = {1: "slide", 2: "slide", 3: "subslide"}


def tags(cell):
    """The tags of a cell."""
    return set(cell.get("metadata", {}).get("tags", []))


def heading_level(cell):
    """1, 2 or 3 for a markdown cell that starts with such a heading, else None."""
    match = HEADING.match(cell.source) if cell.cell_type == "markdown" else None
    return len(match.group(1)) if match else None


def is_log(output):
    """True for an output that is a log rather than a result: stderr, training log, progress bar."""
    if output.get("output_type") == "stream":
        return output.get("name") == "stderr" or bool(LOG_LINE.search(output.get("text", "")))
    text = output.get("data", {}).get("text/plain", "")
    return WIDGET_VIEW in output.get("data", {}) and bool(LOG_LINE.search(text))


def _drop_logs_and_widgets(cell):
    """Keep only the outputs a slide can show."""
    cell.outputs = [
        output
        for output in cell.outputs
        if not is_log(output) and WIDGET_VIEW not in output.get("data", {})
    ]


def _without_colab_link(cell):
    """The title cell without its Colab link, and remote images as links: a deck fetches nothing."""
    source = colab.COLAB_LINK.sub("", cell.source).rstrip()
    cell.source = REMOTE_IMAGE.sub(r"[\1](\2)", source)


def remove_tagged(notebook):
    """Apply the remove-* tags with nbconvert's TagRemovePreprocessor; return the notebook."""
    from nbconvert import preprocessors

    remover = preprocessors.TagRemovePreprocessor(
        remove_cell_tags={notebooks.REMOVE_CELL},
        remove_input_tags={notebooks.REMOVE_INPUT},
        remove_all_outputs_tags={notebooks.REMOVE_OUTPUT},
    )
    notebook, _ = remover.preprocess(notebook, {})
    return notebook


def input_removed(cell):
    """True when the cell's code is hidden on the slides."""
    return bool(cell.metadata.get("transient", {}).get("remove_source"))


def shows_nothing(cell):
    """True for a code cell left with neither code nor output to show."""
    return cell.cell_type == "code" and input_removed(cell) and not cell.outputs


def slide_type(cell):
    """The reveal.js role of one remaining cell."""
    if notebooks.NOTES in tags(cell):
        return "notes"
    if shows_nothing(cell) or (cell.cell_type == "markdown" and not cell.source.strip()):
        return "skip"
    level = heading_level(cell)
    if level:
        return SLIDE_TYPES[level]
    if notebooks.FRAGMENT in tags(cell):
        return "fragment"
    return "-"


def prepare(notebook):
    """A copy of ``notebook`` as its deck shows it: tagged cells removed, roles assigned."""
    notebook = copy.deepcopy(notebook)
    notebook.metadata.pop("widgets", None)  # no widget manager offline
    for cell in notebook.cells:
        if cell.cell_type == "code":
            _drop_logs_and_widgets(cell)
        elif cell.cell_type == "markdown":
            _without_colab_link(cell)
    notebook = remove_tagged(notebook)
    for cell in notebook.cells:
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell)}
    visible = [cell for cell in notebook.cells if _visible(cell)]
    if visible and visible[0].metadata.slideshow["slide_type"] not in ("slide", "subslide"):
        visible[0].metadata.slideshow["slide_type"] = "slide"  # a deck starts with a slide
    return notebook


def _visible(cell):
    """True for a cell that shows on a slide (not skipped, not a speaker note)."""
    return cell.metadata.slideshow["slide_type"] not in ("skip", "notes")


def _in_deck(cell):
    """True for a cell whose content is in the deck's HTML (on a slide or in the notes)."""
    return cell.metadata.slideshow["slide_type"] != "skip"


def title(notebook, default):
    """The text of the notebook's first heading."""
    for cell in notebook.cells:
        match = HEADING.match(cell.source) if cell.cell_type == "markdown" else None
        if match:
            return match.group(2).strip()
    return default


def prose(text):
    """Markdown without its code spans and escaped dollars: what MathJax and readers see."""
    return CODE_IN_MARKDOWN.sub("", text).replace(r"\$", "")


def count_formulas(notebook):
    """How many formulas MathJax should typeset in a prepared notebook."""
    texts = [c.source for c in notebook.cells if c.cell_type == "markdown" and _in_deck(c)]
    for cell in notebook.cells:
        if cell.cell_type == "code" and _in_deck(cell):
            for output in cell.outputs:
                data = output.get("data", {})
                texts += [data.get("text/markdown", ""), data.get("text/latex", "")]
    return sum(len(FORMULA.findall(prose(text))) for text in texts)


def count_images(notebook):
    """How many images the prepared notebook's shown outputs carry."""
    return sum(
        1
        for cell in notebook.cells
        if cell.cell_type == "code" and _in_deck(cell)
        for output in cell.outputs
        if {"image/png", "image/jpeg"} & set(output.get("data", {}))
    )


def summary(notebook, name):
    """What the browser check expects of the deck of a prepared notebook."""
    kinds = [cell.metadata.slideshow["slide_type"] for cell in notebook.cells]
    return {
        "name": name,
        "title": title(notebook, name),
        "slides": kinds.count("slide") + kinds.count("subslide"),
        "notes": kinds.count("notes"),
        "formulas": count_formulas(notebook),
        "images": count_images(notebook),
    }


def lint(notebook, name="notebook"):
    """What a lecture's deck would get wrong, found from its source: one line per problem."""
    prepared = prepare(notebook)
    problems = []
    heading = "the title slide"
    for cell in prepared.cells:
        level = heading_level(cell)
        if level:
            heading = HEADING.match(cell.source).group(2).strip()
        if not _in_deck(cell):
            continue
        if cell.cell_type == "code" and not input_removed(cell):
            lines = len(cell.source.strip().splitlines())
            if lines > MAX_CODE_LINES:
                problems.append(
                    f"{name}, slide '{heading}': a code cell of {lines} lines is shown (at most "
                    f"{MAX_CODE_LINES}): split it, or tag it remove-input or remove-cell"
                )
        if cell.cell_type == "markdown":
            text = FORMULA.sub("", prose(cell.source))
            for match in PLAIN_FORMULA.finditer(text):
                snippet = text[max(match.start() - 8, 0) : match.end() + 8].replace("\n", " ")
                problems.append(
                    f"{name}, slide '{heading}': formula in plain text ...{snippet}...: "
                    "write it as LaTeX ($W^T$)"
                )
    slides = summary(prepared, name)["slides"]
    if slides < MIN_SLIDES:
        problems.append(f"{name}: {slides} slides; a lecture's deck needs at least {MIN_SLIDES}")
    return problems
