"""A process-shared, robust mutex living in the arena (POSIX ``pthread_mutex_t`` via ctypes).

Why not ``multiprocessing.Lock``: a learner killed while holding it leaves it locked forever,
and it is a named semaphore under ``/dev/shm``. A *robust* pthread mutex is released by the
kernel when its owner dies; the next process to lock it is told so (``EOWNERDEAD``), marks it
consistent and carries on, and the engine records that the dead learner may have left a partial
update in that shard. Every acquisition has a timeout (``pthread_mutex_clocklock`` on the
monotonic clock). Linux with glibc only, which is what the ``local`` engine supports.
"""

from __future__ import annotations

import ctypes
import errno
import math
import time

MUTEX_BYTES = 64  # sizeof(pthread_mutex_t) is 40 on x86-64 and aarch64 glibc
_PTHREAD_PROCESS_SHARED = 1
_PTHREAD_MUTEX_ROBUST = 1
_CLOCK_MONOTONIC = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _libc() -> ctypes.CDLL:
    lib = ctypes.CDLL(None, use_errno=True)
    for name in ("pthread_mutex_trylock", "pthread_mutex_unlock", "pthread_mutex_consistent"):
        fn = getattr(lib, name)
        fn.argtypes = [ctypes.c_void_p]
        fn.restype = ctypes.c_int
    lib.pthread_mutex_clocklock.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(_Timespec)]
    lib.pthread_mutex_clocklock.restype = ctypes.c_int
    lib.pthread_mutex_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.pthread_mutex_init.restype = ctypes.c_int
    for name in ("pthread_mutexattr_init", "pthread_mutexattr_destroy"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    for name in ("pthread_mutexattr_setpshared", "pthread_mutexattr_setrobust"):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


_LIB = _libc()


class RobustMutex:
    """A mutex at ``address`` (inside a shared mapping): ``init`` once, then any process locks it."""

    def __init__(self, address: int) -> None:
        self.address = address
        self._trylock = _LIB.pthread_mutex_trylock
        self._unlock = _LIB.pthread_mutex_unlock

    def init(self) -> None:
        attr = ctypes.create_string_buffer(64)
        check(_LIB.pthread_mutexattr_init(attr), "mutexattr_init")
        check(_LIB.pthread_mutexattr_setpshared(attr, _PTHREAD_PROCESS_SHARED), "setpshared")
        check(_LIB.pthread_mutexattr_setrobust(attr, _PTHREAD_MUTEX_ROBUST), "setrobust")
        check(_LIB.pthread_mutex_init(self.address, attr), "mutex_init")
        _LIB.pthread_mutexattr_destroy(attr)

    def acquire(self, timeout: float) -> bool:
        """Lock within ``timeout`` seconds; True when the previous owner died holding it.

        Raises :class:`TimeoutError` when the mutex stays held by a live process.
        """
        rc = self._trylock(self.address)
        if rc == errno.EBUSY:
            deadline = time.clock_gettime(time.CLOCK_MONOTONIC) + timeout
            frac, whole = math.modf(deadline)
            ts = _Timespec(int(whole), int(frac * 1e9))
            rc = _LIB.pthread_mutex_clocklock(self.address, _CLOCK_MONOTONIC, ctypes.byref(ts))
            while rc == errno.EINTR:  # pragma: no cover (signals during the wait)
                rc = _LIB.pthread_mutex_clocklock(self.address, _CLOCK_MONOTONIC, ctypes.byref(ts))
        if rc == 0:
            return False
        if rc == errno.EOWNERDEAD:
            check(_LIB.pthread_mutex_consistent(self.address), "mutex_consistent")
            return True
        if rc == errno.ETIMEDOUT:
            raise TimeoutError(f"lock not acquired within {timeout:g} s")
        check(rc, "mutex_lock")
        return False  # pragma: no cover

    def release(self) -> None:
        check(self._unlock(self.address), "mutex_unlock")


def check(rc: int, what: str) -> None:
    if rc != 0:
        raise OSError(rc, f"pthread {what} failed: {errno.errorcode.get(rc, rc)}")
