"""A version's .npz read as memory maps: every API process maps the same file pages, so N processes hold one copy.

``np.savez`` stores each array as an uncompressed ``.npy`` member of a zip file, contiguous on disk; its data
can be mapped read-only at its offset (``np.load``'s own ``mmap_mode`` does not apply inside an .npz). Small,
0-d, compressed and misaligned members are read into memory as ``np.load`` would. ``save`` writes the same
format with every member's data on a 64-byte boundary (a padding extra field, as Android's zipalign does), so
that every large array maps; ``np.savez``'s members start wherever the zip puts them.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

ALIGN = 64  # the .npy header is padded to a multiple of 64 bytes, so aligning a member aligns its data
_PADDING_ID = 0xD935  # the zip extra field id zipalign uses for padding
MIN_MAPPED_BYTES = 1 << 16  # below this a copy costs less than a mapping (a page table entry, a file handle)
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local header: 30 bytes, then its name and extra


def save(file: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez(file, **arrays)`` with each member's data 64-byte aligned in the file (see the module)."""
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            # The local header: 30 bytes, the name, this extra field, then zipfile's zip64 field (20 bytes).
            start = file.tell() + _LOCAL_HEADER.size + len(info.filename.encode()) + 20
            pad = -start % ALIGN
            if pad:
                pad += ALIGN if pad < 4 else 0  # an extra field is at least its 4-byte id and length
                info.extra = struct.pack("<HH", _PADDING_ID, pad - 4) + bytes(pad - 4)
            with z.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


class MappedNpz:
    """``files`` and ``[name]`` like ``np.load(path)`` of an .npz; large arrays come back as read-only memmaps."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._zip = zipfile.ZipFile(self.path)
        self._members = {info.filename[:-4]: info for info in self._zip.infolist() if info.filename.endswith(".npy")}
        self.files = list(self._members)

    def __getitem__(self, name: str) -> np.ndarray:
        info = self._members[name]
        if info.compress_type != zipfile.ZIP_STORED or info.file_size < MIN_MAPPED_BYTES or self._scalar(info):
            with self._zip.open(info) as f:
                return np.lib.format.read_array(f, allow_pickle=False)
        with open(self.path, "rb") as f:
            f.seek(info.header_offset)
            fields = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
            f.seek(info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1])  # past the name and extra
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
        if dtype.hasobject:
            raise ValueError(f"{name}: object arrays are never stored in a version")
        if 0 in shape:
            return np.zeros(shape, dtype)
        if offset % dtype.alignment:  # a zip member starts anywhere: a misaligned map would slow every product
            with self._zip.open(info) as f:
                return np.lib.format.read_array(f, allow_pickle=False)
        # A plain read-only ndarray over the mapping (it keeps the mapping alive), not the memmap subclass.
        return np.asarray(np.memmap(self.path, dtype=dtype, mode="r", offset=offset, shape=shape,
                                    order="F" if fortran else "C"))

    def _scalar(self, info: zipfile.ZipInfo) -> bool:
        """A 0-d member (the metadata string): read, never mapped."""
        with self._zip.open(info) as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            return read_header(f)[0] == ()

    def __contains__(self, name: str) -> bool:
        return name in self._members

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> MappedNpz:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
