"""Contracts shared by every gr-amc block, the dataset tools and the models.

The tag keys, message fields and model metadata are documented in docs/classifier.md, the file layouts in
docs/datasets.md, and where each list lives in docs/developer-guide.md; change them only everywhere at once.
"""
import json

#: RadioML 2018.01A classes, in the paper's order (the original classes.txt is known to be wrong).
CLASSES_2018 = (
    "OOK", "4ASK", "8ASK", "BPSK", "QPSK", "8PSK", "16PSK", "32PSK",
    "16APSK", "32APSK", "64APSK", "128APSK",
    "16QAM", "32QAM", "64QAM", "128QAM", "256QAM",
    "AM-SSB-WC", "AM-SSB-SC", "AM-DSB-WC", "AM-DSB-SC", "FM", "GMSK", "OQPSK",
)
#: RadioML 2016.10a classes, in the order of the original dataset's keys.
CLASSES_2016 = (
    "8PSK", "AM-DSB", "AM-SSB", "BPSK", "CPFSK", "GFSK", "PAM4", "QAM16", "QAM64", "QPSK", "WBFM",
)

# Stream tag keys (PMT symbols).
TAG_TRUTH = "amc:truth"            # symbol: class name, from generators
TAG_SNR = "amc:snr_db"             # double: Es/N0 in dB, from the channel
TAG_LABEL = "amc:label"            # symbol: predicted class, from the classifier
TAG_CONFIDENCE = "amc:confidence"  # double 0..1
TAG_PROBS = "amc:probs"            # f32vector, in the model's class order

#: Message port of the classifier blocks.
MSG_PORT = "classification"

#: Label given when the classifier's confidence is under the threshold or the frame was unusable.
UNKNOWN_LABEL = "unknown"

# ONNX model metadata (metadata_props) keys.
META_CLASSES = "amc.classes"                # JSON list of class names, output order
META_FRAME_LENGTH = "amc.frame_length"      # int, complex samples per frame
META_INPUT_LAYOUT = "amc.input_layout"      # one of INPUT_LAYOUTS
META_REPRESENTATION = "amc.representation"  # one of REPRESENTATIONS
META_NORMALIZATION = "amc.normalization"    # one of NORMALIZATIONS
META_OUTPUT = "amc.output"                  # "probs" or "logits" (logits get a softmax)
META_MODEL = "amc.model"                    # architecture name
META_DATASET = "amc.dataset"                # dataset preset / file the model was trained on
META_SEED = "amc.seed"                      # training seed
META_TRAINING = "amc.training"              # JSON: how it was trained (epochs, lr, command...)
META_ROTATIONS = "amc.rotations"            # int, optional: the graph averages the network over this many
                                            # turns of each frame (a rotation ensemble, variants.rotation_ensemble)

META_FRONT_END = "amc.front_end"            # JSON, optional: the graph's second input and the front end that makes
                                            # it, {"name": "order-features", "version": 1, "input": "features",
                                            # "size": F} (docs/classifier.md, "Front ends")
META_FUSION = "amc.fusion"                  # JSON, optional: how a fusion head was trained (gr-amc fuse)

#: Front ends a model file may name in amc.front_end: name -> the versions this module computes (the last is
#: the one new fusion heads get) and their sizes (features per frame).
FRONT_ENDS = {"order-features": {1: 169, 2: 307}}


def front_end_version(name):
    """The latest version of a front end this module computes (what `gr-amc fuse` writes)."""
    return max(FRONT_ENDS[name])

REQUIRED_META = (META_CLASSES, META_FRAME_LENGTH, META_INPUT_LAYOUT, META_REPRESENTATION,
                 META_NORMALIZATION)

#: Input layouts: N = batch, L = frame length, 2 = the two real channels (I/Q or amplitude/phase).
INPUT_LAYOUTS = ("N,2,L", "N,L,2", "N,1,2,L")
#: iq: in-phase and quadrature; ap: amplitude and phase/pi (Rajendran et al. 2018).
REPRESENTATIONS = ("iq", "ap")
#: Per-frame normalizations, implemented by the C++ kernel amc.normalize_frames.
NORMALIZATIONS = ("rms", "peak", "l1", "iq_std", "none")
OUTPUTS = ("probs", "logits")
#: Longest frame the framing and normalization kernels take (amc.MAX_FRAME_LEN; a test checks they agree).
MAX_FRAME_LEN = 1 << 20


def input_shape(layout, frame_length, batch="N"):
    """Shape of the model input for a layout, e.g. input_shape("N,2,L", 1024, 16) -> (16, 2, 1024)."""
    shapes = {"N,2,L": (batch, 2, frame_length), "N,L,2": (batch, frame_length, 2),
              "N,1,2,L": (batch, 1, 2, frame_length)}
    if layout not in shapes:
        raise ValueError(f"unknown input layout {layout!r}; allowed: {', '.join(INPUT_LAYOUTS)}")
    return shapes[layout]


