"""Write ``src/losskit/_modules.py``: one explicit ``nn.Module`` class per built-in loss.

The registry is the source: each class gets the function's hyperparameters as a typed,
keyword-only ``__init__`` with the same defaults, class-level attribute annotations, a
docstring built from the card and the function's ``Args:`` and ``Shape:`` sections, and a
typed ``forward`` over the function's data arguments. Run after adding or changing a loss:

    python scripts/generate_modules.py          # rewrite the file
    python scripts/generate_modules.py --check  # exit 1 if the committed file is stale

``tests/test_modules.py`` runs the check, so a stale file fails CI.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import inspect
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "src" / "losskit" / "_modules.py"
WIDTH = 100

HEADER = '''\
"""Explicit ``nn.Module`` classes for the built-in losses (re-exported by ``losskit.nn``).

GENERATED FILE, do not edit by hand. Regenerate after adding or changing a loss with

    python scripts/generate_modules.py

(tests/test_modules.py fails while this file differs from what the script writes).
"""

from __future__ import annotations

'''

# Names an annotation may use that come from the standard library or torch.
_STANDARD = {
    "torch": "import torch",
    "Any": "from typing import Any",
    "Literal": "from typing import Literal",
    "Callable": "from collections.abc import Callable",
    "Iterable": "from collections.abc import Iterable",
    "Mapping": "from collections.abc import Mapping",
    "Sequence": "from collections.abc import Sequence",
    "Reduction": "from ._core.types import Reduction",
}
_SECTION = re.compile(r"^(Args|Arguments|Shape|Example|Examples|Returns|Raises|References|Note|"
                      r"Notes):\s*$")


class _DoubleQuotes(ast.NodeTransformer):
    """Marks string constants so they are written with double quotes (the project's style;
    postponed annotations come back from ``ast.unparse`` with single ones)."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str):
            return ast.Name(id=json.dumps(node.value), ctx=ast.Load())
        return node


def _annotation(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return "Any"
    text = value if isinstance(value, str) else inspect.formatannotation(value)
    return ast.unparse(_DoubleQuotes().visit(ast.parse(text, mode="eval")))


def _defining_module(module_name: str, name: str) -> str:
    """The module that binds ``name`` itself, following ``from ... import name`` in the
    source of ``module_name`` (a type alias has no ``__module__`` of its own to say)."""
    module = sys.modules[module_name]
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name
                                                    for a in node.names):
            source = importlib.util.resolve_name("." * node.level + (node.module or ""),
                                                 module.__package__)
            return _defining_module(source, name)
    return module_name


def _names(annotation: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(annotation, mode="eval")) if isinstance(n, ast.Name)}


def _sections(doc: str) -> dict[str, list[str]]:
    """Google-style sections of a docstring: name -> its lines, dedented."""
    out: dict[str, list[str]] = {}
    current: str | None = None
    for line in doc.splitlines():
        match = _SECTION.match(line)
        if match:
            current = match.group(1)
            out[current] = []
        elif current is not None:
            if line and not line[0].isspace():
                current = None
            else:
                out[current].append(line)
    return {k: textwrap.dedent("\n".join(v)).strip("\n").splitlines() for k, v in out.items()}


def _arg_docs(lines: list[str]) -> dict[str, str]:
    """``name: text`` entries of an Args section, continuation lines joined."""
    out: dict[str, str] = {}
    name = None
    for line in lines:
        match = re.match(r"^(\w+)(?: \([^)]*\))?:\s*(.*)$", line)
        if match and not line[0].isspace():
            name = match.group(1)
            out[name] = match.group(2)
        elif name is not None and line.strip():
            out[name] += " " + line.strip()
    return out


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH - len(indent), initial_indent=indent,
                         subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False) or [indent.rstrip()]


def _signature(indent: str, head: str, params: list[str], tail: str) -> list[str]:
    one = f"{indent}{head}({', '.join(params)}){tail}"
    if len(one) <= WIDTH:
        return [one]
    return [f"{indent}{head}(", *(f"{indent}    {p}," for p in params), f"{indent}){tail}"]


