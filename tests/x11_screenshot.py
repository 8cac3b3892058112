#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Screenshot of the whole X display ($DISPLAY, e.g. Xvfb) to a PNG, checked for a window with content.

usage: x11_screenshot.py OUT.png [--min-colors N] [--min-fraction F]

Grabs the root window with Qt (PyQt5 comes with GNU Radio's Qt GUI), saves it, and exits 1 unless the
picture shows something: at least N distinct colours (default 16) and at least a fraction F (default
0.05) of the pixels differing from the most common colour (an empty Xvfb screen is one flat colour).
Prints the measures. Used by tests/check_install.sh on GUI flowgraphs and GNU Radio Companion.
"""
import argparse
import sys

import numpy as np
from PyQt5 import QtGui, QtWidgets


def grab(path):
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["x11_screenshot"])
    screen = app.primaryScreen()
    if screen is None:
        raise SystemExit("x11_screenshot: no screen (is DISPLAY set?)")
    pix = screen.grabWindow(0)
    if pix.isNull() or not pix.save(path, "PNG"):
        raise SystemExit(f"x11_screenshot: could not grab the screen or write {path}")
    img = pix.toImage().convertToFormat(QtGui.QImage.Format_RGB32)
    w, h = img.width(), img.height()
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    rgb = np.frombuffer(ptr, np.uint32).reshape(h, img.bytesPerLine() // 4)[:, :w] & 0xFFFFFF
    return rgb


def measures(rgb):
    values, counts = np.unique(rgb, return_counts=True)
    return len(values), 1.0 - counts.max() / rgb.size


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--min-colors", type=int, default=16)
    ap.add_argument("--min-fraction", type=float, default=0.05)
    a = ap.parse_args(argv)
    rgb = grab(a.out)
    colors, fraction = measures(rgb)
    print(f"x11_screenshot: {a.out}: {rgb.shape[1]}x{rgb.shape[0]}, {colors} colours, "
          f"{fraction:.1%} of the pixels off the background")
    if colors < a.min_colors or fraction < a.min_fraction:
        print(f"x11_screenshot: blank screen (need >= {a.min_colors} colours and >= {a.min_fraction:.0%} "
              f"off the background)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
