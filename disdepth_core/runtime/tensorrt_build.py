"""ONNX -> TensorRT engine (``disdepth export --format engine``), meant to run on the target device.

Engines are specific to the TensorRT version and GPU they were built on, so the documented
flow is: export ONNX on the workstation, copy it to the Jetson, build there (docs/jetson.md).
Works with TensorRT 8.5/8.6 (JetPack 5), 10.x (JetPack 6) and 11.x (``pip install tensorrt``):
the differences (EXPLICIT_BATCH on 8.x; strongly typed networks on 11.x, which removed the FP16
and INT8 builder flags, so only ``--precision fp32`` = "the ONNX's own types" builds there)
are decided by :mod:`.tensorrt_logic`. It sits beside the TensorRT runner
(:mod:`.tensorrt_backend`), which rebuilds stale engines with it. Nothing here imports torch. Every engine gets a JSON
sidecar recording how and where it was built, so a stale one is caught before loading.
The whole build runs with the target GPU's primary CUDA context pushed (INT8 calibration
copies batches with pycuda), and every TensorRT object is released before it is popped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .artifact import LAYOUT_NHWC_UINT8, ModelMetadata, read_onnx_metadata, write_sidecar
from .tensorrt_logic import check_supported_version, is_strongly_typed_only, needs_explicit_batch_flag, strongly_typed_refusal

PRECISIONS = ("fp32", "fp16", "int8")
HW = tuple[int, int]


@dataclass
class EngineBuildOptions:
    precision: str = "fp16"
    calib_images: str | None = None
    calib_cache: str | None = None
    calib_max_images: int = 500
    dla_core: int | None = None
    workspace_mb: int = 1024
    timing_cache: str | None = None
    min_shape: HW | None = None
    opt_shape: HW | None = None
    max_shape: HW | None = None
    device_index: int = 0

    def validate(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.dla_core is not None and self.precision == "fp32":
            raise ValueError("DLA runs only FP16 or INT8 layers; use --precision fp16 or int8 with --dla-core")
        if self.precision == "int8" and not (self.calib_images or (self.calib_cache and Path(self.calib_cache).is_file())):
            raise ValueError("INT8 needs --calib-images DIR (or an existing --calib-cache FILE)")
        if self.workspace_mb <= 0:
            raise ValueError(f"workspace must be positive, got {self.workspace_mb} MB")
        if int(self.device_index) < 0:
            raise ValueError(f"CUDA device index must be >= 0, got {self.device_index}")
        given = [(flag, hw) for flag, hw in self.shape_flags() if hw is not None]
        for flag, hw in given:
            if len(hw) != 2 or int(hw[0]) <= 0 or int(hw[1]) <= 0:
                raise ValueError(f"{flag} must be a positive HxW, got {hw}")
        check_profile_order(given)  # early, before TensorRT is imported; defaults are checked in profile_sizes

    def shape_flags(self) -> list[tuple[str, HW | None]]:
        return [("--min-shape", self.min_shape), ("--opt-shape", self.opt_shape), ("--max-shape", self.max_shape)]


def check_profile_order(sizes: Sequence[tuple[str, Sequence[int]]]) -> None:
    """Raise unless the labelled HxW sizes (in min, opt, max order) never shrink in height or width.

    TensorRT only rejects a bad profile deep inside a minutes-long build with a generic
    message, so the flag and the axis are named here instead.
    """
    for (name_a, a), (name_b, b) in zip(sizes, sizes[1:]):
        for axis, index in (("height", 0), ("width", 1)):
            if int(a[index]) > int(b[index]):
                raise ValueError(f"{name_a} {a[0]}x{a[1]} is larger than {name_b} {b[0]}x{b[1]} in {axis}; an optimisation "
                                 "profile needs min <= opt <= max in both height and width")


def network_flags(trt: Any) -> int:
    """EXPLICIT_BATCH on 8.x; 0 on 10.x where explicit batch is the only mode; STRONGLY_TYPED on 11.x."""
    if needs_explicit_batch_flag(trt.__version__):
        return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    if is_strongly_typed_only(trt.__version__):
        return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    return 0


def full_shape(hw: tuple[int, int], layout: str) -> tuple[int, int, int, int]:
    """An ``HxW`` size as the network's 4-D input shape (batch 1) in ``layout``."""
    height, width = int(hw[0]), int(hw[1])
    return (1, height, width, 3) if layout == LAYOUT_NHWC_UINT8 else (1, 3, height, width)


def profile_sizes(options: EngineBuildOptions, metadata: ModelMetadata) -> tuple[HW, HW, HW]:
    """(min, opt, max) HxW for a dynamic input; opt defaults to the exported size, min/max to opt."""
    exported = (int(metadata.input_height), int(metadata.input_width))
    opt = tuple(options.opt_shape or exported)
    low, high = tuple(options.min_shape or opt), tuple(options.max_shape or opt)
    opt_label = "--opt-shape" if options.opt_shape else "the exported size (default --opt-shape)"
    check_profile_order([("--min-shape" if options.min_shape else "min", low), (opt_label, opt),
                         ("--max-shape" if options.max_shape else "max", high)])
    return low, opt, high  # type: ignore[return-value]


