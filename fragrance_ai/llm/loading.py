"""Loads each role's model from local files only, once per process.

A role's `model_path` is a transformers model directory, a `.gguf` file (de-quantised by
transformers through `gguf_file`), or `package:<distribution>/<path>`: a file inside an
installed, hash-pinned wheel (requirements-models.txt), located through the distribution's
metadata so the package itself is never imported. Nothing is ever downloaded
(`local_files_only`). Roles that name the same model on the same device share one copy.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from fragrance_ai.settings import Device, EnsembleRole, RoleSettings

log = logging.getLogger(__name__)

PACKAGE_PREFIX = "package:"


class ModelUnavailable(Exception):
    """The role's model is missing or failed to load; the message says which and why."""


@dataclass(frozen=True)
class ModelLocation:
    directory: Path
    gguf_file: str | None

    @property
    def weights(self) -> Path:
        return self.directory / self.gguf_file if self.gguf_file else self.directory


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # transformers PreTrainedModel
    tokenizer: Any  # transformers PreTrainedTokenizerBase
    device: str
    # Names the weights for cache keys and job paths: the file or directory name plus a
    # short fingerprint, so a replaced model never serves another's cached readings.
    version: str


def spec_path(spec: str) -> Path:
    """The existing file or directory a model spec names: a path, or
    `package:<distribution>/<file>` inside an installed wheel. ModelUnavailable otherwise."""
    if spec.startswith(PACKAGE_PREFIX):
        distribution, _, inner = spec.removeprefix(PACKAGE_PREFIX).partition("/")
        if not distribution or not inner:
            raise ModelUnavailable(f"{spec!r}: expected package:<distribution>/<file>")
        try:
            path = Path(str(metadata.distribution(distribution).locate_file(inner)))
        except metadata.PackageNotFoundError:
            raise ModelUnavailable(
                f"{spec!r}: the {distribution} wheel is not installed "
                "(scripts/bootstrap installs requirements-models.txt)"
            ) from None
    else:
        path = Path(spec).expanduser()
    if not path.exists():
        raise ModelUnavailable(f"{spec!r}: {path} does not exist")
    return path


def resolve_model_path(spec: str) -> ModelLocation:
    """Where `spec` points on this machine; ModelUnavailable when nothing is there."""
    path = spec_path(spec)
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelUnavailable(f"{spec!r}: a model file must be .gguf; else give a directory")
        return ModelLocation(path.parent, path.name)
    if not (path / "config.json").exists():
        raise ModelUnavailable(f"{spec!r}: {path} has no config.json (not a model directory)")
    return ModelLocation(path, None)


def pick_device(requested: Device) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailable("device cuda was asked for but torch sees no GPU")
    return requested


def fingerprint(location: ModelLocation) -> str:
    """A cheap identity of the weights: name, size and modification time of each file."""
    files = [location.weights] if location.gguf_file else sorted(location.directory.iterdir())
    digest = hashlib.sha256()
    for file in files:
        if file.is_file():
            stat = file.stat()
            digest.update(f"{file.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return f"{location.weights.name}@{digest.hexdigest()[:12]}"


class ModelStore:
    """The process's loaded models, by location and device; loads each at most once."""

    def __init__(self) -> None:
        self._models: dict[tuple[Path, str, str, bool], LoadedModel] = {}
        self._lock = threading.Lock()

    def load(
        self, role: EnsembleRole, settings: RoleSettings, default_device: Device
    ) -> LoadedModel:
        if settings.model_path is None:
            raise ModelUnavailable(f"{role.value}: no model_path configured")
        location = resolve_model_path(settings.model_path)
        device = pick_device(settings.device or default_device)
        quantise = settings.load_in_4bit and device == "cuda"
        if settings.load_in_4bit and not quantise:
            log.warning("%s: load_in_4bit needs CUDA; loading full weights on %s", role, device)
        key = (location.weights, device, settings.dtype, quantise)
        with self._lock:
            loaded = self._models.get(key)
            if loaded is None:
                loaded = _load(location, device, settings.dtype, quantise)
                self._models[key] = loaded
            return loaded


# One store per process: every ensemble built in it (a worker's, a smoke check's) shares the
# loaded weights.
PROCESS_MODELS = ModelStore()


def _load(location: ModelLocation, device: str, dtype: str, quantise: bool) -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    options: dict[str, Any] = {"local_files_only": True}
    if location.gguf_file:
        options["gguf_file"] = location.gguf_file
    model_options: dict[str, Any] = dict(options)
    model_options["dtype"] = dtype if dtype == "auto" else getattr(torch, dtype)
    if quantise:
        from transformers import BitsAndBytesConfig

        model_options["quantization_config"] = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True, bnb_4bit_compute_dtype=torch.float16
        )
        model_options["device_map"] = {"": 0}
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(location.directory), **options)
        model = AutoModelForCausalLM.from_pretrained(str(location.directory), **model_options)
    except (OSError, ValueError, RuntimeError, ImportError) as error:
        raise ModelUnavailable(f"{location.weights}: {type(error).__name__}: {error}") from error
    if not quantise:
        model = model.to(device)  # type: ignore[arg-type]
    model.eval()  # type: ignore[no-untyped-call]
    # Batched generation pads on the left so every prompt ends where generation starts.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(model, tokenizer, device, fingerprint(location))