def _literal(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    if ast.literal_eval(text) != value:
        raise SystemExit(f"default {value!r} cannot be written as a literal")
    return text


class _Imports:
    def __init__(self) -> None:
        self.lines: set[str] = {"from typing import Any, ClassVar", "import torch",
                                "from ._core.registry import LossInfo, get_info",
                                "from ._core.types import Reduction",
                                "from ._nn_base import Loss", "from . import functional as F"}
        self.local: dict[str, set[str]] = {}

    def need(self, annotation: str, fn: Any) -> None:
        module = sys.modules[fn.__module__]
        for name in _names(annotation):
            if name in _STANDARD:
                self.lines.add(_STANDARD[name])
                continue
            if name in ("None", "float", "int", "str", "bool", "tuple", "list", "dict"):
                continue
            if not hasattr(module, name):
                raise SystemExit(f"{fn.__name__}: annotation name {name!r} is not defined in "
                                 f"{fn.__module__}")
            obj = getattr(module, name)
            home = getattr(obj, "__module__", None)
            if not (isinstance(home, str) and getattr(sys.modules.get(home), name, None) is obj):
                home = _defining_module(fn.__module__, name)
            self.local.setdefault(home, set()).add(name)

    def render(self) -> list[str]:
        merged: dict[str, set[str]] = {}
        plain: list[str] = []
        for line in self.lines:
            if line.startswith("from "):
                module, _, names = line[5:].partition(" import ")
                merged.setdefault(module, set()).update(n.strip() for n in names.split(","))
            else:
                plain.append(line)
        for home, names in self.local.items():
            module = "." + home[len("losskit."):] if home.startswith("losskit.") else home
            merged.setdefault(module, set()).update(names)

        def line(module: str) -> str:
            # ruff's isort order: CONSTANTS, Classes, functions
            names = sorted(merged[module],
                           key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))
            return f"from {module} import {', '.join(names)}"

        std = sorted(m for m in merged if m.split(".")[0] in ("collections", "typing"))
        third = sorted(m for m in merged if not m.startswith(".") and m not in std)
        local = sorted((m for m in merged if m.startswith(".")), key=lambda m: (m != ".", m))
        out = [line(m) for m in std] + [""]
        out += sorted(plain) + [line(m) for m in third] + [""]
        out += [line(m) for m in local]
        return out


