"""gr-amc model zoo (PyTorch).

Every model takes any frame length L and any number of classes, and returns logits (no softmax).
``REGISTRY`` maps a model name to (constructor, representation, input layout); the representation and layout
are the ones written into the exported ONNX file's contract (see contract.to_model_input).

=========  ===============================================================  ====  =========
name       what                                                             repr  layout
=========  ===============================================================  ====  =========
gru        small GRU on amplitude/phase (Utrilla et al. 2020 idea), sized     ap    N,L,2
           so the float32 ONNX file stays <= 73.5 kB
lstm2      LSTM 128 -> LSTM 128 -> dense (Rajendran et al. 2018)               ap    N,L,2
mnv4       MobileNetV4-style network (Wu 2025): 4 Conv2d+BN+ReLU6 stem,        iq    N,1,2,L
           6 inverted bottlenecks, 1x1 convs to 960 and 1280, FC
mnv4s      scaled-down mnv4: narrower, no 960/1280 head (pool -> FC)          iq    N,1,2,L
cnn1       VGG-style 1-D CNN (O'Shea et al. 2018): 7 x (conv 64, k3, pool)    iq    N,2,L
           -> dense 128 -> dense 128 -> classes
cnn2       CNN2 (O'Shea et al. 2016): conv 256 (1x3) -> conv 80 (2x3) ->      iq    N,1,2,L
           dense 256 -> classes, with an adaptive pool to 16 before the
           dense layers so the parameter count does not grow with L
resnet     ResNet (O'Shea et al. 2018): 6 residual stacks (32 filters),       iq    N,2,L
           global average pooling -> dense 128 -> classes
rn1d       1-D ResNet with early down-sampling and batch norm: stride-2      iq    N,2,L
           stem (k7), 5 stages of basic blocks (32..128 channels, stride
           2 each), global average + max pooling -> classes
=========  ===============================================================  ====  =========

torch is imported lazily (``gr-amc --help`` must stay cheap): call the constructors through ``build()``.
"""

#: name -> (representation, layout, one-line description).  The constructors are networks.CONSTRUCTORS.
MODEL_INFO = {
    "gru": ("ap", "N,L,2", "small GRU on amplitude/phase (<= 73.5 kB as float32 ONNX)"),
    "lstm2": ("ap", "N,L,2", "LSTM 128 -> LSTM 128 -> dense on amplitude/phase"),
    "mnv4": ("iq", "N,1,2,L", "MobileNetV4-style network with the 960/1280 head (~2.5 M parameters)"),
    "mnv4s": ("iq", "N,1,2,L", "scaled-down MobileNetV4-style network without the 960/1280 head"),
    "cnn1": ("iq", "N,2,L", "VGG-style 1-D CNN (7 conv/pool layers, dense 128, 128)"),
    "cnn2": ("iq", "N,1,2,L", "CNN2: conv 256 (1x3), conv 80 (2x3), dense 256"),
    "resnet": ("iq", "N,2,L", "ResNet: 6 residual stacks of 32 filters, global pooling, dense 128"),
    "rn1d": ("iq", "N,2,L", "1-D ResNet, early down-sampling, batch norm, 32..128 channels (~0.38 M parameters)"),
}

MODEL_NAMES = tuple(MODEL_INFO)


def model_spec(name):
    """(representation, layout) of a registered model; ValueError naming the allowed models otherwise."""
    if name not in MODEL_INFO:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODEL_NAMES)}")
    rep, layout, _ = MODEL_INFO[name]
    return rep, layout


def build(name, num_classes, frame_length, **kwargs):
    """Build a registered model (torch.nn.Module) for num_classes classes and frames of frame_length samples."""
    model_spec(name)
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if int(frame_length) < 8:
        raise ValueError(f"frame_length must be >= 8 samples, got {frame_length}")
    from . import networks        # torch, imported when a model is built (the listing above stays cheap)
    return networks.CONSTRUCTORS[name](int(num_classes), int(frame_length), **kwargs)


def registry():
    """name -> (constructor(num_classes, frame_length), representation, layout)."""
    return {name: ((lambda n, L, _name=name, **kw: build(_name, n, L, **kw)),) + model_spec(name)
            for name in MODEL_NAMES}


def recurrent_hidden(state_dict):
    """Hidden size of a zoo recurrent model's weights (a gru or lstm2 state_dict), or None for other models."""
    w = state_dict.get("rnn.weight_hh_l0")
    return int(w.shape[1]) if w is not None else None


def widen_gru(model, hidden):
    """A copy of a zoo `gru` model with `hidden` units per layer that computes the same function: the old units
    keep their weights; the new ones get the constructor's random weights, except that every weight carrying
    their output (into the old units' gates, the next layer's old units and the dense layer) starts at zero, so
    they change nothing until training brings them in.  The random draws use torch's global RNG (seed it).

    ValueError unless the model is a gru with at most `hidden` units."""
    import torch
    rnn = getattr(model, "rnn", None)
    if not isinstance(rnn, torch.nn.GRU) or len(model.head) != 1:
        raise ValueError("widen_gru: not a zoo gru model")
    old = rnn.hidden_size
    if hidden < old:
        raise ValueError(f"cannot narrow a gru from {old} to {hidden} hidden units")
    wide = build("gru", model.head[0].out_features, 8, hidden=hidden, layers=rnn.num_layers)
    src, dst = model.state_dict(), wide.state_dict()
    with torch.no_grad():
        for name, w in src.items():
            v = dst[name]
            if name.startswith("rnn."):          # gates stacked (r, z, n) along the rows
                fed_by_hidden = "weight_hh" in name or ("weight_ih" in name and not name.endswith("_l0"))
                for g in range(3):
                    rows_new, rows_old = slice(g * hidden, g * hidden + old), slice(g * old, (g + 1) * old)
                    if fed_by_hidden:
                        v[rows_new, :old] = w[rows_old]
                        v[rows_new, old:] = 0.0
                    else:
                        v[rows_new] = w[rows_old]
            elif name == "head.0.weight":
                v[:, :old] = w
                v[:, old:] = 0.0
            else:
                v.copy_(w)
    wide.load_state_dict(dst)
    return wide


def count_parameters(model):
    """Trainable parameters of a torch model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def batches(n, batch_size, rng=None):
    """Index arrays of consecutive batches of range(n), shuffled by rng when given."""
    import numpy as np
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]


def predict_logits(model, x, device, batch_size=512):
    """Logits (numpy) of a torch model on model inputs x (numpy float32)."""
    import numpy as np
    import torch
    model.eval()
    out = []
    with torch.no_grad():
        for b in batches(len(x), batch_size):
            out.append(model(torch.from_numpy(x[b]).to(device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

