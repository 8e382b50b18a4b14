"""Every fenced ``python`` and ``bash`` block of README.md and docs/*.md runs.

Each block runs on its own, in a fresh process, from a scratch directory that
links to the repository's top-level files (so ``python -m parity`` and
``examples/...`` resolve as they do from the repository root, and files a
block writes land in the scratch directory). A block that cannot run here
says so on the line just above its fence, in a comment a reader of the
rendered page does not see::

    <!-- docs-test: skip: installs packages -->

and the test is reported as skipped with that reason (``pytest -ra`` lists
them). Fences in other languages (``text``, ``yaml``, none) are not run.
A block that must print something says so the same way::

    <!-- docs-test: expect: matches single-process loss: True -->
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = {"python", "bash", "sh"}
FENCE = re.compile(r"^(`{3,})([\w+-]*)\s*$")
MARK = re.compile(r"^<!--\s*docs-test:\s*(skip|expect):\s*(.*?)\s*-->\s*$")


def _pages():
    pages = [os.path.join(ROOT, "README.md")]
    docs = os.path.join(ROOT, "docs")
    if os.path.isdir(docs):
        pages += sorted(os.path.join(docs, f) for f in os.listdir(docs) if f.endswith(".md"))
    return pages


def blocks(path):
    """(line, language, code, marks) of each fenced block in ``path``."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2).lower(), i
        marks, j = {}, i - 1
        while j >= 0 and MARK.match(lines[j]):
            kind, text = MARK.match(lines[j]).groups()
            marks.setdefault(kind, text)
            j -= 1
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        i += 1
        out.append((start + 1, lang, "\n".join(body) + "\n", marks))
    return out


def _cases():
    cases = []
    for page in _pages():
        rel = os.path.relpath(page, ROOT)
        for line, lang, code, marks in blocks(page):
            if lang in RUN:
                where = f"{rel}:{line}"
                cases.append(pytest.param(where, lang, code, marks, id=where))
    return cases


@pytest.fixture
def scratch(tmp_path):
    """A directory that looks like the repository root but is not it."""
    for name in os.listdir(ROOT):
        if name.startswith(".") or name in ("build", "dist"):
            continue
        os.symlink(os.path.join(ROOT, name), tmp_path / name)
    return tmp_path


@pytest.mark.parametrize("where, lang, code, marks", _cases())
def test_block_runs(where, lang, code, marks, scratch):
    if "skip" in marks:
        pytest.skip(f"{where} not run: {marks['skip']}")
    env = dict(os.environ)
    # the interpreter running the tests is the `python` of every block
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    if lang == "python":
        cmd = [sys.executable, "-c", code]
    else:
        cmd = ["bash", "-euo", "pipefail", "-c", code]
    proc = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{where}: exit status {proc.returncode}:\n{code}\n---\n{out[-4000:]}"
    if "expect" in marks:
        assert marks["expect"] in proc.stdout, f"{marks['expect']!r} not printed:\n{out[-4000:]}"


def test_the_pages_have_runnable_blocks():
    # the extraction itself: a README without a single runnable block means the parser broke
    found = [c for c in _cases() if c.id.startswith("README.md:")]
    assert len(found) >= 3


def test_marks_are_read(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs-test: skip: installs packages -->\n```bash\npip install x\n```\n"
        "```python\nprint(1)\n```\n```text\nnot run\n```\n",
        encoding="utf-8",
    )
    assert blocks(str(page)) == [
        (2, "bash", "pip install x\n", {"skip": "installs packages"}),
        (5, "python", "print(1)\n", {}),
        (8, "text", "not run\n", {}),
    ]


# --------------------------------------------------------------------------
# the first `pytest` on a fresh machine says that MLX is compiling kernels


def _collect_with_cache(tmp_path, kernels):
    import mlx.core as mx

    cache = tmp_path / "mlx" / mx.__version__ / "cpu"
    cache.mkdir(parents=True)
    for i in range(kernels):
        (cache / f"libk{i}.so").touch()
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--co", "-p", "no:cacheprovider", "tests/test_regression.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_a_cold_kernel_cache_is_announced_up_front(tmp_path):
    import mlx.core as mx

    if not sys.platform.startswith("linux") or mx.default_device().type != mx.DeviceType.cpu:
        pytest.skip("MLX compiles C++ kernels only on Linux's CPU backend")
    first = _collect_with_cache(tmp_path / "cold", 0).splitlines()[0]
    assert "MLX's CPU kernel cache" in first and "holds 0 of the about" in first
    assert "minutes" in first
    warm = _collect_with_cache(tmp_path / "warm", 1400)
    assert "kernel cache" not in warm