def _class_source(info: Any, imports: _Imports) -> list[str]:
    import torch

    from losskit import functional
    from losskit._nn_base import class_name

    fn = info.fn
    name = class_name(info.name)
    if getattr(functional, fn.__name__, None) is not fn:
        raise SystemExit(f"{info.name}: losskit.functional.{fn.__name__} is not the registered "
                         "function; export it from losskit.functional")
    sig = inspect.signature(fn)
    params = sig.parameters
    hyper = dict(info.hyperparameters)
    reserved = set(dir(torch.nn.Module))
    clash = [h for h in hyper if h in reserved or h in ("info", "hyperparameters", "defaults")]
    if clash:
        raise SystemExit(f"{info.name}: hyperparameter {clash[0]!r} would shadow an nn.Module "
                         "attribute")
    doc = inspect.getdoc(fn) or ""
    sections = _sections(doc)
    args_doc = _arg_docs(sections.get("Args", sections.get("Arguments", [])))

    init_params, attributes, call = ["self", "*"], [], []
    for h, default in hyper.items():
        annotation = _annotation(params[h].annotation)
        if h in info.learnable and "Tensor" not in annotation:
            annotation = f"{annotation} | torch.Tensor"
        imports.need(annotation, fn)
        init_params.append(f"{h}: {annotation} = {_literal(default)}")
        attributes.append(f"    {h}: {annotation}")
        call.append(f"{h}={h}")
    if "reduction" in params:
        init_params.append(f"reduction: Reduction = {_literal(params['reduction'].default)}")
        attributes.append("    reduction: Reduction")
        call.append("reduction=reduction")

    data = []
    for a in info.data_arguments:
        annotation = _annotation(params[a].annotation)
        imports.need(annotation, fn)
        default = params[a].default
        data.append(f"{a}: {annotation}" + ("" if default is inspect.Parameter.empty
                                            else f" = {_literal(default)}"))
    returns = _annotation(sig.return_annotation)
    imports.need(returns, fn)

    # Docstring: the card's summary, how the module is used, Args, Shape.
    lines = textwrap.wrap(" ".join(info.summary.split()), WIDTH, initial_indent='    """',
                          subsequent_indent="    ", break_long_words=False,
                          break_on_hyphens=False)
    lines.append("")
    data_names = ", ".join(info.data_arguments)
    lines += _wrap(f"Module form of :func:`losskit.functional.{fn.__name__}`. The "
                   f"hyperparameters are keyword-only and kept as attributes; "
                   f"``loss({data_names})`` computes the loss, and a keyword given to the call "
                   f"(``weight=``, ...) goes to the function for that call.", "    ")
    if hyper or "reduction" in params:
        lines += ["", "    Args:"]
        for h, default in [*hyper.items(), *([("reduction", params["reduction"].default)]
                                             if "reduction" in params else [])]:
            text = args_doc.get(h) or (
                '``"mean"``, ``"sum"`` or ``"none"``.' if h == "reduction"
                else f"see :func:`losskit.functional.{fn.__name__}`.")
            if h in info.learnable:
                text += " Learnable: pass an ``nn.Parameter`` to train it."
            text = f"{h}: {text.rstrip()} Default: ``{_literal(default)}``."
            body = _wrap(text, "        ")
            lines += [body[0], *("    " + b for b in body[1:])]
    shape = sections.get("Shape")
    lines += ["", "    Shape:"]
    if shape:
        lines += [f"        {s}".rstrip() for s in shape]
    else:
        per = {"element": "the per-element loss", "sample": "one value per sample"}.get(
            info.none_shape, f"shape {info.none_shape!r}")
        lines += _wrap(f"{data_names}: as :func:`losskit.functional.{fn.__name__}` documents; "
                       f"output: a scalar, or {per} with ``reduction=\"none\"``.", "        ")
    lines.append('    """')
    body = "\n".join(lines)
    if '"""' in body[7:-3] or "\\" in body:
        body = body.replace("\\", "\\\\")

    out = [f"class {name}(Loss):", body, "",
           f'    info: ClassVar[LossInfo] = get_info("{info.name}")', *attributes, ""]
    out += _signature("    ", "def __init__", init_params, " -> None:")
    out += _signature("        ", "super().__init__", call, "")
    out.append("")
    out += _signature("    ", "def forward", ["self", *data, "**kwargs: Any"], f" -> {returns}:")
    out += _signature("        ", f"return F.{fn.__name__}",
                      [*info.data_arguments, "**self._arguments(kwargs)"], "")
    return out


def generate() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    importlib.import_module("losskit.functional")
    from losskit._core.registry import _REGISTRY
    from losskit._nn_base import class_name

    infos = sorted((i for i in _REGISTRY.values() if i.builtin), key=lambda i: i.name)
    names = [class_name(i.name) for i in infos]
    if len(set(names)) != len(names):
        raise SystemExit("two losses map to the same class name")
    imports = _Imports()
    classes = [_class_source(info, imports) for info in infos]
    out = [HEADER.rstrip("\n"), "", *imports.render(), "", "__all__ = ["]
    out += [f'    "{n}",' for n in sorted(names)]
    out += ["]", ""]
    for source in classes:
        out += ["", *source, ""]
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the committed file differs from the generated one")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run python scripts/generate_modules.py",
                  file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)} ({text.count(chr(10) + 'class ')} classes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
