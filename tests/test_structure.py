# SPDX-License-Identifier: GPL-3.0-or-later
"""The package's structure (docs/developer-guide.md, "Where things live"): imports only go down, the library never
imports the command line, torch stays in training/, and every list a GRC enum repeats equals the Python list."""
import ast
import os

import pytest
import yaml

from gnuradio.amc import contract, dataset_config
from gnuradio.amc.dsp import channel, modulation

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "python", "amc")


def _modules():
    """Module name (relative to gnuradio.amc, e.g. 'training.fit') -> path, QA files excluded."""
    out = {}
    for folder, _, files in os.walk(PKG):
        if "bindings" in folder:
            continue
        for f in files:
            if f.endswith(".py") and not f.startswith("qa_"):
                rel = os.path.relpath(os.path.join(folder, f), PKG)[:-3].replace(os.sep, ".")
                out[rel[:-9] if rel.endswith(".__init__") else rel] = os.path.join(folder, f)
    return out


def _imports(name, path, modules):
    """(target module, at top level?) of every import of a gr-amc module in the file."""
    tree = ast.parse(open(path).read())
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("gnuradio.amc"):
                mod = node.module[len("gnuradio.amc."):] if node.module != "gnuradio.amc" else ""
            else:
                continue
            names = [a.name for a in node.names]
            targets = [f"{mod}.{n}" if mod else n for n in names if (f"{mod}.{n}" if mod else n) in modules]
            found += [(t, id(node) in top) for t in (targets or ([mod] if mod in modules else []))]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("gnuradio.amc."):
                    m = a.name[len("gnuradio.amc."):]
                    if m in modules:
                        found.append((m, id(node) in top))
    return [(t, at_top) for t, at_top in found if t != name]


def _graph(include_function_level):
    modules = _modules()
    return {name: {t for t, at_top in _imports(name, path, modules) if at_top or include_function_level}
            for name, path in modules.items()}


def _cycle(graph):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        state[n] = 2
        stack.pop()
        return None
    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def test_the_modules_are_found():
    mods = _modules()
    assert {"cli", "cli.generate", "generation", "training.fit", "dsp.channel", "runtime", "classifier"} <= set(mods)
    assert ("runtime", True) in _imports("model_file", mods["model_file"], mods)
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_circle_even_through_function_level_imports():
    """A function-level import of a gr-amc module (kept lazy because it pulls in torch or GNU Radio) would
    not close a circle either: the graph with them is still acyclic."""
    assert _cycle(_graph(include_function_level=False)) is None
    assert _cycle(_graph(include_function_level=True)) is None


def test_the_library_never_imports_the_command_line():
    g = _graph(include_function_level=True)
    for name, targets in g.items():
        if name == "cli" or name.startswith("cli."):
            continue
        assert not any(t == "cli" or t.startswith("cli.") for t in targets), f"{name} imports the CLI: {targets}"


def test_torch_only_in_training():
    for name, path in _modules().items():
        if name.startswith("training"):
            continue
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            assert not any(m == "torch" or m.startswith("torch.") for m in mods), f"{name} imports torch"


def test_dsp_is_pure_numpy():
    """dsp/ imports numpy, scipy and the contract's class lists only: usable without GNU Radio or torch."""
    g = _graph(include_function_level=True)
    for name, targets in g.items():
        if name.startswith("dsp"):
            assert targets <= {"contract", "dsp", "dsp.audio", "dsp.filters", "dsp.channel", "dsp.modulation",
                               "dsp.normalize"}, (name, targets)


def _grc(name):
    with open(os.path.join(ROOT, "grc", name)) as f:
        return {p["id"]: p for p in yaml.safe_load(f)["parameters"]}


def _options(param):
    return [yaml.safe_load(o) if isinstance(o, str) else o for o in param["options"]]


@pytest.mark.parametrize("block", ["amc_classifier.block.yml", "amc_classifier_sink.block.yml"])
def test_classifier_enums_are_the_contract_lists(block):
    p = _grc(block)
    by_values = {tuple(v for v in _options(q) if v != ""): q["id"] for q in p.values() if "options" in q}
    assert contract.INPUT_LAYOUTS in by_values, by_values
    assert contract.REPRESENTATIONS in by_values
    assert contract.NORMALIZATIONS in by_values
    assert contract.OUTPUTS in by_values


def test_modulation_source_enums_are_the_generator_lists():
    p = _grc("amc_modulation_source.block.yml")
    assert _options(p["modulation"]) == list(modulation.ALL_CLASSES)
    assert p["modulation"]["option_labels"] == list(modulation.ALL_CLASSES)
    assert _options(p["pulse"]) == list(modulation.PULSES)


def test_channel_enums_are_the_channel_lists():
    p = _grc("amc_radioml_channel.block.yml")
    assert sorted(_options(p["preset"])) == sorted(channel.PRESETS)      # the default first in GRC
    assert [v for v in _options(p["fading"]) if v not in ("", None, "None")] == list(channel.FADING_MODES)


def test_class_lists_have_one_home():
    """ALL_CLASSES is the union of the contract's two RadioML lists, in their order; the dataset presets name
    only known classes; channel presets and dataset presets are told apart."""
    assert modulation.ALL_CLASSES == tuple(dict.fromkeys(contract.CLASSES_2018 + contract.CLASSES_2016))
    assert dataset_config.CHANNEL_PRESETS is channel.PRESETS
    for name in dataset_config.preset_names():
        cfg, _ = dataset_config.load_config(name)
        assert set(cfg["classes"]) <= set(modulation.ALL_CLASSES)
        assert all(c["preset"] in channel.PRESETS for c in dataset_config.channel_entries(cfg))
    assert not set(dataset_config.preset_names()) & set(channel.PRESETS)
