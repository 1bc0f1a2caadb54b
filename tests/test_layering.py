"""The package's layering (DESIGN.md section 1), read from the source: no import cycles,
the ground floor (``_core``, ``kernels``, ``distributed``) imports nothing above it,
``functional`` imports nothing from the layers that use it, and no module reaches for
torch's private entry points (``torch._C``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "losskit"

GROUND = ("losskit._core", "losskit.kernels", "losskit.distributed")
ABOVE_FUNCTIONAL = ("losskit.nn", "losskit._nn_base", "losskit._modules", "losskit.compose",
                    "losskit._composite", "losskit.verify", "losskit.advise",
                    "losskit.compare", "losskit.plot", "losskit.cli", "losskit.api",
                    "losskit.monitor", "losskit.integrations", "losskit._bench")


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Every losskit module ``name`` imports, at module level or inside functions."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rsplit(".", 1)[0]
            module = node.module or ""
            target = (f"{base}.{module}" if module else base) if node.level else module
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _in(name: str, layers: tuple[str, ...]) -> bool:
    return any(name == layer or name.startswith(layer + ".") for layer in layers)


def test_no_import_cycles():
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _in(n, GROUND)))
def test_ground_floor_imports_nothing_above_it(name):
    above = {m for m in GRAPH[name] if not _in(m, GROUND) and m != "losskit"}
    assert not above, f"{name} imports {sorted(above)} from above the ground floor"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _in(n, ("losskit.functional",))))
def test_functional_imports_nothing_from_the_layers_above(name):
    above = {m for m in GRAPH[name] if _in(m, ABOVE_FUNCTIONAL)}
    assert not above, f"{name} imports {sorted(above)}"


def test_no_private_torch_entry_points():
    hits = []
    for name, path in MODULES.items():
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if "torch._C" in code or "torch.ops.aten" in code:
                hits.append(f"{name}:{lineno}: {line.strip()}")
    assert not hits, "private torch entry points:\n" + "\n".join(hits)


def test_every_public_name_the_docs_use_resolves_after_import_losskit():
    # The README and guides write `losskit.modules.ArcFace`, `losskit.monitor.LossMonitor`,
    # ... after a bare `import losskit`: each dotted name they use must resolve in a fresh
    # interpreter (submodules load on first use).
    import re
    import subprocess
    import sys

    docs = [ROOT.parents[1] / "README.md", *(ROOT.parents[1] / "docs").rglob("*.md")]
    names = set()
    for path in docs:
        names |= set(re.findall(r"\blosskit\.([a-z]\w*)\.([A-Za-z]\w*)", path.read_text()))
    def is_module(*parts: str) -> bool:
        path = ROOT.joinpath(*parts)
        return path.is_dir() or path.with_suffix(".py").exists()

    # a deeper module (losskit.integrations.lightning) is imported by its path, not reached
    public = sorted(f"{a}.{b}" for a, b in names if is_module(a) and not is_module(a, b))
    assert "modules.ArcFace" in public and "monitor.LossMonitor" in public
    script = ("import functools, losskit\n"
              f"for name in {public!r}:\n"
              "    functools.reduce(getattr, name.split('.'), losskit)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
