"""Large byte buffers handed out again once nothing refers to them.

Every run's spike planes and listings come from :data:`POOL`
(:mod:`eqsnn.runtime.spike_bits`): the memory of a result that has been
freed is handed to the next run, which spares the kernel's first-touch page
faults, the main cost of recording into fresh memory.  Every buffer starts
on a 64-byte cache line.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

#: buffers smaller than this come from NumPy directly (the allocator reuses them anyway)
POOL_MIN_BYTES = 1 << 20
#: free memory the pool keeps for the next runs; more is returned to the system
POOL_KEEP_BYTES = 1 << 30
#: every buffer starts on a cache line, so spike rows padded to whole lines stay aligned
ALIGN = 64


class BufferPool:
    """Large byte buffers, handed out again once nothing refers to them.

    A buffer is free when only the pool holds it: every array handed out is
    a view whose ``base`` is the buffer, so as long as any such array (or a
    view of it) lives, the buffer's reference count shows it and it is never
    reused.  Reuse is never decided by a finaliser, so an array the user
    keeps after dropping its result is never overwritten.
    """

    def __init__(self, keep_bytes: int = POOL_KEEP_BYTES, min_bytes: int = POOL_MIN_BYTES):
        self.keep_bytes = keep_bytes
        self.min_bytes = min_bytes
        self._buffers: list[np.ndarray] = []
        self._lock = threading.Lock()
        probe = [np.empty(1, np.uint8)]
        self._free_count = sys.getrefcount(probe[0])  # the list's reference and the call's

    def _is_free(self, k: int) -> bool:
        return sys.getrefcount(self._buffers[k]) == self._free_count

    def empty(self, shape, dtype) -> np.ndarray:
        """An uninitialised array of ``shape`` and ``dtype`` (C order)."""
        dtype = np.dtype(dtype)
        shape = tuple(int(d) for d in np.atleast_1d(shape)) if np.ndim(shape) else (int(shape),)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes < self.min_bytes:
            return _aligned(np.empty(nbytes + ALIGN, np.uint8), nbytes, dtype, shape)
        with self._lock:
            chosen = None
            for k in range(len(self._buffers)):
                size = self._buffers[k].nbytes - ALIGN
                # a free buffer of at most twice the size: no small result pins a huge one
                if nbytes <= size <= 2 * nbytes + self.min_bytes and self._is_free(k):
                    if chosen is None or size < self._buffers[chosen].nbytes - ALIGN:
                        chosen = k
            if chosen is None:
                self._trim(nbytes)
                buffer = np.empty(nbytes + ALIGN, np.uint8)
                self._buffers.append(buffer)
            else:
                buffer = self._buffers[chosen]
            return _aligned(buffer, nbytes, dtype, shape)

    def _trim(self, incoming: int) -> None:
        """Drop free buffers (oldest first) until those left and ``incoming`` fit the limit."""
        free = [k for k in range(len(self._buffers)) if self._is_free(k)]
        total = sum(self._buffers[k].nbytes for k in free) + incoming
        drop = set()
        for k in free:
            if total <= self.keep_bytes:
                break
            drop.add(k)
            total -= self._buffers[k].nbytes
        self._buffers = [b for k, b in enumerate(self._buffers) if k not in drop]

    def release(self) -> int:
        """Return every free buffer to the system; the number of bytes released."""
        with self._lock:
            free = [k for k in range(len(self._buffers)) if self._is_free(k)]
            released = sum(self._buffers[k].nbytes for k in free)
            keep = set(range(len(self._buffers))) - set(free)
            self._buffers = [b for k, b in enumerate(self._buffers) if k in keep]
        return released

    @property
    def held_bytes(self) -> int:
        return sum(b.nbytes for b in self._buffers)


#: the pool of every run's spike planes and listings
POOL = BufferPool()


def _aligned(buffer: np.ndarray, nbytes: int, dtype, shape) -> np.ndarray:
    """``nbytes`` of ``buffer`` (``nbytes + ALIGN`` long) from a multiple of ``ALIGN``."""
    start = -buffer.ctypes.data % ALIGN
    return buffer[start: start + nbytes].view(dtype).reshape(shape)
