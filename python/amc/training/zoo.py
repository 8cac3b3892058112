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

#: name -> (representation, layout, one-line description).  The constructors are in _constructors().
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


def _constructors():
    import torch
    from torch import nn

    class RecurrentClassifier(nn.Module):
        """GRU/LSTM over the frame (input N,L,2); the last time step's output goes to a dense layer."""

        def __init__(self, cell, num_classes, hidden, layers, dense=()):
            super().__init__()
            rnn = nn.GRU if cell == "gru" else nn.LSTM
            self.rnn = rnn(input_size=2, hidden_size=hidden, num_layers=layers, batch_first=True)
            head, width = [], hidden
            for d in dense:
                head += [nn.Linear(width, d), nn.ReLU()]
                width = d
            head.append(nn.Linear(width, num_classes))
            self.head = nn.Sequential(*head)

        def forward(self, x):                      # x: (N, L, 2)
            y, _ = self.rnn(x)
            return self.head(y[:, -1, :])

    def conv_bn(cin, cout, k, stride=(1, 1), groups=1, act=True):
        pad = (k[0] // 2 if k[0] > 1 and k[0] % 2 else 0, k[1] // 2)
        layers = [nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.ReLU6(inplace=True))
        return nn.Sequential(*layers)

    class InvertedBottleneck(nn.Module):
        """1x1 expand (BN, ReLU6) -> depthwise 1xk (BN, ReLU6) -> 1x1 linear projection (BN); residual when
        the input and output shapes match."""

        def __init__(self, cin, expand, cout, k, stride):
            super().__init__()
            self.residual = cin == cout and stride == 1
            self.block = nn.Sequential(
                conv_bn(cin, expand, (1, 1)),
                conv_bn(expand, expand, (1, k), (1, stride), groups=expand),
                conv_bn(expand, cout, (1, 1), act=False))

        def forward(self, x):
            y = self.block(x)
            return x + y if self.residual else y

    class MobileNetV4Like(nn.Module):
        """Input (N, 1, 2, L).  Stem: four Conv2d+BN+ReLU6; the second one (2x3, no padding in height) merges
        the I and Q rows, so the rest of the network runs on (C, 1, L').  Then six inverted bottlenecks and
        either the MobileNetV4 head (1x1 conv to 960, global pool, 1x1 conv to 1280, FC) or, with head=None,
        global pool -> FC."""

        def __init__(self, num_classes, stem, blocks, head):
            super().__init__()
            s1, s2, s3, s4 = stem
            self.stem = nn.Sequential(
                conv_bn(1, s1, (1, 3), (1, 1)),            # (s1, 2, L)
                conv_bn(s1, s2, (2, 3), (1, 2)),           # (s2, 1, L/2)   I/Q merged
                conv_bn(s2, s3, (1, 3), (1, 2)),           # (s3, 1, L/4)
                conv_bn(s3, s4, (1, 3), (1, 1)))           # (s4, 1, L/4)
            layers, cin = [], s4
            for expand, cout, k, stride in blocks:
                layers.append(InvertedBottleneck(cin, expand, cout, k, stride))
                cin = cout
            self.blocks = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            if head:
                c1, c2 = head
                self.head = nn.Sequential(
                    conv_bn(cin, c1, (1, 1)), self.pool,
                    nn.Conv2d(c1, c2, 1, bias=True), nn.ReLU6(inplace=True), nn.Flatten(),
                    nn.Linear(c2, num_classes))
            else:
                self.head = nn.Sequential(self.pool, nn.Flatten(), nn.Linear(cin, num_classes))

        def forward(self, x):
            return self.head(self.blocks(self.stem(x)))

    class CNN1(nn.Module):
        """VGG-style CNN on (N, 2, L): conv(64, k3)+ReLU+maxpool(2), 7 times (pooling stops at length 8), an
        adaptive average pool to length 8, dense 128 (SELU), dense 128 (SELU), dense classes."""

        def __init__(self, num_classes, frame_length, filters=64, convs=7):
            super().__init__()
            layers, cin, length = [], 2, frame_length
            for _ in range(convs):
                layers += [nn.Conv1d(cin, filters, 3, padding=1), nn.ReLU()]
                if length >= 16:
                    layers.append(nn.MaxPool1d(2))
                    length //= 2
                cin = filters
            self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool1d(8), nn.Flatten())
            self.head = nn.Sequential(nn.Linear(filters * 8, 128), nn.SELU(), nn.AlphaDropout(0.2),
                                      nn.Linear(128, 128), nn.SELU(), nn.AlphaDropout(0.2),
                                      nn.Linear(128, num_classes))

        def forward(self, x):
            return self.head(self.features(x))

    class CNN2(nn.Module):
        """CNN2 on (N, 1, 2, L): conv 256 (1x3)+ReLU, conv 80 (2x3)+ReLU, adaptive average pool to (1, 16),
        dense 256+ReLU, dense classes (dropout 0.5 as in the original)."""

        def __init__(self, num_classes):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 256, (1, 3), padding=(0, 1)), nn.ReLU(), nn.Dropout(0.5),
                nn.Conv2d(256, 80, (2, 3), padding=(0, 1)), nn.ReLU(), nn.Dropout(0.5),
                nn.AdaptiveAvgPool2d((1, 16)), nn.Flatten())
            self.head = nn.Sequential(nn.Linear(80 * 16, 256), nn.ReLU(), nn.Dropout(0.5),
                                      nn.Linear(256, num_classes))

        def forward(self, x):
            return self.head(self.features(x))

    class ResidualUnit(nn.Module):
        def __init__(self, ch, k=3):
            super().__init__()
            self.c1 = nn.Conv1d(ch, ch, k, padding=k // 2)
            self.c2 = nn.Conv1d(ch, ch, k, padding=k // 2)

        def forward(self, x):
            return torch.relu(x + self.c2(torch.relu(self.c1(x))))

    class ResNet(nn.Module):
        """ResNet on (N, 2, L): 6 residual stacks (1x1 conv, two residual units, maxpool 2 while the length is
        >= 4), global average pooling, dense 128 (SELU), dense classes."""

        def __init__(self, num_classes, frame_length, filters=32, stacks=6):
            super().__init__()
            layers, cin, length = [], 2, frame_length
            for _ in range(stacks):
                layers += [nn.Conv1d(cin, filters, 1), ResidualUnit(filters), ResidualUnit(filters)]
                if length >= 4:
                    layers.append(nn.MaxPool1d(2))
                    length //= 2
                cin = filters
            self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten())
            self.head = nn.Sequential(nn.Linear(filters, 128), nn.SELU(), nn.AlphaDropout(0.1),
                                      nn.Linear(128, num_classes))

        def forward(self, x):
            return self.head(self.features(x))

    class BasicBlock1d(nn.Module):
        """conv k3 (stride s) + BN + ReLU -> conv k3 + BN, plus the input (1x1 conv + BN when the shape
        changes), ReLU."""

        def __init__(self, cin, cout, stride):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv1d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm1d(cout), nn.ReLU(inplace=True),
                nn.Conv1d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm1d(cout))
            self.skip = (nn.Identity() if cin == cout and stride == 1 else
                         nn.Sequential(nn.Conv1d(cin, cout, 1, stride, bias=False), nn.BatchNorm1d(cout)))

        def forward(self, x):
            return torch.relu(self.body(x) + self.skip(x))

    class ResNet1d(nn.Module):
        """Input (N, 2, L).  Stem conv k7 stride 2 (32 channels); stages (channels, blocks) each starting with a
        stride-2 block, so a 1024-sample frame is 16 steps long after the last one; global average and max
        pooling concatenated -> FC."""

        def __init__(self, num_classes, stages=((32, 1), (48, 1), (64, 2), (96, 2), (128, 2))):
            super().__init__()
            layers, cin = [nn.Conv1d(2, 32, 7, 2, 3, bias=False), nn.BatchNorm1d(32), nn.ReLU(inplace=True)], 32
            for cout, blocks in stages:
                for b in range(blocks):
                    layers.append(BasicBlock1d(cin, cout, 2 if b == 0 else 1))
                    cin = cout
            self.features = nn.Sequential(*layers)
            self.avg, self.max = nn.AdaptiveAvgPool1d(1), nn.AdaptiveMaxPool1d(1)
            self.head = nn.Linear(2 * cin, num_classes)

        def forward(self, x):
            y = self.features(x)
            return self.head(torch.cat([self.avg(y), self.max(y)], 1).flatten(1))

    # MobileNetV4-style configurations: blocks are (expanded channels, output channels, depthwise k, stride).
    # mnv4: expansion ratio 6 in every bottleneck (the paper does not list the widths; with these the parameter
    # count is 2,501,816 for 24 classes, 0.86 % under the paper's 2,523,416 -- see docs/models.md).
    mnv4_blocks = [(384, 96, 5, 2), (576, 96, 5, 1), (576, 128, 5, 2),
                   (768, 128, 5, 1), (768, 160, 3, 2), (960, 160, 3, 1)]
    mnv4s_blocks = [(96, 32, 5, 2), (128, 32, 5, 1), (128, 48, 5, 2),
                    (192, 48, 5, 1), (192, 64, 3, 2), (256, 64, 3, 1)]

    return {
        "gru": lambda n, L, hidden=40, layers=2: RecurrentClassifier("gru", n, hidden, layers),
        "lstm2": lambda n, L: RecurrentClassifier("lstm", n, 128, 2),
        "mnv4": lambda n, L: MobileNetV4Like(n, (32, 32, 64, 64), mnv4_blocks, (960, 1280)),
        "mnv4s": lambda n, L: MobileNetV4Like(n, (16, 24, 32, 32), mnv4s_blocks, None),
        "cnn1": lambda n, L: CNN1(n, L),
        "cnn2": lambda n, L: CNN2(n),
        "resnet": lambda n, L: ResNet(n, L),
        "rn1d": lambda n, L: ResNet1d(n),
    }


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
    return _constructors()[name](int(num_classes), int(frame_length), **kwargs)


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

