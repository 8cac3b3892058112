# SPDX-License-Identifier: GPL-3.0-or-later
"""The classifier examples, run with a stand-in model: examples/classify_headless.grc prints the
amc:label tags and the per-frame messages; examples/classify_live.grc (QT, offscreen) shows the
classifier's label in its QT GUI Label. The stand-in "amc-default" (tests/fixtures/tiny_models.py:
two classes, 1024-sample frames) sits in a temporary data folder (GR_AMC_DATA_DIR), so these tests
do not depend on the shipped model (tests/test_grc.py runs the headless example with that one)."""
import glob
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

from amc_fixtures import tiny_models as tm


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    os.makedirs(data / "models")
    tm.energy_model(str(data / "models" / "amc-default.onnx"), frame_len=1024)
    return dict(os.environ, GRC_BLOCKS_PATH=os.path.join(ROOT, "grc"), GR_AMC_DATA_DIR=str(data),
                QT_QPA_PLATFORM="offscreen")


def compile_grc(name, outdir, env):
    p = subprocess.run(["grcc", "-o", str(outdir), os.path.join(ROOT, "examples", name)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    (py,) = glob.glob(str(outdir / "*.py"))
    return py


def test_headless_example_prints_tags_and_messages(env, tmp_path):
    py = compile_grc("classify_headless.grc", tmp_path, env)
    p = subprocess.run([sys.executable, py], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    out = p.stdout + p.stderr
    # 16384 samples = 16 frames of 1024: a tag and a message for each, on the frame starts
    tag_offsets = [int(o) for o in re.findall(r"Offset: (\d+)\s+Source: amc_classifier\S*\s+Key: amc:label", out)]
    assert tag_offsets == [k * 1024 for k in range(16)]
    msg_offsets = sorted(int(o) for o in re.findall(r"\(offset \. (\d+)\)", out))
    assert msg_offsets == tag_offsets
    assert out.count("(truth . QPSK)") == 16 and out.count("(snr_db . 10)") == 16
    labels = re.findall(r"\(label \. (\w+)\)", out)
    assert len(labels) == 16 and set(labels) <= {"early", "late", "unknown"}


def test_live_example_shows_the_label(env, tmp_path):
    compile_grc("classify_live.grc", tmp_path, env)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from PyQt5 import Qt
        import classify_live
        app = Qt.QApplication(sys.argv)
        tb = classify_live.classify_live()
        tb.start()
        tb.show()
        def stop():
            tb.stop()
            tb.wait()
            Qt.QTimer.singleShot(300, done)  # let the queued label updates reach the widget
        def done():
            print("LABEL", tb.current_label, "|", tb._current_label_label.text(), "|", tb.amc_classifier_0.classified())
            app.quit()
        Qt.QTimer.singleShot(3000, stop)
        app.exec_()
        tb.set_threshold(0.99)   # the slider's callback reaches the block
        print("THRESHOLD", tb.amc_classifier_0.threshold())
    """)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    m = re.search(r"LABEL (\S+) \((\d\.\d\d)\) \| (\S+) \((\d\.\d\d)\) \| (\d+)", p.stdout)
    assert m, p.stdout + p.stderr
    assert m.group(1) in ("early", "late", "unknown") and m.group(1) == m.group(3)
    assert 0.0 <= float(m.group(2)) <= 1.0
    assert int(m.group(5)) > 0
    assert "THRESHOLD 0.99" in p.stdout


LIVE_DRIVER = r'''
import os, subprocess, sys, time
sys.path.insert(0, sys.argv[1])                    # the folder grcc wrote classify_live.py into
sys.path.insert(0, sys.argv[2])                    # tests/ (x11_screenshot)
from PyQt5 import Qt
import classify_live
import x11_screenshot
out, grc_file, grc_log = sys.argv[3], sys.argv[4], sys.argv[5]
grc = subprocess.Popen(["gnuradio-companion", grc_file], stdout=open(grc_log, "w"), stderr=subprocess.STDOUT)
app = Qt.QApplication(sys.argv[:1])
tb = classify_live.classify_live()
tb.start()
tb.show()
tb.move(1000, 0)                                   # GRC's window takes the left 1000 columns (grc.conf)
tb.resize(800, 900)


def shoot():
    rgb = x11_screenshot.grab(out)
    colors, fraction = x11_screenshot.measures(rgb)
    print("SHOT", rgb.shape[1], rgb.shape[0], colors, round(fraction, 3))
    print("LABEL", tb._current_label_label.text(), "|", tb.amc_classifier_0.classified())
    tb.stop()
    tb.wait()
    grc.terminate()
    grc.wait(20)
    app.quit()


Qt.QTimer.singleShot(int(float(os.environ.get("SHOT_AFTER_S", "10")) * 1000), shoot)
app.exec_()
'''


def test_readme_picture_grc_beside_the_running_live_classifier(tmp_path):
    """The README's picture, taken here: GNU Radio Companion with examples/classify_live.grc open, beside that
    flowgraph running with the shipped amc-default (spectrum, constellation and the label), on one Xvfb screen.
    The picture must show content (not a flat screen), GRC must have loaded the flowgraph, and the label the
    window showed is a class of the model with its confidence.  GR_AMC_SCREENSHOTS=FOLDER keeps the PNG there
    (`GR_AMC_SCREENSHOTS=docs` remakes docs/grc_classify_live.png)."""
    import shutil
    from gnuradio import amc
    env = dict(os.environ, GRC_BLOCKS_PATH=os.path.join(ROOT, "grc"), HOME=str(tmp_path / "home"),
               XDG_RUNTIME_DIR=str(tmp_path / "run"), GRC_PREFS_PATH=str(tmp_path / "grc.conf"))
    env.pop("QT_QPA_PLATFORM", None)                 # a real (virtual) X screen, not offscreen
    os.makedirs(tmp_path / "home")
    os.makedirs(tmp_path / "run", mode=0o700)
    (tmp_path / "grc.conf").write_text("[main]\nmain_window_width = 1000\nmain_window_height = 900\n")
    compile_grc("classify_live.grc", tmp_path, env)
    (tmp_path / "driver.py").write_text(LIVE_DRIVER)
    png, log = tmp_path / "grc_classify_live.png", tmp_path / "grc.log"
    p = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1800x900x24", sys.executable, str(tmp_path / "driver.py"),
                        str(tmp_path), os.path.join(ROOT, "tests"), str(png),
                        os.path.join(ROOT, "examples", "classify_live.grc"), str(log)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    shot = re.search(r"SHOT (\d+) (\d+) (\d+) ([\d.]+)", p.stdout)
    assert shot and (int(shot.group(1)), int(shot.group(2))) == (1800, 900), p.stdout
    assert int(shot.group(3)) >= 256 and float(shot.group(4)) >= 0.3, p.stdout     # two full windows
    label = re.search(r"LABEL (\S+) \((\d\.\d\d)\) \| (\d+)", p.stdout)
    assert label, p.stdout + p.stderr
    assert label.group(1) in amc.classifier_sink("amc-default").classes() and int(label.group(3)) > 0
    assert 0.0 < float(label.group(2)) <= 1.0
    grc_log = log.read_text()
    assert 'Loading: "' + os.path.join(ROOT, "examples", "classify_live.grc") + '"' in grc_log and ">>> Done" in grc_log
    if os.environ.get("GR_AMC_SCREENSHOTS"):
        os.makedirs(os.environ["GR_AMC_SCREENSHOTS"], exist_ok=True)
        shutil.copy(png, os.environ["GR_AMC_SCREENSHOTS"])