@dataclass
class BuildConfig:
    """What :func:`configure` made. The calibrator is held here because TensorRT does not keep
    the Python object alive, and its device buffer must be freed while the context is current."""

    config: Any
    timing_cache: Any = None
    profile: tuple[HW, HW, HW] | None = None
    calibrator: Any = None
    timing_cache_rejected: bool = False


def network_is_dynamic(network: Any) -> bool:
    return any(int(d) < 0 for d in network.get_input(0).shape)


def configure(trt: Any, builder: Any, network: Any, options: EngineBuildOptions, metadata: ModelMetadata,
              log: Callable[[str], None] = print) -> BuildConfig:
    """Create the builder config (precision, workspace, DLA, profile, timing cache, calibrator)."""
    config = builder.create_builder_config()
    built = BuildConfig(config)
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace_mb) << 20)
    if options.precision in ("fp16", "int8") and not is_strongly_typed_only(trt.__version__):
        if not getattr(builder, "platform_has_fast_fp16", True):
            log("warning: this GPU has no fast FP16; the engine may be slower than FP32")
        config.set_flag(trt.BuilderFlag.FP16)  # INT8 layers TensorRT cannot quantise fall back to FP16
    network_input = network.get_input(0)
    given = [flag for flag, hw in options.shape_flags() if hw is not None]
    profile = None
    if network_is_dynamic(network):
        low, opt, high = built.profile = profile_sizes(options, metadata)
        profile = builder.create_optimization_profile()
        profile.set_shape(network_input.name, full_shape(low, metadata.input_layout), full_shape(opt, metadata.input_layout),
                          full_shape(high, metadata.input_layout))
        config.add_optimization_profile(profile)
        log(f"dynamic input: profile min {low[0]}x{low[1]}, opt {opt[0]}x{opt[1]}, max {high[0]}x{high[1]}")
    elif given:
        raise ValueError(f"{', '.join(given)} only apply to a dynamic ONNX, but input {network_input.name!r} has the static "
                         f"shape {tuple(int(d) for d in network_input.shape)}; drop them (the engine runs at the exported "
                         "size) or export the ONNX with --dynamic")
    if options.precision == "int8":
        from .int8_calibrator import make_entropy_calibrator

        config.set_flag(trt.BuilderFlag.INT8)
        calib_hw = built.profile[1] if built.profile is not None else (metadata.input_height, metadata.input_width)
        built.calibrator = make_entropy_calibrator(options.calib_images, options.calib_cache, metadata, calib_hw,
                                                   options.calib_max_images, log)
        config.int8_calibrator = built.calibrator
        if profile is not None:
            config.set_calibration_profile(profile)
    if options.dla_core is not None:
        cores = int(builder.num_DLA_cores)
        if not 0 <= int(options.dla_core) < cores:
            available = f"cores 0..{cores - 1}" if cores else "no DLA cores (only Jetson Xavier/Orin boards have them)"
            raise ValueError(f"--dla-core {options.dla_core}: this device has {available}; pick one of them or drop --dla-core")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = int(options.dla_core)
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
        log(f"DLA core {options.dla_core} with GPU fallback for unsupported layers")
    if options.timing_cache:
        cache_path = Path(options.timing_cache)
        blob = cache_path.read_bytes() if cache_path.is_file() else b""
        cache = config.create_timing_cache(blob)
        if cache is not None and config.set_timing_cache(cache, False) is not False:
            built.timing_cache = cache
            log(f"timing cache {cache_path} ({'loaded ' + str(len(blob)) + ' bytes' if blob else 'new'})")
        else:
            # TensorRT refuses caches from another TensorRT version or GPU. Overwriting the file
            # would silently destroy a cache another board still uses, so it is left alone.
            built.timing_cache_rejected = True
            log(f"warning: TensorRT {trt.__version__} rejected the timing cache {cache_path} ({len(blob)} bytes; made by "
                "another TensorRT version or GPU?); building without it and leaving the file unchanged. Delete it or "
                "pass another --timing-cache path to start a new one.")
    return built


@contextmanager
def cuda_context(device_index: int, required: bool) -> Iterator[str]:
    """Keep GPU ``device_index``'s primary CUDA context current for the build; yields the GPU name.

    The device is checked *before* TensorRT is touched: without a usable GPU ``trt.Builder``
    raises a bare ``TypeError`` (and ``trt.Runtime`` can segfault), so the reason is given
    here instead. The primary context is the one TensorRT itself uses, so pushing it makes
    the build run on ``device_index`` with or without pycuda, and it nests cleanly inside the
    runtime's own push when a stale engine is rebuilt at load time. INT8 calibration copies
    batches with pycuda, so ``required=True`` (INT8) insists on it.
    """
    from disdepth_core.runtime.cuda_driver import CudaDeviceError, open_primary_context

    if required:
        try:
            import pycuda.driver  # noqa: F401
        except ImportError as err:
            raise ValueError(f"INT8 calibration needs the pycuda package (pip install pycuda on the target device): {err}") from err
    try:
        ctx, gpu_name = open_primary_context(int(device_index))
    except CudaDeviceError as err:
        raise ValueError(f"cannot use CUDA device {device_index} to build the engine: {err}") from err
    try:
        ctx.push()
        try:
            yield gpu_name
        finally:
            ctx.pop()
    finally:
        ctx.detach()


