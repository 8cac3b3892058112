#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The networks of the model zoo (PyTorch modules), defined once at import.  zoo.py lists them, with their
representation and input layout, without importing torch; zoo.build() imports this module when a model is built."""
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
MNV4_BLOCKS = [(384, 96, 5, 2), (576, 96, 5, 1), (576, 128, 5, 2),
               (768, 128, 5, 1), (768, 160, 3, 2), (960, 160, 3, 1)]
MNV4S_BLOCKS = [(96, 32, 5, 2), (128, 32, 5, 1), (128, 48, 5, 2),
                (192, 48, 5, 1), (192, 64, 3, 2), (256, 64, 3, 1)]


#: name -> constructor(num_classes, frame_length, **options) of every zoo model (zoo.MODEL_INFO has the rest)
CONSTRUCTORS = {
    "gru": lambda n, L, hidden=40, layers=2: RecurrentClassifier("gru", n, hidden, layers),
    "lstm2": lambda n, L: RecurrentClassifier("lstm", n, 128, 2),
    "mnv4": lambda n, L: MobileNetV4Like(n, (32, 32, 64, 64), MNV4_BLOCKS, (960, 1280)),
    "mnv4s": lambda n, L: MobileNetV4Like(n, (16, 24, 32, 32), MNV4S_BLOCKS, None),
    "cnn1": lambda n, L: CNN1(n, L),
    "cnn2": lambda n, L: CNN2(n),
    "resnet": lambda n, L: ResNet(n, L),
    "rn1d": lambda n, L: ResNet1d(n),
}
