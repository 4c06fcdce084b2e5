"""reveal.js and MathJax from npm, copied next to the decks, and the check that nothing else loads.

``package-lock.json`` pins both; ``npm ci`` installs them into ``node_modules/`` when missing.
Each deck folder gets its own copy under ``lib/`` with the licences, so a folder of decks can be
carried to a lecture hall and opened from disk.
"""

import json
import pathlib
import re
import shutil
import subprocess

from course_tools import notebooks
from course_tools.slides import template

ROOT = notebooks.ROOT
NODE_MODULES = ROOT / "node_modules"
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
REMOTE_REFERENCE = re.compile(
    r"""<(?:script|img|iframe|source|video|audio)\b[^>]*\bsrc=["']?(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref=["']?(?:https?:)?//|@import\s+url\(["']?(?:https?:)?//"""
    r"""|import\s[^;]*from\s+["'](?:https?:)?//""",
    re.I,
)


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


def copy_assets(output):
    """Copy the files the decks load from node_modules/ into ``output/lib``."""
    ensure_node_modules()
    for package, paths in ASSETS.items():
        for relative in paths:
            source = NODE_MODULES / package / relative
            target = pathlib.Path(output) / template.LIBRARY / package / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copyfile(source, target)


def remote_references(text):
    """Snippets of HTML or CSS that would load something over the network."""
    return [text[m.start() : m.start() + 120] for m in REMOTE_REFERENCE.finditer(text)]
