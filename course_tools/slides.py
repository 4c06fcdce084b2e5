"""Lecture slides: one offline reveal.js deck per lecture notebook, and a browser check of each.

``course slides`` executes every notebook in ``notebooks/`` (default mode, or fast with
``--fast``), gives its cells slideshow roles on the fly (the notebooks on disk carry no slideshow
metadata), renders one reveal.js deck per notebook into ``_build/slides/`` with nbconvert, writes
an index page, and copies reveal.js and MathJax next to the decks from ``node_modules/``
(installed by ``npm ci`` from the pinned ``package-lock.json``). Nothing comes from a CDN:
figures are data URIs, formulas are typeset by the local MathJax as SVG (no font files to
fetch), so a deck opened from disk with no network shows everything. Where Debian's chromium is
installed, each deck is then opened headless with the network blocked and checked.

What a cell becomes, decided from the notebook itself:

| cell                                                        | on the slides                   |
| ----------------------------------------------------------- | ------------------------------- |
| markdown starting with a ``#`` or ``##`` heading            | starts a new slide              |
| tagged ``notes``                                            | speaker notes (press S)         |
| the Setup cell (the first code cell) or tagged ``setup``    | hidden                          |
| code whose outputs are all logs (training logs, progress    | hidden, code and all            |
| bars, stderr)                                               |                                 |
| code longer than ``LONG_INPUT_LINES`` lines                 | its outputs only                |
| anything else                                               | continues the current slide     |

Log outputs (stderr, Keras epoch logs, tqdm bars) and widgets (they need a live kernel) are
dropped from every cell. A slide taller than the screen shrinks to fit, down to 65 %; beyond
that it scrolls (the browser check counts such slides: a ``##`` more would split them).
"""

import base64
import contextlib
import copy
import fcntl
import html
import json
import os
import pathlib
import re
import select
import shutil
import subprocess
import tempfile
import time

from course_tools import notebooks
from course_utils import config

