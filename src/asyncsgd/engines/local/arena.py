"""One anonymous shared-memory file holding every array the learner processes share.

The arena is a ``memfd`` (an anonymous file in the kernel's memory): it never appears under
``/dev/shm``, so no run, not even one killed with SIGKILL, can leave a segment behind; the kernel
frees the memory when the last process that maps it exits. Learner processes open it through
``/proc/<owner pid>/fd/<fd>`` and map the same pages. Arrays are laid out once by a
:class:`Layout` (name → dtype, shape, byte offset, 64-byte aligned so no two hot counters share a
cache line with a tensor) and viewed as torch tensors or numpy arrays without copies.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from dataclasses import dataclass, field

import numpy as np
import torch

ALIGN = 64

_TORCH_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "int64": torch.int64,
    "int32": torch.int32,
    "uint8": torch.uint8,
}


@dataclass(frozen=True)
class Slot:
    offset: int
    dtype: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(np.dtype(self.dtype).itemsize * int(np.prod(self.shape, dtype=np.int64)))


@dataclass
class Layout:
    """Where each named array lives in the arena (built in the parent, shipped to children)."""

    slots: dict[str, Slot] = field(default_factory=dict)
    size: int = 0

    def add(self, name: str, dtype: str, shape: tuple[int, ...] | int) -> None:
        if name in self.slots:
            raise ValueError(f"arena slot {name!r} defined twice")
        shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
        offset = -(-self.size // ALIGN) * ALIGN
        slot = Slot(offset, dtype, shape)
        self.slots[name] = slot
        self.size = offset + max(slot.nbytes, 1)

    def __contains__(self, name: str) -> bool:
        return name in self.slots


class Arena:
    """A mapped arena; ``Arena.create`` in the owner, ``Arena.attach`` in a learner process."""

    def __init__(self, layout: Layout, fd: int, owner: bool) -> None:
        self.layout = layout
        self.fd = fd
        self.owner = owner
        self.pid = os.getpid()
        self._map: mmap.mmap | None = mmap.mmap(fd, max(layout.size, 1))
        self._views: dict[str, np.ndarray] = {}

    @classmethod
    def create(cls, layout: Layout, name: str = "asyncsgd") -> Arena:
        fd = os.memfd_create(name, os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, max(layout.size, 1))  # zero-filled
        except OSError:
            os.close(fd)
            raise
        return cls(layout, fd, owner=True)

    @classmethod
    def attach(cls, layout: Layout, owner_pid: int, fd: int) -> Arena:
        local = os.open(f"/proc/{owner_pid}/fd/{fd}", os.O_RDWR | os.O_CLOEXEC)
        return cls(layout, local, owner=False)

    @property
    def address(self) -> tuple[int, int]:
        """What a child needs to attach: (owner pid, fd number in the owner)."""
        return self.pid, self.fd

    def numpy(self, name: str) -> np.ndarray:
        if name not in self._views:
            if self._map is None:
                raise RuntimeError("arena is closed")
            slot = self.layout.slots[name]
            self._views[name] = np.ndarray(slot.shape, np.dtype(slot.dtype), self._map, slot.offset)
        return self._views[name]

    def tensor(self, name: str) -> torch.Tensor:
        """A torch view of the slot (shares memory with the arena)."""
        slot = self.layout.slots[name]
        if slot.dtype not in _TORCH_DTYPES:
            raise TypeError(f"slot {name!r} has dtype {slot.dtype}, not viewable as a tensor")
        return torch.from_numpy(self.numpy(name))

    def address_of(self, name: str) -> int:
        """Virtual address of a slot in this process (for ctypes primitives living in the arena)."""
        return int(self.numpy(name).ctypes.data)

    def close(self) -> None:
        """Drop the mapping (views must no longer be used) and the file descriptor."""
        self._views.clear()
        if self._map is not None:
            with contextlib.suppress(BufferError):  # a view still alive keeps the mapping until it goes
                self._map.close()
            self._map = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
