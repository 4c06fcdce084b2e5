"""``course slides``: execute the lectures, render their decks, check them in Chromium, print them.

For every notebook in ``notebooks/`` (or those ``--only`` names): run it in a fresh kernel
(default mode, or fast with ``--fast``), turn it into a deck (``roles``, ``template``), write
``_build/slides/NN_topic.html`` with reveal.js and MathJax copied next to it (``assets``), and an
index page. Then, where Chromium is installed, look at every slide (``review``): problems fail
the command, screenshots and a contact sheet per deck go to ``_build/slides/review/``. With
``--pdf``, each deck is also printed to ``_build/slides/pdf/NN_topic.pdf``, one page per slide.
"""

import copy
import html
import json
import pathlib
import subprocess
import time

from course_tools import notebooks
from course_tools.slides import assets, browser, review, roles, template
from course_utils import config

ROOT = notebooks.ROOT
OUTPUT = ROOT / "_build" / "slides"
REVIEW, PDF = "review", "pdf"  # sub-folders: screenshots and contact sheets; handouts
CELL_TIMEOUT = 1200  # seconds; default-mode training cells take minutes on a laptop CPU


def execute(notebook, source_folder, fast, log_path):
    """Run a notebook in a fresh kernel in the given mode; return the executed copy."""
    import nbclient

    notebook = copy.deepcopy(notebook)
    env = config.environment("fast" if fast else "default")
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(source_folder)}},
    )
    pathlib.Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    # The kernel's own chatter (TensorFlow start-up lines) goes to a log, not between the
    # build's progress lines; cell errors still come back through the protocol.
    with open(log_path, "w") as log:
        client.execute(env=env, stdout=log, stderr=subprocess.STDOUT)
    return notebook


def build_deck(path, output=OUTPUT, fast=False, run=True):
    """Execute (unless ``run`` is false) and render one notebook; return its summary."""
    path = pathlib.Path(path)
    notebook = notebooks.read(path)
    if run:
        log = pathlib.Path(output) / "logs" / f"{path.stem}.log"
        notebook = execute(notebook, path.parent, fast, log)
    prepared = roles.prepare(notebook)
    deck = {**roles.summary(prepared, path.stem), "mode": _mode_name(fast, run)}
    (pathlib.Path(output) / f"{path.stem}.html").write_text(
        template.render(prepared, path.parent), encoding="utf-8"
    )
    return deck


def _mode_name(fast, run):
    """The mode a deck was built in, for the index page."""
    if not run:
        return "unexecuted"
    return "fast" if fast else "default"


def lecture_paths(only=None, root=ROOT):
    """The lecture notebooks to build: all of notebooks/, or those ``only`` names."""
    paths = notebooks.notebook_paths("notebooks", root)
    if not only:
        return paths
    chosen = []
    for name in only:
        if name.endswith(".ipynb") and pathlib.Path(name).exists():
            chosen.append(pathlib.Path(name).resolve())
            continue
        matches = [path for path in paths if path.stem == name or path.stem.startswith(name)]
        if len(matches) != 1:
            known = ", ".join(path.stem for path in paths) or "none"
            raise ValueError(f"--only {name}: matches {len(matches)} notebooks (known: {known})")
        chosen += matches
    return chosen


def build(paths, output=OUTPUT, fast=False, run=True):
    """Build the decks of ``paths`` and the index; return (summaries, failures)."""
    output = pathlib.Path(output)
    output.mkdir(parents=True, exist_ok=True)
    assets.copy_assets(output)
    decks = {deck["name"]: deck for deck in read_manifest(output)}
    failures = []
    for number, path in enumerate(paths, start=1):
        started = time.monotonic()
        prefix = f"[{number}/{len(paths)}] {path.stem}"
        print(f"{prefix}: {'executing and ' if run else ''}rendering ...", flush=True)
        try:
            deck = build_deck(path, output, fast=fast, run=run)
        except Exception as error:  # one broken notebook must not stop the others
            failures.append(
                f"{path.stem}: {type(error).__name__}: {_first_line(error)} "
                f"(kernel log: {output / 'logs' / (path.stem + '.log')})"
            )
            print(f"{prefix}: FAILED: {failures[-1]}", flush=True)
            continue
        decks[deck["name"]] = deck
        seconds = time.monotonic() - started
        print(f"{prefix}: {deck['slides']} slides in {seconds:.1f} s", flush=True)
    write_index(sorted(decks.values(), key=lambda d: d["name"]), output)
    return [decks[p.stem] for p in paths if p.stem in decks], failures


def _first_line(error):
    """The first line of an error message (a cell error carries the whole traceback)."""
    text = str(error).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if "Traceback" in text and lines else (lines[0] if lines else "")


def check(decks, output=OUTPUT, screenshots=True):
    """Look at every slide of built decks in headless Chromium; return the failures."""
    output = pathlib.Path(output)
    folder = output / REVIEW if screenshots else None
    failures = []
    with browser.Browser() as chromium:
        for deck in decks:
            started = time.monotonic()
            path = output / f"{deck['name']}.html"
            text = path.read_text(encoding="utf-8")
            remote = [f"loads from the network: {s}" for s in assets.remote_references(text)]
            found = review.check_deck(chromium, path, deck, folder)
            errors = remote + found["errors"]
            status = "ok" if not errors else f"{len(errors)} problems"
            seconds = time.monotonic() - started
            print(
                f"checked {deck['name']} in Chromium offline, {found.get('slides', 0)} slides "
                f"in {seconds:.1f} s: {status}",
                flush=True,
            )
            failures += [f"{deck['name']}: {error}" for error in errors]
    if folder is not None and decks:
        print(f"contact sheets: {folder}/NN_topic.png", flush=True)
        write_index(read_manifest(output), output)  # now with links to the contact sheets
    return failures