ROOT = notebooks.ROOT
OUTPUT = ROOT / "_build" / "slides"
NODE_MODULES = ROOT / "node_modules"
LIBRARY = "lib"  # the folder next to the decks that holds reveal.js and MathJax
# Code longer than this fills a slide and is unreadable from the back of a hall: show its output.
LONG_INPUT_LINES = 15
WIDTH, HEIGHT = 1280, 720  # 16:9, the shape of most lecture-hall projectors
CELL_TIMEOUT = 1200  # seconds; default-mode training cells take minutes on a laptop CPU
# The files a deck loads, per npm package; their licences travel with them.
ASSETS = {
    "reveal.js": (
        "LICENSE",
        "dist/reveal.js",
        "dist/reveal.css",
        "dist/theme/white.css",
        "dist/theme/fonts/source-sans-pro",
        "plugin/notes/notes.js",
    ),
    "mathjax": ("LICENSE", "es5/tex-svg-full.js"),
}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
HEADING = re.compile(r"^\s*#{1,2}\s+(.*)")
# Keras epoch logs ("Epoch 3/10", "32/32 ━━━━ 1s 20ms/step - loss: 0.1") and progress bars.
LOG_LINE = re.compile(r"^\s*Epoch \d+/\d+|\d+m?s/step\b|^\s*\d+/\d+ [━=>.]{3}|\d+%\|", re.M)
COLAB_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)\s*", re.I)
REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\((https?://[^)\s]+)[^)]*\)")
CODE_IN_MARKDOWN = re.compile(r"```.*?```|`[^`\n]*`", re.S)
FORMULA = re.compile(r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|\$[^$\n]+?\$", re.S)


# --- from notebook to deck -------------------------------------------------------------------


def tags(cell):
    """The tags of a cell."""
    return set(cell.get("metadata", {}).get("tags", []))


def is_log(output):
    """True for an output that is a log rather than a result: stderr, training log, progress bar."""
    if output.get("output_type") == "stream":
        return output.get("name") == "stderr" or bool(LOG_LINE.search(output.get("text", "")))
    text = output.get("data", {}).get("text/plain", "")
    return WIDGET_VIEW in output.get("data", {}) and bool(LOG_LINE.search(text))


def is_heading(cell):
    """True for a markdown cell that starts with a ``#`` or ``##`` heading."""
    return cell.cell_type == "markdown" and bool(HEADING.match(cell.source))


def setup_index(notebook):
    """Index of the Setup cell: by convention the first code cell (None if there is no code)."""
    return next((i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"), None)


def slide_type(cell, is_setup):
    """The reveal.js role of one (already cleaned) cell."""
    if "notes" in tags(cell):
        return "notes"
    if is_setup or "setup" in tags(cell):
        return "skip"
    if is_heading(cell):
        return "slide"
    if cell.cell_type == "code" and cell.metadata.get("course_only_logs"):
        return "skip"
    if cell.cell_type == "code" and cell.metadata.get("transient") and not cell.outputs:
        return "skip"  # a long definition with nothing to show
    return "-"


def clean_code_cell(cell):
    """Drop log and widget outputs; hide long code; mark cells that printed only logs."""
    logs = [is_log(output) for output in cell.outputs]
    if logs and all(logs):
        cell.metadata["course_only_logs"] = True
    cell.outputs = [
        output
        for output, log in zip(cell.outputs, logs)
        if not log and WIDGET_VIEW not in output.get("data", {})
    ]
    if len(cell.source.strip().splitlines()) > LONG_INPUT_LINES:
        cell.metadata["transient"] = {"remove_source": True}


def clean_markdown_cell(cell):
    """Remove the Colab badge and turn remote images into links: a deck fetches nothing."""
    source = COLAB_BADGE.sub("", cell.source)
    cell.source = REMOTE_IMAGE.sub(r"[\1](\2)", source)


def prepare(notebook):
    """A copy of ``notebook`` with slideshow metadata assigned from its structure."""
    notebook = copy.deepcopy(notebook)
    notebook.metadata.pop("widgets", None)  # no widget manager offline
    setup = setup_index(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            clean_code_cell(cell)
        elif cell.cell_type == "markdown":
            clean_markdown_cell(cell)
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell, index == setup)}
    visible = [cell for cell in notebook.cells if _visible(cell)]
    if visible:
        visible[0].metadata.slideshow["slide_type"] = "slide"  # a deck starts with a slide
    return notebook


def _visible(cell):
    """True for a cell that shows on a slide (not hidden, not a speaker note)."""
    return cell.metadata.slideshow["slide_type"] not in ("skip", "notes")


def title(notebook, default):
    """The text of the notebook's first heading."""
    for cell in notebook.cells:
        match = HEADING.match(cell.source) if cell.cell_type == "markdown" else None
        if match:
            return match.group(1).strip()
    return default


def count_formulas(notebook):
    """How many formulas MathJax should typeset in a prepared notebook's markdown."""
    texts = [c.source for c in notebook.cells if c.cell_type == "markdown" and _shown_or_notes(c)]
    for cell in notebook.cells:
        if cell.cell_type == "code" and _shown_or_notes(cell):
            for output in cell.outputs:
                data = output.get("data", {})
                texts += [data.get("text/markdown", ""), data.get("text/latex", "")]
    texts = [CODE_IN_MARKDOWN.sub("", text).replace(r"\$", "") for text in texts]
    return sum(len(FORMULA.findall(text)) for text in texts)


def _shown_or_notes(cell):
    """True for a cell whose content is in the deck's HTML (on a slide or in the notes)."""
    return cell.metadata.slideshow["slide_type"] != "skip"


def count_images(notebook):
    """How many images the prepared notebook's shown outputs carry."""
    return sum(
        1
        for cell in notebook.cells
        if cell.cell_type == "code" and _shown_or_notes(cell)
        for output in cell.outputs
        if {"image/png", "image/jpeg"} & set(output.get("data", {}))
    )


def summary(notebook, name):
    """What the browser check expects of the deck of a prepared notebook."""
    kinds = [cell.metadata.slideshow["slide_type"] for cell in notebook.cells]
    return {
        "name": name,
        "title": title(notebook, name),
        "slides": kinds.count("slide"),
        "notes": kinds.count("notes"),
        "formulas": count_formulas(notebook),
        "images": count_images(notebook),
    }


# The deck template: nbconvert's reveal template with every CDN include replaced by local files.
TEMPLATE_NAME = "course_slides.html.j2"
TEMPLATE = """{%- extends 'index.html.j2' -%}
{% set lib = resources.course_library %}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {
    inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]],
    displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
    processEscapes: true,
    processEnvironments: true,
    tags: "ams"
  },
  // The speaker view copies a note's HTML into its own window, without MathJax's styles: each
  // formula must carry its own glyphs, and no hidden MathML copy that would show there.
  svg: {fontCache: "local"},
  options: {enableAssistiveMml: false, menuOptions: {settings: {assistiveMml: false}}}
};
</script>
<script src="{{ lib }}/mathjax/es5/tex-svg-full.js"></script>
{%- endblock html_head_js_mathjax -%}
{%- block html_head_css -%}
<style type="text/css">
/* A slide still too tall once shrunk (see fitSlide) scrolls rather than being cut off. */
.reveal .slides > section, .reveal .slides > section > section {
  height: 100%; overflow-y: auto; overflow-x: hidden;
}
.reveal .slides { text-align: left; }
/* Names like Conv2DTranspose keep their case (the theme comes later: be more specific). */
.reveal .slides h1, .reveal .slides h2, .reveal .slides h3 { text-transform: none; }
.reveal .jp-OutputArea-output img { max-height: 560px; width: auto; }
.reveal .jp-InputPrompt, .reveal .jp-OutputPrompt { display: none; }
</style>
{%- endblock html_head_css -%}
{% block footer_js %}
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script src="{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"></script>
<script>
// A slide taller than the screen shrinks to fit, down to 65 %; beyond that it scrolls.
function fitSlide(slide) {
  const cells = [...slide.children].filter((cell) => !cell.matches("aside.notes, section"));
  let scale = 1;
  cells.forEach((cell) => { cell.style.zoom = ""; });
  // Twice: paddings that do not shrink make one proportional step fall a little short.
  for (let pass = 0; pass < 2 && slide.scrollHeight > slide.clientHeight + 1; pass++) {
    scale = Math.max(0.65, scale * slide.clientHeight / slide.scrollHeight - 0.005);
    cells.forEach((cell) => { cell.style.zoom = scale; });
  }
}
const fitCurrent = () => fitSlide(Reveal.getCurrentSlide());
Reveal.on("ready", fitCurrent);
Reveal.on("slidechanged", fitCurrent);
// Fonts, figures and formulas change heights after reveal.js is ready.
window.addEventListener("load", fitCurrent);
MathJax.startup.promise.then(fitCurrent);
Reveal.initialize({
  controls: true,
  progress: true,
  hash: true,
  center: false,
  slideNumber: "c/t",
  transition: "{{ resources.reveal.transition }}",
  width: {{ resources.reveal.width }},
  height: {{ resources.reveal.height }},
  margin: 0.03,
  plugins: [RevealNotes]
});
</script>
{% endblock footer_js %}
"""


def exporter():
    """nbconvert's SlidesExporter pointed at the local reveal.js and the course template."""
    import jinja2
    import nbconvert

    return nbconvert.SlidesExporter(
        extra_loaders=[jinja2.DictLoader({TEMPLATE_NAME: TEMPLATE})],
        template_file=TEMPLATE_NAME,
        reveal_url_prefix=f"{LIBRARY}/reveal.js",
        reveal_theme="white",  # its fonts are local files; "simple" imports Google Fonts
        reveal_width=str(WIDTH),
        reveal_height=str(HEIGHT),
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,  # markdown images become data URIs like figures are
    )


def render(prepared, source_folder):
    """The HTML of the deck of a prepared notebook."""
    resources = {"metadata": {"path": str(source_folder)}, "course_library": LIBRARY}
    body, _ = exporter().from_notebook_node(prepared, resources=resources)
    return body


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
    prepared = prepare(notebook)
    deck = {**summary(prepared, path.stem), "mode": _mode_name(fast, run)}
    (pathlib.Path(output) / f"{path.stem}.html").write_text(
        render(prepared, path.parent), encoding="utf-8"
    )
    return deck


# --- reveal.js and MathJax from npm ----------------------------------------------------------


def _lock_versions():
    """The package versions pinned in package-lock.json."""
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    return {name: lock["packages"][f"node_modules/{name}"]["version"] for name in ASSETS}


def _installed_version(name):
    """The version of an npm package in node_modules/, or None."""
    manifest = NODE_MODULES / name / "package.json"
    if not manifest.exists():
        return None
    return json.loads(manifest.read_text(encoding="utf-8"))["version"]


def ensure_node_modules():
    """Run ``npm ci`` when node_modules/ lacks the pinned reveal.js or MathJax."""
    if all(_installed_version(name) == v for name, v in _lock_versions().items()):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "The slides need reveal.js and MathJax from npm, and npm is not installed: "
            "install Node.js and npm (Debian: apt-get install npm), then run 'make slides'."
        )
    print("installing reveal.js and MathJax: npm ci", flush=True)
    command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    subprocess.run(command, cwd=ROOT, check=True)


def copy_assets(output=OUTPUT):
    """Copy the files the decks load from node_modules/ into ``output/lib``."""
    ensure_node_modules()
    for package, paths in ASSETS.items():
        for relative in paths:
            source = NODE_MODULES / package / relative
            target = pathlib.Path(output) / LIBRARY / package / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copyfile(source, target)


# --- the index page ---------------------------------------------------------------------------

INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Dense prediction with convolutional networks: slides</title>
<style>
body {{ font-family: sans-serif; max-width: 48em; margin: 3em auto; line-height: 1.5; }}
li {{ margin: 0.4em 0; }} .meta {{ color: #666; font-size: 90%; }}
</style>
</head>
<body>
<h1>Dense prediction with convolutional networks</h1>
<p>One slide deck per lecture notebook. Arrow keys move between slides, S opens the speaker
notes, F goes full screen. The decks need no network.</p>
<ul>
{items}
</ul>
<p class="meta">Fast mode runs on small data in seconds; <code>make slides</code> builds the
decks in default mode, with the results the lectures state.</p>
</body>
</html>
"""


def write_index(decks, output=OUTPUT):
    """Write ``index.html`` linking every deck, and ``decks.json`` for the browser check."""
    output = pathlib.Path(output)
    items = "\n".join(
        f'<li><a href="{html.escape(deck["name"])}.html">{html.escape(deck["title"])}</a> '
        f'<span class="meta">{deck["slides"]} slides, {deck["mode"]} mode</span></li>'
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


# --- the static offline check -------------------------------------------------------------------

REMOTE_REFERENCE = re.compile(
    r"""<(?:script|img|iframe|source|video|audio)\b[^>]*\bsrc=["']?(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref=["']?(?:https?:)?//|@import\s+url\(["']?(?:https?:)?//"""
    r"""|import\s[^;]*from\s+["'](?:https?:)?//""",
    re.I,
)


def remote_references(text):
    """Snippets of HTML or CSS that would load something over the network."""
    return [text[m.start() : m.start() + 120] for m in REMOTE_REFERENCE.finditer(text)]


# --- the browser check ------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    # No name resolves: a deck that reaches for the network fails loudly instead of hanging.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
)


def find_browser():
    """Path of an installed Chromium, or None."""
    return next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)


def _above(fd, lowest):
    """A copy of ``fd`` numbered ``lowest`` or more; the original is closed."""
    copied = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return copied


class Browser:
    """Headless Chromium driven over the DevTools protocol through a pipe: no port, no websocket.

    ``--remote-debugging-pipe`` makes Chromium read commands from fd 3 and write replies to
    fd 4, as JSON messages ended by a NUL byte.
    """

    def __init__(self, executable=None, timeout=60.0):
        self.executable = executable or find_browser()
        self.timeout = timeout
        self.events = []
        self._next_id = 0
        self._buffer = b""

    def __enter__(self):
        """Start Chromium with an empty profile."""
        if self.executable is None:
            raise RuntimeError("No Chromium found: install Debian's chromium (make slides does).")
        self._profile = tempfile.TemporaryDirectory(prefix="course-chromium-")
        to_browser, self._writer = os.pipe()
        self._reader, from_browser = os.pipe()
        # Move the child's ends above 9, so that putting them on fds 3 and 4 clobbers neither.
        to_browser, from_browser = (_above(fd, 10) for fd in (to_browser, from_browser))
        arguments = [*CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"]
        # bash moves the pipe ends onto fds 3 and 4, where Chromium expects them (dash cannot
        # redirect from fds above 9).
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}', self.executable]
            + arguments,
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        return self

    def __exit__(self, *exc_info):
        """Close Chromium and its profile."""
        # Already gone is fine: killing below is the fallback.
        with contextlib.suppress(RuntimeError, OSError):
            self.call("Browser.close", timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._writer)
        os.close(self._reader)
        self._profile.cleanup()

    def call(self, method, session=None, timeout=None, **params):
        """Send one DevTools command and wait for its result; events are kept in ``events``."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._receive(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, event, session, timeout=None, where=lambda params: True):
        """Wait for an event of a session (one already received counts); return its params."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for message in self.events:
                if (
                    message.get("method") == event
                    and message.get("sessionId") == session
                    and where(message.get("params", {}))
                ):
                    return message.get("params", {})
            self.events.append(self._receive(deadline, event))

    def _receive(self, deadline, waiting_for):
        """The next message from Chromium."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._reader], [], [], left)[0]:
                raise RuntimeError(f"Chromium did not answer {waiting_for} in time.")
            chunk = os.read(self._reader, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe (did it crash?).")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def attach(self, target):
        """Attach to a target with logging on; return the session id."""
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session)
        return session

    def open_page(self, url):
        """Open ``url`` in a new tab; return the tab's session id."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.attach(target)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)
        return session

    def evaluate(self, session, expression):
        """The value of a JavaScript expression in a tab (promises are awaited)."""
        result = self.call(
            "Runtime.evaluate",
            session,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def press(self, session, key, key_code, code=None):
        """Press and release one key in a tab, as a user would (popups are allowed then)."""
        for kind in ("keyDown", "keyUp"):
            # A printable key sends its character with the key press, like a keyboard does.
            text = {"text": key} if kind == "keyDown" and len(key) == 1 else {}
            self.call(
                "Input.dispatchKeyEvent",
                session,
                type=kind,
                key=key,
                code=code or key,
                windowsVirtualKeyCode=key_code,
                nativeVirtualKeyCode=key_code,
                **text,
            )

    def problems(self, session):
        """Console errors, uncaught exceptions and network requests of a tab."""
        found = []
        for message in self.events:
            if message.get("sessionId") != session:
                continue
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                values = [str(arg.get("value", arg.get("description"))) for arg in params["args"]]
                found.append("console: " + " ".join(values))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(f"exception: {details.get('exception', {}).get('description')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:", "blob:", "about:")):
                    found.append(f"network request: {url}")
        return found


# Waits for reveal.js and MathJax, then measures what the deck shows.
INSPECT = """(async () => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const deadline = Date.now() + 30000;
  while (!(window.Reveal && Reveal.isReady() && window.MathJax && MathJax.startup
           && MathJax.startup.promise)) {
    if (Date.now() > deadline) return {error: "reveal.js or MathJax did not start"};
    await sleep(50);
  }
  await MathJax.startup.promise;
  await document.fonts.ready;
  const slides = document.querySelector(".reveal .slides");
  const images = [...slides.querySelectorAll("img")];
  await Promise.all(images.map((image) => image.decode().catch(() => null)));
  const skip = "PRE, CODE, SCRIPT, STYLE, MJX-CONTAINER";
  const walker = document.createTreeWalker(slides, NodeFilter.SHOW_TEXT);
  let text = "";
  while (walker.nextNode()) {
    if (!walker.currentNode.parentElement.closest(skip)) text += walker.currentNode.data;
  }
  const sections = Reveal.getHorizontalSlides();
  const firstWith = (selector) => sections.findIndex((s) => s.querySelector(selector));
  return {
    slides: sections.length,
    notes: slides.querySelectorAll("aside.notes").length,
    notesPlugin: Reveal.hasPlugin("notes"),
    formulas: slides.querySelectorAll("mjx-container").length,
    formulaErrors: slides.querySelectorAll("mjx-merror, [data-mjx-error]").length,
    untypeset: (text.match(/\\$\\$|\\$[^$\\s][^$]*\\$|\\\\\\(|\\\\\\[/g) || []).slice(0, 3),
    images: images.length,
    brokenImages: images.filter((image) => !(image.complete && image.naturalWidth > 0)).length,
    fonts: document.fonts.status,
    tall: sections.filter((section, index) => {
      Reveal.slide(index, 0);  // only slides near the current one are laid out
      const shown = Reveal.getCurrentSlide();  // nbconvert nests a subslide in each slide
      return shown.scrollHeight > shown.clientHeight + 2;
    }).length,
    showcase: firstWith("img") >= 0 ? firstWith("img") : Math.max(firstWith("mjx-container"), 0),
  };
})()"""

GO_TO = """(async (index) => {
  Reveal.configure({transition: "none"});
  Reveal.slide(index, 0);
  await new Promise((resolve) => setTimeout(resolve, 400));
  return Reveal.getIndices().h;
})(%d)"""


def check_deck(browser, path, expected, screenshot=None):
    """Open a deck with the network blocked; return its measures, with ``errors`` (empty: good)."""
    session = browser.open_page(pathlib.Path(path).resolve().as_uri())
    found = browser.evaluate(session, INSPECT)
    if "error" in found:
        return {"errors": [found["error"], *browser.problems(session)]}
    errors = _compare(found, expected)
    browser.evaluate(session, "Reveal.slide(0, 0)")
    browser.press(session, "ArrowRight", 39)
    moved = browser.evaluate(session, "Reveal.getIndices().h")
    if found["slides"] > 1 and moved != 1:
        errors.append(f"the right arrow key went to slide {moved}, not 1")
    if screenshot is not None:
        browser.evaluate(session, GO_TO % found["showcase"])
        image = browser.call("Page.captureScreenshot", session, format="png")["data"]
        pathlib.Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(screenshot).write_bytes(base64.b64decode(image))
    errors += browser.problems(session)
    browser.call("Target.closeTarget", targetId=_target_of(browser, session))
    return {**found, "errors": errors}


SPEAKER_NOTES = """(async () => {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const notes = document.querySelector(".speaker-controls-notes .value");
    if (notes && notes.innerText.trim()) {
      const svgs = [...notes.querySelectorAll("mjx-container svg")];
      const drawn = svgs.filter((svg) => svg.getBoundingClientRect().width > 0
                                && svg.querySelector("use, path"));
      return {text: notes.innerText, formulas: svgs.length, drawn: drawn.length};
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return null;
})()"""


def speaker_notes(browser, session, slide):
    """What the speaker view (key S) shows as notes of slide ``slide``, and its problems."""
    browser.call("Target.setDiscoverTargets", discover=True)
    opener = _target_of(browser, session)
    browser.evaluate(session, f"Reveal.slide({slide}, 0)")
    browser.press(session, "s", 83, code="KeyS")
    popup = browser.wait_for(
        "Target.targetCreated", None, where=lambda p: p["targetInfo"].get("openerId") == opener
    )["targetInfo"]["targetId"]
    popup_session = browser.attach(popup)
    shown = browser.evaluate(popup_session, SPEAKER_NOTES)
    problems = browser.problems(popup_session)
    browser.call("Target.closeTarget", targetId=popup)
    return shown, problems


def _target_of(browser, session):
    """The target id of a session, from the attach event Chromium sent."""
    for message in browser.events:
        params = message.get("params", {})
        if message.get("method") == "Target.attachedToTarget" and params["sessionId"] == session:
            return params["targetInfo"]["targetId"]
    raise RuntimeError(f"no target for session {session}")


def _compare(found, expected):
    """What the measured deck gets wrong compared with its summary."""
    errors = []
    pairs = [("slides", "slides"), ("notes", "notes speaker notes"), ("formulas", "formulas")]
    for key, what in pairs:
        if found[key] != expected[key]:
            errors.append(f"{found[key]} {what} in the browser, expected {expected[key]}")
    if found["images"] < expected["images"] or found["brokenImages"]:
        errors.append(
            f"{found['brokenImages']} of {found['images']} images did not load "
            f"({expected['images']} figures expected)"
        )
    if found["formulaErrors"] or found["untypeset"]:
        errors.append(
            f"{found['formulaErrors']} formulas failed, untypeset: {found['untypeset']} "
            "(a $ that is not math? write \\$)"
        )
    if not found["notesPlugin"]:
        errors.append("the speaker notes plugin did not load")
    if found["fonts"] != "loaded":
        errors.append(f"fonts did not load: {found['fonts']}")
    return errors


# --- the command ------------------------------------------------------------------------------


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
    copy_assets(output)
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


def _mode_name(fast, run):
    """The mode a deck was built in, for the index page."""
    if not run:
        return "unexecuted"
    return "fast" if fast else "default"


def check(decks, output=OUTPUT, screenshots=None):
    """Check built decks in headless Chromium; return the failures."""
    output = pathlib.Path(output)
    screenshots = pathlib.Path(screenshots or output / "screenshots")
    failures = []
    with Browser() as browser:
        for deck in decks:
            path = output / f"{deck['name']}.html"
            text = path.read_text(encoding="utf-8")
            remote = [f"loads from the network: {s}" for s in remote_references(text)]
            found = check_deck(browser, path, deck, screenshots / f"{deck['name']}.png")
            errors = remote + found["errors"]
            status = "ok" if not errors else f"{len(errors)} problems"
            # Tall slides scroll; worth knowing for whoever writes the notebook.
            scrolling = f", {found['tall']} slides scroll" if found.get("tall") else ""
            print(f"checked {deck['name']} in Chromium offline: {status}{scrolling}", flush=True)
            failures += [f"{deck['name']}: {error}" for error in errors]
    return failures


def add_cli(subparsers):
    """Register ``course slides``."""
    parser = subparsers.add_parser(
        "slides",
        help="build the offline reveal.js decks of the lecture notebooks",
        description="Execute each lecture notebook, render one reveal.js deck per notebook and "
        "an index page, with reveal.js and MathJax copied next to them (no CDN), then check "
        "every deck in headless Chromium with the network blocked, when chromium is installed.",
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
    if not arguments.no_check and find_browser() is None:
        print("note: chromium is not installed, so the decks were not checked in a browser.")
    elif not arguments.no_check and decks:
        failures += check(decks, arguments.out)
    for failure in failures:
        print(f"error: {failure}")
    index = pathlib.Path(arguments.out) / "index.html"
    print(f"{len(decks)} decks in {index.parent} (open {index}); {len(failures)} problems.")
    return 1 if failures else 0
