#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The graph of a fused model file (a network and a fusion head, docs/models.md "Fusion head"): taking it apart
into its network and its head, and putting a network and a head together.  Used by ``gr-amc fuse`` (which
writes such files), ``gr-amc variant`` (the int8 / float16 variant of a fused file is its network's variant with
the same head) and ``gr-amc train --init-weights`` (which starts from the network).  onnx only.

A fused graph: inputs = the network's frame input and FEATURE_INPUT; the network's nodes keep their names, the
head's are prefixed HEAD_PREFIX; the network's output (named in amc.fusion's ``network_output``) feeds the head's
``HEAD_PREFIX + "logits"``; the graph's output is FUSED_OUTPUT.
"""
from . import contract

FEATURE_INPUT = "features"
HEAD_PREFIX = "fusion/"
HEAD_LOGITS = HEAD_PREFIX + "logits"
FUSED_OUTPUT = "fused_output"


def rename(graph, old, new):
    """Rename one value (edge, graph input or output) of a graph everywhere."""
    for node in graph.node:
        node.input[:] = [new if v == old else v for v in node.input]
        node.output[:] = [new if v == old else v for v in node.output]
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.name == old:
            vi.name = new


def _one_opset_per_domain(model):
    """Keep one opset_import entry per domain (onnx.compose.merge_models lists the default domain once per
    graph; the quantizer then finds no unique ai.onnx opset)."""
    seen = {}
    for o in model.opset_import:
        seen[o.domain] = max(seen.get(o.domain, 0), o.version)
    del model.opset_import[:]
    for d, v in seen.items():
        model.opset_import.add(domain=d, version=v)


def network_output(meta):
    """The network's output name inside a fused graph (from amc.fusion); ValueError if the record lacks it."""
    info = meta.get(contract.META_FUSION)
    name = info.get("network_output") if isinstance(info, dict) else None
    if not name:
        raise ValueError(f"the model has a front end but no fusion record ({contract.META_FUSION}) naming its "
                         f"network's output")
    return name


def split(proto, meta):
    """(network, head) of a fused ModelProto: the network with the file's contract minus the front end and the
    fusion record; the head with inputs HEAD_LOGITS and FEATURE_INPUT, output FUSED_OUTPUT, no metadata."""
    import onnx.utils
    inner = network_output(meta)
    frame_input = [i.name for i in proto.graph.input if i.name != FEATURE_INPUT]
    if len(frame_input) != 1:
        raise ValueError(f"a fused graph has one frame input beside {FEATURE_INPUT!r}, not {frame_input}")
    ex = onnx.utils.Extractor(proto)
    net = ex.extract_model(frame_input, [inner])
    head = ex.extract_model([inner, FEATURE_INPUT], [FUSED_OUTPUT])
    rename(head.graph, inner, HEAD_LOGITS)
    for m in (net, head):
        del m.metadata_props[:]
        _one_opset_per_domain(m)
    for p in proto.metadata_props:
        if p.key not in (contract.META_FRONT_END, contract.META_FUSION):
            net.metadata_props.add(key=p.key, value=p.value)
    return net, head


def join(net, head, metadata):
    """A fused ModelProto of a network (its single output feeds the head) and a head as split() returns it, with
    `metadata` (a dict: the network's contract, amc.front_end, amc.fusion) as its metadata_props."""
    import onnx
    import onnx.compose
    head = onnx.ModelProto.FromString(head.SerializeToString())
    head.ir_version = net.ir_version
    merged = onnx.compose.merge_models(net, head, io_map=[(net.graph.output[0].name, HEAD_LOGITS)])
    _one_opset_per_domain(merged)
    del merged.metadata_props[:]
    for k, v in contract.encode_metadata(metadata).items():
        merged.metadata_props.add(key=k, value=v)
    merged.producer_name = "gr-amc"
    onnx.checker.check_model(merged)
    return merged


def base_network(proto, meta):
    """The network of a model file: the file itself, or the network inside a fused file."""
    if meta.get(contract.META_FRONT_END) is None:
        return proto
    return split(proto, meta)[0]