def print_decks(decks, output=OUTPUT):
    """Print every deck to ``pdf/<deck>.pdf``; return the failures."""
    output = pathlib.Path(output)
    (output / PDF).mkdir(parents=True, exist_ok=True)
    failures = []
    with browser.Browser() as chromium:
        for deck in decks:
            target = output / PDF / f"{deck['name']}.pdf"
            try:
                review.print_pdf(chromium, output / f"{deck['name']}.html", target)
            except RuntimeError as error:
                failures.append(f"{deck['name']}: PDF: {error}")
                continue
            pages = review.pdf_pages(target)
            if pages != deck["slides"]:
                failures.append(f"{deck['name']}: {pages} PDF pages for {deck['slides']} slides")
            print(f"printed {target.relative_to(output)}: {pages} pages", flush=True)
    write_index(read_manifest(output), output)
    return failures


# --- the index page ---------------------------------------------------------------------------

INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Dense prediction with convolutional networks: slides</title>
<style>
body {{ font-family: sans-serif; max-width: 52em; margin: 3em auto; line-height: 1.5; }}
li {{ margin: 0.4em 0; }} .meta {{ color: #666; font-size: 90%; }}
</style>
</head>
<body>
<h1>Dense prediction with convolutional networks</h1>
<p>One slide deck per lecture notebook. Arrow keys move between slides (down for a slide's
sub-slides), S opens the speaker notes, F goes full screen, Esc shows an overview. The decks
need no network.</p>
<ul>
{items}
</ul>
<p class="meta">Fast mode runs on small data in seconds; <code>make slides</code> builds the
decks in default mode, with the results the lectures state.</p>
</body>
</html>
"""


def _links(deck, output):
    """The handout and contact sheet links of a deck, where they exist."""
    links = []
    for folder, suffix, label in ((PDF, "pdf", "PDF"), (REVIEW, "png", "contact sheet")):
        if (output / folder / f"{deck['name']}.{suffix}").exists():
            links.append(f'<a href="{folder}/{html.escape(deck["name"])}.{suffix}">{label}</a>')
    return (" · " + " · ".join(links)) if links else ""


def write_index(decks, output=OUTPUT):
    """Write ``index.html`` linking every deck, and ``decks.json`` for the browser check."""
    output = pathlib.Path(output)
    items = "\n".join(
        f'<li><a href="{html.escape(deck["name"])}.html">{html.escape(deck["title"])}</a> '
        f'<span class="meta">{deck["slides"]} slides, {deck["mode"]} mode'
        f"{_links(deck, output)}</span></li>"
        for deck in decks
    )
    (output / "index.html").write_text(INDEX.format(items=items), encoding="utf-8")
    manifest = json.dumps({"decks": decks}, indent=1) + "\n"
    (output / "decks.json").write_text(manifest, encoding="utf-8")


def read_manifest(output=OUTPUT):
    """The decks listed in ``decks.json`` whose HTML is still there."""
    path = pathlib.Path(output) / "decks.json"
    if not path.exists():
        return []
    decks = json.loads(path.read_text(encoding="utf-8"))["decks"]
    return [deck for deck in decks if (pathlib.Path(output) / f"{deck['name']}.html").exists()]


# --- the command ------------------------------------------------------------------------------


def add_cli(subparsers):
    """Register ``course slides``."""
    parser = subparsers.add_parser(
        "slides",
        help="build the offline reveal.js decks of the lecture notebooks",
        description="Execute each lecture notebook, render one reveal.js deck per notebook and "
        "an index page, with reveal.js and MathJax copied next to them (no CDN), then look at "
        "every slide in headless Chromium with the network blocked (when chromium is "
        "installed): overflow, long code, unrendered formulas and missing images fail; a "
        "contact sheet per deck goes to review/. See docs/slides.md.",
    )
    parser.add_argument("--fast", action="store_true", help="execute in fast mode")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="build only this notebook (01, 01_conv2d_padding_stride or a path); repeatable",
    )
    parser.add_argument(
        "--no-execute",
        action="store_true",
        help="render the notebooks as stored, without outputs (a quick layout check)",
    )
    parser.add_argument("--no-check", action="store_true", help="skip the browser check")
    parser.add_argument(
        "--pdf", action="store_true", help="also print each deck to pdf/, one page per slide"
    )
    parser.add_argument("--out", default=str(OUTPUT), help="output folder (default: %(default)s)")
    parser.set_defaults(handler=_cli_slides)


def _cli_slides(arguments):
    """``course slides``."""
    try:
        paths = lecture_paths(arguments.only)
    except ValueError as error:
        print(f"error: {error}")
        return 2
    if not paths:
        print("error: no lecture notebooks in notebooks/")
        return 1
    decks, failures = build(paths, arguments.out, arguments.fast, not arguments.no_execute)
    has_browser = browser.find_browser() is not None
    if not has_browser and (arguments.pdf or not arguments.no_check):
        print("note: chromium is not installed: no browser check and no PDF.")
    elif decks:
        if not arguments.no_check:
            failures += check(decks, arguments.out)
        if arguments.pdf:
            failures += print_decks(decks, arguments.out)
    for failure in failures:
        print(f"error: {failure}")
    index = pathlib.Path(arguments.out) / "index.html"
    print(f"{len(decks)} decks in {index.parent} (open {index}); {len(failures)} problems.")
    return 1 if failures else 0
