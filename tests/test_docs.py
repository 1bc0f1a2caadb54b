"""The documentation site builds with ``mkdocs build --strict`` and has a page per loss and
per topic (skipped when the docs extra is not installed)."""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import losskit
from losskit import concepts

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("mkdocs", "material", "mkdocstrings")),
    reason="the docs extra is not installed (pip install 'losskit[docs]')")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                             "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
                            cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    print(f"mkdocs build --strict: {time.perf_counter() - start:.1f} s")
    return out


def test_a_page_per_loss_with_its_card_and_curve(site):
    for name in losskit.list_losses():
        page = site / "losses" / name / "index.html"
        assert page.is_file(), name
        text = page.read_text()
        info = losskit.info(name)
        assert "Formula" in text and "Pitfalls" in text and "When to use" in text, name
        if "No one-dimensional curve" not in text:
            assert (site / "losses" / "img" / f"{name}.svg").is_file(), name
        assert info.family.replace("_", " ") in text


def test_a_page_per_topic_with_its_demonstration(site):
    for topic in concepts.topics():
        text = (site / "topics" / topic.slug / "index.html").read_text()
        if topic.demo is not None:
            assert "Holds: <strong>yes</strong>" in text, topic.slug


def test_guides_reference_benchmarks_and_readme_commands(site):
    start = re.sub(r"<[^>]+>", "", (site / "getting-started" / "index.html").read_text())
    readme = (ROOT / "README.md").read_text()
    for marker in ("main-command", "test-command"):  # the README's two commands, verbatim
        command = readme.split(f"<!-- {marker} -->")[1].split("```bash\n")[1].split("```")[0]
        assert html.escape(command.strip(), quote=False) in start, marker
    assert "regression-default" in (site / "guides" / "advisor" / "index.html").read_text()
    assert "gradcheck" in (site / "guides" / "verify" / "index.html").read_text()
    assert "time ratio" in (site / "benchmarks" / "index.html").read_text()
    api = (site / "reference" / "functional" / "index.html").read_text()
    assert "cross_entropy" in api and "Shape" in api
    assert "HuberLoss" in (site / "reference" / "nn" / "index.html").read_text()
