"""The project's test command: the core suite, then the integration suite once per ComfyUI found.

    python3 tests/run_suites.py [pytest args for every run...]

ComfyUI is imported in-process, so each ComfyUI checkout gets its own pytest process, with
``COMFYUI_PATH`` set to it and, when the checkout has one, its own environment
``<checkout>/.venv`` (made by ``tests/integration/install_comfyui_requirements.sh``). Checkouts are
found as ``tests/integration/comfy_env.py`` says (``COMFYUI_PATH``, ``os.pathsep``-separated;
``<ComfyUI>/custom_nodes/<pack>``; ``ComfyUI*`` next to the repository; ``~/comfy/ComfyUI*``).
Prints one line per ComfyUI version with its counts (or one line saying none was found), then a
closing ``N passed, N failed, N skipped`` line; exits non-zero if any run failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from comfy_env import comfyui_version, find_comfyuis  # noqa: E402


def run(label: str, python: str, args: list[str], env: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        cmd = [python, "-m", "pytest", *args, f"--junitxml={xml}"]
        print(f"\n=== {label}: {' '.join(cmd)}", flush=True)
        rc = subprocess.call(cmd, cwd=ROOT, env=env)
        counts = {"passed": 0, "failed": 0, "skipped": 0, "rc": rc}
        if xml.is_file():
            for suite in ET.parse(xml).getroot().iter("testsuite"):
                total, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
                failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
                counts["passed"] += total - skipped - failed
                counts["failed"] += failed
                counts["skipped"] += skipped
    if rc != 0 and counts["failed"] == 0:
        counts["failed"] = 1  # a crash, or no test collected (exit 5): never green
    return counts


def main(extra: list[str]) -> int:
    lines, results = [], []
    base_env = {k: v for k, v in os.environ.items() if k != "COMFYUI_PATH"}
    core = run("core", sys.executable, ["tests", "--ignore=tests/integration", *extra], base_env)
    results.append(core)
    lines.append(f"core: {core['passed']} passed, {core['failed']} failed, {core['skipped']} skipped")
    checkouts = find_comfyuis()
    if not checkouts:
        r = run("integration (no ComfyUI)", sys.executable, ["tests/integration", *extra], base_env)
        results.append(r)
        lines.append("integration: no ComfyUI checkout found (set COMFYUI_PATH); "
                     f"{r['passed']} passed, {r['failed']} failed, {r['skipped']} skipped")
    for path in checkouts:
        venv = path / ".venv" / "bin" / "python"
        python = str(venv) if venv.is_file() else sys.executable
        label = f"ComfyUI {comfyui_version(path)} ({path})"
        r = run(label, python, ["tests/integration", *extra], dict(base_env, COMFYUI_PATH=str(path)))
        results.append(r)
        lines.append(f"integration on {label}: {r['passed']} passed, {r['failed']} failed, {r['skipped']} skipped")
    print("\n" + "\n".join(lines))
    total = {k: sum(r[k] for r in results) for k in ("passed", "failed", "skipped")}
    print(f"{total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    return 1 if total["failed"] or any(r["rc"] != 0 for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
