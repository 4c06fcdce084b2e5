#!/usr/bin/env bash
# Install the Debian packages the course uses offline, when we can (root with apt) and must.
#   dataset-fashion-mnist: Fashion-MNIST without a download (course_utils.data).
#   chromium: the browser that tests the slide decks.
#   graphviz: draws the lectures' network diagrams (keras.utils.plot_model through pydot).
#   npm: installs reveal.js and MathJax for the decks, when no npm is on the machine.
# Without root or apt, say what is missing and go on: loaders fall back to downloading.
set -u
packages=(dataset-fashion-mnist chromium graphviz)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
# The slide decks' reveal.js and MathJax come from npm; a nodesource nodejs ships its own npm,
# so look for the command rather than Debian's package.
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: not installing ${missing[*]} (needs root and apt); run: sudo apt-get install ${missing[*]}"
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
