#!/usr/bin/env bash
# Regenerates docs/grc_classify_live.png: GNU Radio Companion (from the source tree's grc/) opened on
# examples/classify_live.grc under a virtual X display, with the [AMC] category tree unfolded.
# Needs: xvfb, xdotool, imagemagick (apt-get install xvfb xdotool imagemagick). Run from the repo root:
#   xvfb-run -a -s "-screen 0 1600x950x24" bash docs/grc_screenshot.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export GRC_BLOCKS_PATH="$ROOT/grc"
gnuradio-companion "$ROOT/examples/classify_live.grc" > /dev/null 2>&1 &
GRC=$!
sleep 10
W=$(xdotool search --onlyvisible --name "classify_live.grc" | head -1)
xdotool windowsize "$W" 1600 950
sleep 2
# unfold [AMC] and its sub-categories in the block tree
xdotool mousemove 1385 78 click 1
sleep 1
for y in 101 124 147 170 193; do xdotool mousemove 1405 $y click 1; sleep 0.3; done
sleep 2
import -window root "$ROOT/docs/grc_classify_live.png"
kill $GRC
