"""A version's arrays are maps of its file (one copy for every API process), equal to what was saved."""

import json

import numpy as np

from app.model import mapped
from app.model.mapped import MappedNpz


def test_large_arrays_are_read_only_maps_and_equal_to_the_saved_ones(tmp_path):
    path = tmp_path / "v.npz"
    big = np.arange(200_000, dtype=np.float32).reshape(2000, 100)
    small = np.arange(5, dtype=np.int64)
    meta = json.dumps({"history": ["x" * 100] * 2000})  # a 0-d string larger than MIN_MAPPED_BYTES
    fortran = np.asfortranarray(np.arange(40_000, dtype=np.float64).reshape(200, 200))
    np.savez(path, big=big, small=small, meta=np.array(meta), empty=np.zeros((0, 3), np.float32), fortran=fortran)
    with MappedNpz(path) as z:
        assert sorted(z.files) == ["big", "empty", "fortran", "meta", "small"]
        got = z["big"]
        np.testing.assert_array_equal(got, big)
        assert got.flags.aligned
        if isinstance(got.base, np.memmap):  # mapped where the member's data is aligned, read-only
            assert not got.flags.writeable and str(got.base.filename) == str(path)
        np.testing.assert_array_equal(z["small"], small)
        assert json.loads(str(z["meta"])) == json.loads(meta)
        assert z["empty"].shape == (0, 3)
        np.testing.assert_array_equal(z["fortran"], fortran)
        assert big.nbytes > mapped.MIN_MAPPED_BYTES > small.nbytes


def test_a_saved_version_maps_every_large_array_and_reads_back_like_np_load(tmp_path):
    """``mapped.save`` aligns each member's data, whatever the names and sizes before it (odd lengths shift
    every later member), and ``np.load`` still reads the file."""
    rng = np.random.default_rng(0)
    arrays = {"meta": np.array(json.dumps({"a": 1})), "ids": np.array(["u1", "user-22", "x"], dtype=str)}
    for n in range(12):  # names and byte lengths of every parity
        arrays["a" * (n + 1)] = rng.normal(size=(1000 + 37 * n, 17 + n)).astype(np.float32 if n % 2 else np.float64)
    arrays["ints"] = rng.integers(0, 9, 70_001).astype(np.int32)
    path = tmp_path / "v.npz"
    with open(path, "wb") as f:
        mapped.save(f, arrays)
    with MappedNpz(path) as z, np.load(path) as plain:
        assert sorted(z.files) == sorted(arrays) == sorted(plain.files)
        for name, array in arrays.items():
            np.testing.assert_array_equal(z[name], array)
            np.testing.assert_array_equal(plain[name], array)
            if array.nbytes >= mapped.MIN_MAPPED_BYTES and array.ndim:
                assert isinstance(z[name].base, np.memmap), name  # mapped, not copied
                assert not z[name].flags.writeable
