#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Training: the only part of gr-amc that uses PyTorch.

- :mod:`.zoo`: the model zoo (GRU, LSTM, CNNs, 1-D ResNet, MobileNetV4-style), built by name, with the
  representation and input layout each writes into its ONNX contract;
- :mod:`.data`: dataset files joined, normalized and split for training (numpy);
- :mod:`.stream`: frames generated on the fly by the batch generator, in DataLoader workers;
- :mod:`.fit`: :func:`~.fit.train`, the training run (schedules, checkpoints, resume) behind ``gr-amc train``;
- :mod:`.export`: a trained model -> a self-describing ONNX file, checked against ONNX Runtime;
- :mod:`.onnx_import`: the weights of an exported ONNX file back into a zoo model (fine-tuning a shipped model).

Layer: above the generator (batch, dataset_config), runtime, variants and onnx_graph; below the command line.
Nothing outside this package imports torch.
"""