def to_model_input(frames, representation, layout):
    """Turn normalized complex frames (n, L) into the float32 model input for a representation and layout.

    This is the one place that defines the representations: training and the classifier both call it.
    """
    import numpy as np
    frames = np.asarray(frames)
    if frames.ndim != 2:
        raise ValueError(f"frames must be 2-D (n, L), got shape {frames.shape}")
    if representation == "iq":
        a, b = frames.real, frames.imag
    elif representation == "ap":
        a, b = np.abs(frames), np.angle(frames) / np.pi
    else:
        raise ValueError(f"unknown representation {representation!r}; allowed: {', '.join(REPRESENTATIONS)}")
    x = np.stack([a, b], axis=1).astype(np.float32)          # (n, 2, L)
    if layout == "N,2,L":
        return np.ascontiguousarray(x)
    if layout == "N,L,2":
        return np.ascontiguousarray(x.transpose(0, 2, 1))
    if layout == "N,1,2,L":
        return np.ascontiguousarray(x[:, None, :, :])
    raise ValueError(f"unknown input layout {layout!r}; allowed: {', '.join(INPUT_LAYOUTS)}")


def from_model_input(x, representation, layout):
    """The inverse of to_model_input: float32 model input -> the complex64 frames (n, L) it holds (exact for
    "iq"; "ap" to float32 rounding).  Front ends (docs/classifier.md) are computed from it, so that training,
    evaluation and the classifier give them the very frames the network sees."""
    import numpy as np
    x = np.asarray(x, np.float32)
    if layout == "N,2,L":
        a, b = x[:, 0, :], x[:, 1, :]
    elif layout == "N,L,2":
        a, b = x[:, :, 0], x[:, :, 1]
    elif layout == "N,1,2,L":
        a, b = x[:, 0, 0, :], x[:, 0, 1, :]
    else:
        raise ValueError(f"unknown input layout {layout!r}; allowed: {', '.join(INPUT_LAYOUTS)}")
    if representation == "iq":
        z = a + 1j * b
    elif representation == "ap":
        z = a * np.exp(1j * np.pi * b)
    else:
        raise ValueError(f"unknown representation {representation!r}; allowed: {', '.join(REPRESENTATIONS)}")
    return np.ascontiguousarray(z, dtype=np.complex64)


def parse_front_end(value):
    """The value of amc.front_end (a JSON string or a dict) -> a checked dict {name, version, input, size};
    ValueError naming what is wrong (an unknown front end, a version this module does not compute, ...)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise ValueError(f"{META_FRONT_END} is not valid JSON ({e}): {value!r}") from None
    if not isinstance(value, dict) or not {"name", "version", "input", "size"} <= set(value):
        raise ValueError(f"{META_FRONT_END} must be a JSON object with name, version, input and size, got {value!r}")
    name = value["name"]
    if name not in FRONT_ENDS:
        raise ValueError(f"{META_FRONT_END} names the front end {name!r}, which this gr-amc does not have; "
                         f"known: {', '.join(FRONT_ENDS)}")
    versions = FRONT_ENDS[name]
    if isinstance(value["version"], bool) or value["version"] not in versions:
        raise ValueError(f"{META_FRONT_END}: the model needs {name} version {value['version']!r}; this gr-amc "
                         f"computes versions {', '.join(map(str, versions))} (retrain or update gr-amc)")
    if not isinstance(value["input"], str) or not isinstance(value["size"], int) or value["size"] < 1:
        raise ValueError(f"{META_FRONT_END}: input must be a name and size a positive integer, got {value!r}")
    if value["size"] != versions[value["version"]]:
        raise ValueError(f"{META_FRONT_END}: {name} version {value['version']} makes {versions[value['version']]} "
                         f"features, the model says size {value['size']}")
    return dict(value)


def encode_metadata(meta):
    """Metadata dict -> {key: str} for ONNX metadata_props (lists and dicts become JSON)."""
    out = {}
    for k, v in meta.items():
        out[k] = json.dumps(list(v) if isinstance(v, tuple) else v) if isinstance(v, (list, tuple, dict)) else str(v)
    return out


def decode_metadata(props):
    """{key: str} from metadata_props -> typed dict (classes as list, frame length as int)."""
    meta = dict(props)
    if META_CLASSES in meta:
        meta[META_CLASSES] = json.loads(meta[META_CLASSES])
    if META_FRAME_LENGTH in meta:
        meta[META_FRAME_LENGTH] = int(meta[META_FRAME_LENGTH])
    for key in (META_TRAINING, META_FUSION):
        if key in meta:
            try:
                meta[key] = json.loads(meta[key])
            except ValueError:
                pass
    return meta
