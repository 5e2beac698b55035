"""The JSON results store the resumable benchmark scripts share (localize_digits, remove_bench, few_steps,
localize_sweep).

A store is a dict with a list ``"runs"`` (one record per finished setting, in the order they finished; a
rerun skips the settings already there), a dict ``"timing"`` (wall seconds per invocation) and whatever a
script adds. It is saved as ``json.dumps(store, indent=0)`` plus a newline, next to a Markdown report that
the script's ``markdown(store)`` generates from it alone (``--report`` rewrites the report without running).
"""

from __future__ import annotations

import json
import pathlib
import time
from typing import Callable, Iterable


def load_store(path: pathlib.Path, empty: dict | None = None) -> dict:
    """The store saved at ``path``, or ``empty`` (default ``{"runs": [], "timing": {}}``) when there is none."""
    if path.exists():
        return json.loads(path.read_text())
    return {"runs": [], "timing": {}} if empty is None else empty


def save_store(store: dict, path: pathlib.Path, atomic: bool = True) -> None:
    """Write ``store`` to ``path`` (parent folders created). ``atomic``: through ``path.with_suffix(".tmp")``
    and a rename, so that an interrupted run never leaves a truncated file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_suffix(".tmp") if atomic else path
    target.write_text(json.dumps(store, indent=0) + "\n")
    if atomic:
        target.replace(path)


def write_report(store: dict, path: pathlib.Path, markdown: Callable[[dict], str]) -> None:
    """Rewrite the Markdown report at ``path`` from the store alone."""
    path.write_text(markdown(store))


def save_store_and_report(store: dict, json_path: pathlib.Path, md_path: pathlib.Path,
                          markdown: Callable[[dict], str], atomic: bool = True) -> None:
    """``save_store`` then ``write_report``."""
    save_store(store, json_path, atomic=atomic)
    write_report(store, md_path, markdown)


def done_keys(runs: Iterable[dict], fields: Iterable[str]) -> set:
    """The settings already in the store: one tuple of ``fields`` per run (list values, e.g. a guidance
    pair, as tuples so that they hash and compare with the tuples a script builds)."""
    fields = tuple(fields)
    return {tuple(tuple(r[f]) if isinstance(r[f], list) else r[f] for f in fields) for r in runs}


def record_timing(store: dict, key: str, t0: float) -> None:
    """``store["timing"][key]`` = whole seconds since ``t0`` (a ``time.time()``)."""
    store["timing"][key] = round(time.time() - t0)


def timing_lines(store: dict) -> list[str]:
    """The report's closing lines: a blank line and ``Timing: {...}``, or none without timing."""
    return ["", "Timing: " + json.dumps(store["timing"])] if store.get("timing") else []


def print_written(json_path: pathlib.Path, md_path: pathlib.Path, t0: float) -> None:
    """The closing ``wrote <json> and <md> in Ns`` line of a run."""
    print(f"wrote {json_path} and {md_path} in {time.time() - t0:.0f}s", flush=True)