def serialize_network(trt: Any, onnx_path: Path, options: EngineBuildOptions, metadata: ModelMetadata,
                      log: Callable[[str], None]) -> tuple[bytes, bytes | None, tuple[HW, HW, HW] | None]:
    """Parse and build; returns (engine bytes, timing-cache bytes or None, profile or None).

    Runs inside :func:`cuda_context`: all TensorRT objects are locals and the calibrator's
    device buffer is freed here, so nothing GPU-side outlives the pushed context.
    """
    logger = trt.Logger(trt.Logger.WARNING)
    builder = network = parser = serialized = built = None
    try:
        try:
            builder = trt.Builder(logger)
        except TypeError as err:  # "factory function returned nullptr": CUDA init failed inside TensorRT
            raise ValueError(f"TensorRT {trt.__version__} could not create a builder on CUDA device {options.device_index} "
                             f"(no usable GPU, or a CUDA driver too old for this TensorRT; see the TensorRT log above): {err}") from err
        network = builder.create_network(network_flags(trt))
        parser = trt.OnnxParser(network, logger)
        log(f"parsing {onnx_path} with TensorRT {trt.__version__}")
        # parse_from_file (not parse(bytes)) so weights stored as ONNX external data next to the file resolve.
        if not parser.parse_from_file(str(onnx_path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ValueError(f"TensorRT could not parse {onnx_path}: {errors or 'unknown error'}")
        built = configure(trt, builder, network, options, metadata, log)
        log(f"building {options.precision} engine (workspace {options.workspace_mb} MB); this can take minutes on a Jetson")
        serialized = builder.build_serialized_network(network, built.config)
        if serialized is None:
            raise ValueError(f"TensorRT failed to build an engine from {onnx_path} (see the TensorRT log above)")
        timing = bytes(built.config.get_timing_cache().serialize()) if built.timing_cache is not None else None
        return bytes(serialized), timing, built.profile
    finally:
        if built is not None and built.calibrator is not None:
            built.calibrator.free()
        # Drop every TensorRT object now (an exception's traceback would keep this frame alive
        # past the context pop otherwise).
        built = serialized = parser = network = builder = None


def build_engine(onnx_path: str | Path, engine_path: str | Path, options: EngineBuildOptions | None = None,
                 log: Callable[[str], None] = print) -> ModelMetadata:
    """Build and serialize an engine plus its sidecar; returns the sidecar metadata."""
    options = options or EngineBuildOptions()
    options.validate()
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    metadata = read_onnx_metadata(onnx_path)
    try:
        import tensorrt as trt
    except ImportError as err:
        raise ValueError(f"building a TensorRT engine needs the tensorrt package (build on the target device): {err}") from err
    check_supported_version(trt.__version__)
    if is_strongly_typed_only(trt.__version__) and options.precision != "fp32":
        raise ValueError(strongly_typed_refusal(trt.__version__, options.precision))
    from disdepth_core.hashing import file_sha256

    start = time.perf_counter()
    with cuda_context(options.device_index, required=options.precision == "int8") as gpu_name:
        serialized, timing, profile = serialize_network(trt, onnx_path, options, metadata, log)
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = engine_path.with_name(f".{engine_path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(serialized)
    os.replace(tmp, engine_path)
    if timing is not None and options.timing_cache:
        Path(options.timing_cache).write_bytes(timing)
    seconds = time.perf_counter() - start
    low, opt, high = (list(hw) for hw in profile) if profile is not None else (None, None, None)
    metadata.extra.update(
        tensorrt_version=str(trt.__version__), precision=options.precision,
        gpu_name=gpu_name, strongly_typed=is_strongly_typed_only(trt.__version__), onnx_sha256=file_sha256(onnx_path),
        onnx_path=str(onnx_path.resolve()), engine_sha256=file_sha256(engine_path), engine_size=engine_path.stat().st_size,
        dla_core=options.dla_core, workspace_mb=options.workspace_mb,
        calib_cache=str(Path(options.calib_cache).resolve()) if options.calib_cache else None,
        min_shape=low, opt_shape=opt, max_shape=high, build_seconds=round(seconds, 1))
    sidecar = write_sidecar(engine_path, metadata)
    log(f"wrote {engine_path} ({engine_path.stat().st_size / 1e6:.1f} MB) and {sidecar.name} in {seconds:.1f} s")
    return metadata
