"""The per-run numbers that trained claims read at the default scale are what their code makes.

Four claims train for minutes, so at scales ``tiny`` and ``small`` they read per-run numbers
from a JSON file next to their module (the report says "cached") and recompute every statistic
from them. Each file stores the settings it was made with. The fast tests check that every
JSON file of ``perturbation/`` is listed here and that its stored settings are a valid call of
its function; the slow test (``make test-slow``) calls the function again with those settings
and compares every number, so a change to a trainer that moves the results fails here until the
file is regenerated::

    .venv/bin/python -c "import json; from perturbation.reinflow import CACHE, \\
        lq_finetuning_runs as f; CACHE.write_text(json.dumps(f(), indent=1))"
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
from pathlib import Path

import pytest

import perturbation

#: cache file (relative to perturbation/) -> (module, function that makes it)
CACHES = {
    "continuous/lq_training.json": ("perturbation.continuous", "lq_training_runs"),
    "reinflow/lq_finetuning.json": ("perturbation.reinflow", "lq_finetuning_runs"),
    "find/stability_runs.json": ("perturbation.find", "find_stability_runs"),
    "graph_recommendation/stable_training.json": (
        "perturbation.graph_recommendation",
        "stable_training_runs",
    ),
}
ROOT = Path(perturbation.__file__).parent
#: settings recorded for the reader only (derived from the arguments, or a timing)
RECORDED_ONLY = {"seconds"}


def _call(name: str):
    module, fn = CACHES[name]
    func = getattr(importlib.import_module(module), fn)
    data = json.loads((ROOT / name).read_text())
    params = inspect.signature(func).parameters
    kwargs = {k: v for k, v in data["settings"].items() if k in params}
    return func, kwargs, data


def test_every_cache_file_is_listed():
    found = {
        str(p.relative_to(ROOT)) for p in ROOT.rglob("*.json") if p.name != "expected_seconds.json"
    }
    assert found == set(CACHES), "list every cache file (and the function making it) in CACHES"


@pytest.mark.parametrize("name", sorted(CACHES))
def test_cached_settings_are_a_call_of_the_function(name: str):
    func, kwargs, data = _call(name)
    inspect.signature(func).bind(**kwargs)  # raises on an unknown or missing argument
    assert kwargs, f"{name}: no stored setting is an argument of {func.__name__}"
    assert "settings" in data and len(data) > 1


def _compare(fresh, cached, path: str, errors: list[str]) -> None:
    if isinstance(cached, dict):
        keys, cached_keys = set(fresh) - RECORDED_ONLY, set(cached) - RECORDED_ONLY
        if keys != cached_keys:
            errors.append(f"{path}: keys {sorted(keys)} != {sorted(cached_keys)}")
            return
        for k in cached_keys:
            _compare(fresh[k], cached[k], f"{path}.{k}", errors)
    elif isinstance(cached, list | tuple):
        if len(fresh) != len(cached):
            errors.append(f"{path}: length {len(fresh)} != {len(cached)}")
            return
        for i, (a, b) in enumerate(zip(fresh, cached, strict=True)):
            _compare(a, b, f"{path}[{i}]", errors)
    elif isinstance(cached, float) or isinstance(fresh, float):
        if not math.isclose(float(fresh), float(cached), rel_tol=1e-6, abs_tol=1e-8):
            errors.append(f"{path}: {fresh!r} != cached {cached!r}")
    elif fresh != cached:
        errors.append(f"{path}: {fresh!r} != cached {cached!r}")


def test_compare_finds_a_moved_number():
    errors: list[str] = []
    _compare({"a": [1.0, 2.0]}, {"a": [1.0, 2.001], "seconds": 9.0}, "x", errors)
    assert errors == ["x.a[1]: 2.0 != cached 2.001"]
    _compare({"a": 1}, {"b": 1}, "x", errors)
    assert errors[1] == "x: keys ['a'] != ['b']"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CACHES))
def test_cache_regenerates_to_the_same_numbers(name: str):
    func, kwargs, data = _call(name)
    fresh = json.loads(json.dumps(func(**kwargs)))  # the same float rounding as the file
    errors: list[str] = []
    _compare(fresh, data, name, errors)
    assert not errors, (
        f"{name} is stale: {len(errors)} differences, first {errors[:5]}; regenerate it with "
        f"{CACHES[name][0]}.{CACHES[name][1]}(**settings)"
    )
