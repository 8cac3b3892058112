"""`gr-amc variant`: write a variant of an existing ONNX model file -- an int8 or float16 twin, or a rotation
ensemble -- without training anything.

- ``--rotations K`` (K >= 2): the graph runs the network on K turns of each frame (by 360/K degrees) and averages the
  outputs (quantize.rotation_ensemble).  The radio channel turns every frame by a random phase, so each turn
  is an equally valid view of the frame; averaging the views makes the answer independent of the part of the
  network's output that depends on the frame's phase.  K times the computation, the same weights and contract
  (amc.rotations added).
- ``--int8``: ONNX Runtime quantization (quantize.quantize_file).  Convolutional models are quantized
  statically when ``--calibration DATASET`` gives frames to calibrate on (256 frames drawn with ``--seed``,
  normalized and shaped as the classifier feeds them); otherwise dynamically.
- ``--fp16``: weights stored as float16, computed in float32 (quantize.float16_file).

On a rotation ensemble (the shipped amc-default is one), ``--rotations K`` re-wraps its network with K turns
(``--rotations 1``: the network alone, K times faster), and ``--int8``/``--fp16`` make the variant of its network
and wrap that again with the same K.  `gr-amc train --int8/--fp16` use the same functions on the model they have
just trained.
"""
import os

from .cli import CliError
from . import contract


def configure_parser(p):
    p.add_argument("model", help="ONNX model file or the name of a shipped model (e.g. amc-default)")
    p.add_argument("-o", "--output", required=True, help="ONNX file to write (not the input file)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--rotations", type=int, default=None, metavar="K",
                     help="rotation ensemble: average the network over K turns of each frame; on an ensemble, "
                          "its network with K turns instead (1: the network alone)")
    how.add_argument("--int8", action="store_true", help="int8 variant (ONNX Runtime quantization)")
    how.add_argument("--fp16", action="store_true", help="weights stored as float16, computed in float32")
    p.add_argument("--calibration", default=None, metavar="DATASET",
                   help="--int8: dataset file whose frames calibrate static quantization of a convolutional model")
    p.add_argument("--seed", type=int, default=None,
                   help="--int8 --calibration: seed that draws the 256 calibration frames (default: 0)")


def calibration_inputs(model_path, meta, data_path, seed, count=256):
    """Model inputs for static quantization: `count` frames of the dataset file drawn with `seed`, normalized
    with the model's normalization (meta: its decoded contract) and shaped by contract.to_model_input, as the
    classifier feeds them."""
    import numpy as np
    from .evaluate import normalize_for_model
    from .train import load_data, dataset_normalization
    data = load_data(data_path)
    L = data["frames"].shape[1]
    if meta[contract.META_FRAME_LENGTH] != L:
        raise CliError(f"model {model_path!r} takes frames of {meta[contract.META_FRAME_LENGTH]} samples; the "
                       f"calibration dataset's frames have {L}")
    pick = np.sort(np.random.default_rng(seed).permutation(len(data["frames"]))[:count])
    frames = normalize_for_model(data["frames"][pick], meta[contract.META_NORMALIZATION],
                                 dataset_normalization(data["attrs"]))
    return contract.to_model_input(frames, meta[contract.META_REPRESENTATION], meta[contract.META_INPUT_LAYOUT])


def run(args):
    import tempfile
    import onnx
    from . import paths, quantize
    from .evaluate import read_contract
    from .train import atomic_write_bytes
    try:
        src = paths.resolve_model(args.model)
    except FileNotFoundError as e:
        raise CliError(str(e))
    if os.path.realpath(src) == os.path.realpath(args.output):
        raise CliError(f"the output {args.output!r} is the input model; write the variant to another file")
    if args.calibration and not args.int8:
        raise CliError("--calibration is only used with --int8")
    if args.seed is not None and not args.calibration:
        raise CliError("--seed is only used with --int8 --calibration (it draws the calibration frames)")
    proto, meta = read_contract(src)
    k_in = int(meta.get(contract.META_ROTATIONS, 1))
    if (args.int8 or args.fp16) and meta.get("amc.quantization"):
        raise CliError(f"{src} is already quantized ({meta['amc.quantization']}); make the variant of the float file")
    try:
        net = quantize.rotation_ensemble_network(proto)
        if args.rotations is not None:
            if args.rotations < 1:
                raise ValueError(f"--rotations must be >= 1, got {args.rotations}")
            if args.rotations == 1 and k_in == 1:
                raise ValueError("is a single network already (--rotations 1 takes the network out of an ensemble)")
            out = net if args.rotations == 1 else quantize.rotation_ensemble(net, args.rotations)
            data = out.SerializeToString()
            atomic_write_bytes(data, args.output)
            what = ("the network of the ensemble" if args.rotations == 1 else
                    f"averaged over {args.rotations} rotations of each frame ({args.rotations}x the computation)")
            print(f"wrote {args.output} ({len(data):,} bytes): {src}, {what}")
            return 0
        with tempfile.TemporaryDirectory() as tmp:
            # an ensemble's variant is the ensemble (same K) of its network's variant
            plain = src
            if k_in > 1:
                plain = os.path.join(tmp, "network.onnx")
                onnx.save(net, plain)
            dst = os.path.join(tmp, "variant.onnx") if k_in > 1 else args.output
            if args.int8:
                calib = calibration_inputs(src, meta, args.calibration, args.seed or 0) if args.calibration else None
                q = quantize.quantize_file(plain, dst, calib_inputs=calib)
            else:
                q = quantize.float16_file(plain, dst)
            if k_in > 1:
                data = quantize.rotation_ensemble(onnx.load(dst), k_in).SerializeToString()
                atomic_write_bytes(data, args.output)
                q = dict(q, bytes=len(data), float_bytes=os.path.getsize(src))
    except ValueError as e:
        raise CliError(f"{src}: {e}")
    except OSError as e:
        raise CliError(f"cannot write {args.output!r}: {e}")
    again = f", as a {k_in}-rotation ensemble like its input" if k_in > 1 else ""
    print(f"wrote {args.output} ({q['bytes']:,} bytes, {q['bytes'] / q['float_bytes']:.0%} of {src}; "
          f"{q['method']}{again})")
    return 0
