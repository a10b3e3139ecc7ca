"""The contracts of .importlinter (layer order, no cycles, commands independent) hold for the
package, and the check catches a back import even inside a function (`make lint` runs it)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / ".importlinter"), "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_package_keeps_its_layers_and_has_no_cycles():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_a_lazy_back_import_and_a_command_used_as_a_library_break_the_contracts(tmp_path):
    shutil.copy(ROOT / ".importlinter", tmp_path)
    shutil.copytree(ROOT / "mmf_imgtune", tmp_path / "mmf_imgtune",
                    ignore=shutil.ignore_patterns("__pycache__", "*.html"))  # fmt: skip
    planted = tmp_path / "mmf_imgtune" / "models" / "base_model.py"
    planted.write_text(
        planted.read_text(encoding="utf-8")
        + "\n\ndef _opens_a_run(path):\n"
        + "    from mmf_imgtune.trainer.load_run import load_run\n\n"
        + "    return load_run(path)\n",
        encoding="utf-8",
    )
    command = tmp_path / "mmf_imgtune" / "cli" / "chat.py"
    command.write_text(
        command.read_text(encoding="utf-8") + "\nfrom mmf_imgtune.cli.generate import main\n",
        encoding="utf-8",
    )
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout
    assert "mmf_imgtune.models.base_model -> mmf_imgtune.trainer.load_run" in result.stdout
    assert "mmf_imgtune.cli.chat -> mmf_imgtune.cli.generate" in result.stdout
    assert "Contracts: 1 kept, 2 broken." in result.stdout
