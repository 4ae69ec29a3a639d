"""Sticky assignment: the same shopper gets the same variant in another process, and the weights hold."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.experiments import seed_of, unit_of, variant_of

ROOT = Path(__file__).resolve().parents[2]


def test_assignment_is_the_same_in_a_fresh_process_with_another_hash_seed():
    shoppers = [f"shopper-{i}" for i in range(200)]
    here = [variant_of("exp-1", s, [0.3, 0.3, 0.4]) for s in shoppers]
    code = ("from app.experiments import variant_of, seed_of\n"
            "print([variant_of('exp-1', f'shopper-{i}', [0.3, 0.3, 0.4]) for i in range(200)], seed_of('rec-7'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PYTHONHASHSEED": "12345", "PATH": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{here} {seed_of('rec-7')}"
    assert len(set(here)) == 3


def test_weights_are_respected_over_100k_shoppers():
    counts = np.bincount([variant_of("weights", f"s{i}", [1, 2, 7]) for i in range(100_000)], minlength=3)
    assert np.allclose(counts / 100_000, [0.1, 0.2, 0.7], atol=0.006)  # about 3 standard errors


def test_experiments_are_independent_and_zero_weight_gets_nobody():
    first = [variant_of("one", f"s{i}", [0.5, 0.5]) for i in range(20_000)]
    second = [variant_of("two", f"s{i}", [0.5, 0.5]) for i in range(20_000)]
    agree = np.mean(np.array(first) == np.array(second))
    assert 0.48 < agree < 0.52  # a new experiment reshuffles, it does not copy the old split
    assert {variant_of("off", f"s{i}", [1, 0]) for i in range(2000)} == {0}


def test_parts_are_separated_and_bad_weights_refused():
    assert unit_of("ab", "c") != unit_of("a", "bc")
    assert 0 <= unit_of("x") < 1
    for weights in ([], [0, 0], [1, -1]):
        with pytest.raises(ValueError):
            variant_of("e", "s", weights)
