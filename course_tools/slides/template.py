"""The deck's HTML: nbconvert's reveal.js template with every CDN include replaced by local files.

Scripts and styles come from ``lib/`` next to the deck (see ``assets``); figures are data URIs;
MathJax typesets formulas as SVG (no font files to fetch). A slide taller than the screen gives
way in two steps (``fitSlide``): figures shrink first, down to about half their height, then the
whole slide, down to 65 %; the browser check fails a slide still too tall after that. With
``?print-pdf`` in its address a deck lays out one page per slide, fragments shown, for the PDF.
"""

import jinja2

LIBRARY = "lib"  # the folder next to the decks that holds reveal.js and MathJax
WIDTH, HEIGHT = 1280, 720  # 16:9, the shape of most lecture-hall projectors
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
/* A slide still too tall once fitted (see fitSlide) scrolls rather than being cut off. */
.reveal .slides > section, .reveal .slides > section > section {
  height: 100%; overflow-y: auto; overflow-x: hidden;
}
.reveal .slides { text-align: left; }
/* Names like Conv2DTranspose keep their case (the theme comes later: be more specific). */
.reveal .slides h1, .reveal .slides h2, .reveal .slides h3 { text-transform: none; }
.reveal .jp-RenderedHTMLCommon { font-size: 26px; line-height: 1.35; }
.reveal .slides h1 { font-size: 1.6em; }
.reveal .slides h2, .reveal .slides h3 { font-size: 1.3em; margin: 0 0 0.5em 0; }
.reveal .slides p, .reveal .slides li { font-size: 1em; line-height: 1.35; }
.reveal .slides li { margin: 0.15em 0; }
/* Figures sit centred, as large as the slide allows. */
.reveal .jp-OutputArea-output img {
  display: block; margin: 0.2em auto; max-width: 100%; max-height: 600px;
  width: auto; height: auto;
}
.reveal .jp-RenderedImage { width: 100%; }
.reveal .jp-InputPrompt, .reveal .jp-OutputPrompt { display: none; }
.reveal .jp-InputArea pre { font-size: 18px; line-height: 1.3; }
.reveal .jp-OutputArea-output pre { font-size: 17px; line-height: 1.3; }
.reveal .jp-Cell { margin: 0.15em 0; }
.reveal mjx-container[display="true"] { margin: 0.4em 0 !important; }
/* MathJax draws glyphs as filled paths with stroke-width 0, which a PDF reads as a hairline
   and prints bold: no stroke at all. */
.reveal mjx-container svg g[stroke-width="0"] { stroke: none; }
</style>
{%- endblock html_head_css -%}
{% block footer_js %}
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script src="{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"></script>
<script>
// A slide taller than the screen gives way: figures first, down to about half their height
// (never below MIN_FIGURE pixels), then everything, down to 65 %. Both measured, not guessed.
const MIN_FIGURE = 220;
function fitSlide(slide) {
  if (!slide) return;
  const cells = [...slide.children].filter((cell) => !cell.matches("aside.notes, section"));
  const figures = [...slide.querySelectorAll(".jp-OutputArea-output img")];
  cells.forEach((cell) => { cell.style.zoom = ""; });
  figures.forEach((figure) => { figure.style.maxHeight = ""; });
  const excess = () => slide.scrollHeight - slide.clientHeight;
  const full = figures.map((figure) => figure.offsetHeight);
  for (let pass = 0; pass < 3 && excess() > 1 && figures.length; pass++) {
    const share = excess() / figures.length + 2;
    figures.forEach((figure, index) => {
      const least = Math.min(full[index], Math.max(MIN_FIGURE, 0.5 * full[index]));
      figure.style.maxHeight = Math.max(least, figure.offsetHeight - share) + "px";
    });
  }
  let scale = 1;
  // Twice: paddings that do not shrink make one proportional step fall a little short.
  for (let pass = 0; pass < 2 && excess() > 1; pass++) {
    scale = Math.max(0.65, scale * slide.clientHeight / slide.scrollHeight - 0.005);
    cells.forEach((cell) => { cell.style.zoom = scale; });
  }
}
window.courseFitSlide = fitSlide;
const fitCurrent = () => fitSlide(Reveal.getCurrentSlide());
const fitAll = () => Reveal.getSlides().forEach(fitSlide);
Reveal.on("ready", fitCurrent);
Reveal.on("slidechanged", fitCurrent);
// In the print layout every slide is a page: fit them all, then tell the printer.
Reveal.on("pdf-ready", () => {
  MathJax.startup.promise.then(() => { fitAll(); window.coursePrintReady = true; });
});
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
  pdfSeparateFragments: false,
  pdfMaxPagesPerSlide: 1,
  plugins: [RevealNotes]
});
</script>
{% endblock footer_js %}
"""


def exporter():
    """nbconvert's SlidesExporter pointed at the local reveal.js and the course template."""
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
    """The HTML of the deck of a prepared notebook (see ``roles.prepare``)."""
    resources = {"metadata": {"path": str(source_folder)}, "course_library": LIBRARY}
    body, _ = exporter().from_notebook_node(prepared, resources=resources)
    return body
