#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""`gr-amc variant`: write an int8, float16 or rotation-ensemble variant of an ONNX model file without training
(library: variants.write_variant, whose docstring says what each variant is)."""
from . import CliError


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



def run(args):
    from .. import variants
    try:
        q = variants.write_variant(args.model, args.output, rotations=args.rotations, int8=args.int8,
                                   fp16=args.fp16, calibration=args.calibration, seed=args.seed)
    except FileNotFoundError:     # a model or calibration file that is not there: its own message
        raise
    except OSError as e:
        raise CliError(f"cannot write {args.output!r}: {e}") from None
    if q["method"] == "rotations":
        what = ("the network of the ensemble" if args.rotations == 1 else
                f"averaged over {args.rotations} rotations of each frame ({args.rotations}x the computation)")
        print(f"wrote {args.output} ({q['bytes']:,} bytes): {q['source']}, {what}")
        return 0
    again = f", as a {q['rotations']}-rotation ensemble like its input" if q.get("rotations") else ""
    print(f"wrote {args.output} ({q['bytes']:,} bytes, {q['bytes'] / q['float_bytes']:.0%} of {q['source']}; "
          f"{q['method']}{again})")
    return 0
