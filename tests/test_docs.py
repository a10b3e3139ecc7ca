"""The docs name only what exists: every console script, ``python -m`` module, benchmark
script, make target, bench suite and config path (configs/..., projects/....yaml) that README.md and
docs/*.md tell a reader to type is checked against setup.py, the package, the Makefile and the
tree. Python code blocks are skipped: they show a user's own plugin, not files of this repo."""

import importlib.util
import itertools
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
# Folders of this repository whose names look like console scripts.
PACKAGES = {"mmf_imgtune", "mmf_imgtune_mmf", "mmf_imgtune_shims"}
SCRIPT = re.compile(r"(?<![\w./-])(mmf_(?:run|predict|convert_hm|imgtune_\w+))\b(?![/.])")
MODULE = re.compile(r"python -m ([\w.]+)")
PATH = re.compile(r"(?<![\w./-])((?:configs|projects|benchmarks|scripts)/[\w./{},-]+)")
MAKE = re.compile(r"\bmake ([a-z][\w-]*)")
SUITE = re.compile(r"--suite ([\w-]+)(?![\w.-])")


def code_spans(page: Path) -> list[str]:
    """The text of the page's shell/plain code blocks and inline code spans."""
    text = page.read_text(encoding="utf-8")
    spans = [body for lang, body in FENCE.findall(text) if lang not in ("python", "py")]
    prose = FENCE.sub("", text)
    return spans + INLINE.findall(prose)


def console_scripts() -> dict[str, str]:
    setup = (REPO / "setup.py").read_text(encoding="utf-8")
    return dict(re.findall(r'"([\w-]+)=([\w.]+):\w+"', setup))


def module_exists(name: str) -> bool:
    """Our modules by their file (nothing imported); others (pytest, pip) by import spec."""
    if name.split(".")[0] not in PACKAGES:
        return importlib.util.find_spec(name) is not None
    base = REPO / name.replace(".", "/")
    return base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()


def expand_braces(path: str) -> list[str]:
    """``a/{b,c}/d`` -> ``a/b/d``, ``a/c/d`` (shell brace expansion, as readers read it)."""
    parts = re.split(r"\{([^{}]*)\}", path)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(combo) for combo in itertools.product(*choices)]


def named(pattern: re.Pattern) -> list[tuple[str, str]]:
    """(page, name) for every match of pattern in every page's code."""
    found = set()
    for page in PAGES:
        for span in code_spans(page):
            for match in pattern.findall(span):
                found.add((page.relative_to(REPO).as_posix(), match))
    return sorted(found)


def checked_path(path: str) -> bool:
    """Paths a reader would open: config yaml and scripts; not placeholders or output folders."""
    path = path.rstrip(".,")
    if any(mark in path for mark in ("<", "*", "...", "$")):
        return False
    if path.startswith(("configs/", "projects/")):
        return path.endswith((".yaml", "/"))
    return path.endswith((".py", ".sh"))


def test_pages_are_found():
    assert (REPO / "README.md") in PAGES and len(PAGES) > 5, PAGES


def test_console_scripts_named_in_docs_exist():
    scripts = console_scripts()
    assert "mmf_run" in scripts, "setup.py's console_scripts could not be read"
    for page, name in named(SCRIPT):
        if name in PACKAGES:
            continue
        assert name in scripts, f"{page} names `{name}`, which setup.py does not install"
        assert module_exists(scripts[name]), f"{name} points to a missing module {scripts[name]}"


def test_python_modules_named_in_docs_exist():
    for page, name in named(MODULE):
        assert module_exists(name), f"{page} runs `python -m {name}`, which does not exist"


@pytest.mark.parametrize("kind", ["configs", "projects", "benchmarks", "scripts"])
def test_paths_named_in_docs_exist(kind):
    checked = 0
    for page, path in named(PATH):
        if not path.startswith(kind + "/") or not checked_path(path):
            continue
        for one in expand_braces(path.rstrip(".,")):
            checked += 1
            assert (REPO / one).exists(), f"{page} names {one}, which does not exist"
    if kind in ("configs", "projects", "benchmarks"):
        assert checked > 3, f"no {kind}/ path found in the docs: the pattern is broken"


def test_bench_suites_named_in_docs_exist():
    suites = named(SUITE)
    assert any(name == "shapes-vqa" for _, name in suites), suites
    for page, name in suites:
        path = REPO / "configs" / "bench" / f"{name}.yaml"
        assert path.is_file(), f"{page} names `--suite {name}`; configs/bench/ has no {name}.yaml"


def test_make_targets_named_in_docs_exist():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    named_targets = named(MAKE)
    assert {"demo", "test"} <= {target for _, target in named_targets}
    for page, target in named_targets:
        assert target in targets, f"{page} names `make {target}`; the Makefile has {targets}"


def test_the_checks_catch_a_wrong_name(tmp_path):
    """The patterns see a command, a module and paths in a code block and inline."""
    page = tmp_path / "page.md"
    page.write_text(
        "Run `mmf_imgtune_nothing --x` or\n```bash\npython -m mmf_imgtune.cli.nothing\n"
        "mmf_run config=projects/imgtune/configs/shapes/none.yaml\nmake nothing\n"
        "mmf_imgtune_bench --suite none --out x\n```\n"
    )
    text = "\n".join(code_spans(page))
    assert sorted(SCRIPT.findall(text)) == ["mmf_imgtune_bench", "mmf_imgtune_nothing", "mmf_run"]
    assert MODULE.findall(text) == ["mmf_imgtune.cli.nothing"]
    assert PATH.findall(text) == ["projects/imgtune/configs/shapes/none.yaml"]
    assert MAKE.findall(text) == ["nothing"]
    assert SUITE.findall(text) == ["none"]
    assert not module_exists("mmf_imgtune.cli.nothing") and module_exists("mmf_imgtune.cli.run")
    assert expand_braces("a/{b,c}/d.py") == ["a/b/d.py", "a/c/d.py"]
