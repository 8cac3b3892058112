#!/usr/bin/env python3
"""Size and speed of every zoo model for a frame length and class count (untrained weights: accuracy is not
measured here).  Prints a Markdown table: parameters (PyTorch), ONNX file size, MACs per frame (from the ONNX
graph), ONNX Runtime latency per frame (one thread) at batch 1 and 64, and PyTorch training throughput
(frames/s, one thread, batch 128, forward + backward + Adam step).

    python scripts/zoo_table.py [--frame-length 1024] [--classes 24] [--models gru mnv4s ...]
(run from the build tree: PYTHONPATH=build/test_modules)
"""
import argparse
import time

import numpy as np
import onnx
import torch

from gnuradio.amc import contract
from gnuradio.amc.training import zoo
from gnuradio.amc import runtime
from gnuradio.amc import onnx_graph
from gnuradio.amc.training.export import export_onnx


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--frame-length", type=int, default=1024)
    p.add_argument("--classes", type=int, default=24)
    p.add_argument("--models", nargs="+", default=list(zoo.MODEL_NAMES))
    p.add_argument("--train-batches", type=int, default=2, help="timed training steps per model (0: skip)")
    a = p.parse_args()
    torch.set_num_threads(1)
    L, n = a.frame_length, a.classes
    print("| model | parameters | ONNX size | MACs/frame | ms/frame batch 1 | ms/frame batch 64 | "
          "training frames/s |\n|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    frames = (rng.standard_normal((64, L)) + 1j * rng.standard_normal((64, L))).astype(np.complex64)
    for name in a.models:
        torch.manual_seed(0)
        net = zoo.build(name, n, L)
        rep, layout = zoo.model_spec(name)
        x = contract.to_model_input(frames, rep, layout)
        meta = {contract.META_CLASSES: [f"c{i}" for i in range(n)], contract.META_FRAME_LENGTH: L}
        blob, _ = export_onnx(net, x[:8], meta)
        proto = onnx.load_from_string(blob)
        lat1 = runtime.measure_latency(blob, x[:1], 1, 1.0)
        lat64 = runtime.measure_latency(blob, x, 64, 1.0)
        fps = float("nan")
        if a.train_batches:
            net.train()
            opt = torch.optim.Adam(net.parameters())
            xb = torch.from_numpy(np.concatenate([x, x])[:128])
            yb = torch.randint(0, n, (len(xb),))
            ts = []
            for _ in range(a.train_batches + 1):
                t0 = time.perf_counter()
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(xb), yb).backward()
                opt.step()
                ts.append(time.perf_counter() - t0)
            fps = len(xb) / min(ts[1:])
        print(f"| {name} | {zoo.count_parameters(net):,} | {len(blob) / 1024:.1f} kB | "
              f"{onnx_graph.count_macs(proto) / 1e6:.2f} M | {lat1:.3f} | {lat64:.3f} | {fps:.0f} |", flush=True)


if __name__ == "__main__":
    main()
