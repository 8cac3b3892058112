"""`gr-amc demo`: the main job (see README)."""
import os


def configure_parser(p):
    p.add_argument("--out", default="out/demo", help="folder for the demo's dataset, report and plot")


def run(args):
    import numpy as np
    from gnuradio import analog, blocks, gr
    from . import amc_python as k

    frame_len = 256
    tb = gr.top_block()
    src = analog.sig_source_c(200e3, analog.GR_COS_WAVE, 5e3, 3.0)
    head = blocks.head(gr.sizeof_gr_complex, 8 * frame_len)
    fr = k.framer(frame_len, frame_len)
    norm = k.normalizer(frame_len, "rms")
    snk = blocks.vector_sink_c(frame_len)
    tb.connect(src, head, fr, norm, snk)
    tb.run()
    frames = np.array(snk.data(), np.complex64).reshape(-1, frame_len)
    os.makedirs(args.out, exist_ok=True)
    for i, f in enumerate(frames):
        print(f"frame {i}: first sample {fr.first_sample(i):5d}, mean power {np.mean(np.abs(f) ** 2):.4f}")
    return 0
