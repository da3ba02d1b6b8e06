"""The few CUDA driver calls the TensorRT path needs, via pycuda when installed, else ``ctypes``.

TensorRT builds FP32/FP16 engines without pycuda, but it then runs on whatever device is
current (GPU 0), and without a usable GPU ``trt.Builder`` raises a bare ``TypeError`` and
``trt.Runtime`` can segfault the process. So before any TensorRT object is made, the device
is opened here: ``cuInit`` + the device ordinal are checked (a clear error instead of a
crash), and the device's *primary* context (the one TensorRT and pycuda use) is pushed so
``device_index`` is honoured with or without pycuda.
"""

from __future__ import annotations

import ctypes
from typing import Any


class CudaDeviceError(RuntimeError):
    """No usable CUDA driver or device (message says which and why)."""


class DriverContext:
    """A retained primary context with pycuda's ``push``/``pop``/``detach`` interface."""

    def __init__(self, driver: "CtypesDriver", device: int, handle: ctypes.c_void_p) -> None:
        self._driver, self._device, self._handle = driver, device, handle

    def push(self) -> None:
        self._driver.call("cuCtxPushCurrent", self._handle)

    def pop(self) -> None:
        self._driver.call("cuCtxPopCurrent", ctypes.byref(ctypes.c_void_p()))

    def detach(self) -> None:
        self._driver.call("cuDevicePrimaryCtxRelease", ctypes.c_int(self._device))


def load_libcuda() -> Any:
    """The CUDA driver library (installed with the NVIDIA driver, on Jetsons with L4T)."""
    try:
        return ctypes.CDLL("libcuda.so.1")
    except OSError as err:
        raise CudaDeviceError(f"no CUDA driver (libcuda.so.1 cannot be loaded: {err}); is this a GPU machine?") from err


class CtypesDriver:
    """``libcuda`` through ctypes: init, device count/name, primary context."""

    def __init__(self, lib: Any = None) -> None:
        self._lib = lib if lib is not None else load_libcuda()
        self.call("cuInit", ctypes.c_uint(0))

    def _function(self, name: str) -> Any:
        # The headers map these names to their _v2 ABI; prefer it when the library has it.
        return getattr(self._lib, f"{name}_v2", None) or getattr(self._lib, name)

    def _error_text(self, code: int) -> str:
        text = ctypes.c_char_p()
        try:
            if self._function("cuGetErrorName")(ctypes.c_int(code), ctypes.byref(text)) == 0 and text.value:
                return text.value.decode()
        except AttributeError:
            pass
        return f"CUDA error {code}"

    def call(self, name: str, *args: Any) -> None:
        code = int(self._function(name)(*args))
        if code != 0:
            raise CudaDeviceError(f"{name} failed: {self._error_text(code)} ({code})")

    def device_count(self) -> int:
        count = ctypes.c_int(0)
        self.call("cuDeviceGetCount", ctypes.byref(count))
        return int(count.value)

    def _device(self, index: int) -> int:
        count = self.device_count()
        if not 0 <= index < count:
            raise CudaDeviceError(f"CUDA device {index} does not exist (this machine has {count} usable GPU(s))")
        device = ctypes.c_int(0)
        self.call("cuDeviceGet", ctypes.byref(device), ctypes.c_int(index))
        return int(device.value)

    def device_name(self, index: int) -> str:
        buffer = ctypes.create_string_buffer(256)
        self.call("cuDeviceGetName", buffer, ctypes.c_int(256), ctypes.c_int(self._device(index)))
        return buffer.value.decode(errors="replace")

    def retain_primary_context(self, index: int) -> DriverContext:
        device = self._device(index)
        handle = ctypes.c_void_p()
        self.call("cuDevicePrimaryCtxRetain", ctypes.byref(handle), ctypes.c_int(device))
        return DriverContext(self, device, handle)


def _pycuda() -> Any:
    try:
        import pycuda.driver as cuda
    except ImportError:
        return None
    return cuda


def open_primary_context(device_index: int) -> tuple[Any, str]:
    """Retain GPU ``device_index``'s primary context; returns (context, GPU name).

    Uses pycuda when importable (INT8 calibration needs its context anyway), else ctypes.
    Raises :class:`CudaDeviceError` with the reason when there is no usable GPU.
    """
    cuda = _pycuda()
    if cuda is not None:
        try:
            cuda.init()
            if int(device_index) >= cuda.Device.count():
                raise CudaDeviceError(f"CUDA device {device_index} does not exist (this machine has "
                                      f"{cuda.Device.count()} usable GPU(s))")
            device = cuda.Device(int(device_index))
            return device.retain_primary_context(), str(device.name())
        except CudaDeviceError:
            raise
        except Exception as err:  # noqa: BLE001 - pycuda raises cuda.Error subclasses (no driver, bad ordinal)
            raise CudaDeviceError(f"cannot open CUDA device {device_index}: {err}") from err
    driver = CtypesDriver()
    name = driver.device_name(int(device_index))
    return driver.retain_primary_context(int(device_index)), name
