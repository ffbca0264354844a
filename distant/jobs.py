"""Jobs over corpora larger than memory: inputs streamed shard by shard, outputs written as they come.

A job (``distant label``, ``predict``, ``convert``) reads its inputs (files, globs, folders of shards, ``.gz``
files, standard input) one document at a time, passes them through a :class:`Step` (labeling, tagging,
nothing) and writes them as they come, so memory does not grow with the corpus (beyond the dictionary or the
model). Its output is one file (every input in order), or a folder of shards: one output per input, with the
input's stem, each written atomically. A folder holds a manifest (``manifest.json``) of the finished shards;
``--resume`` after a crash or a kill skips them (a shard is written whole or not at all), so the result equals
an uninterrupted run's byte for byte. The engines (:mod:`distant.engines`) run the same per-shard code, in this
process or on a Ray cluster.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from distant.atomic import is_stdio, write_text
from distant.docs import Document
from distant.errors import DistantError
from distant.formats import FORMATS, detect_format, iter_documents, write_documents

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class Step(Protocol):
    """What a job does to the documents: a function from a stream of documents to a stream of documents."""

    def __call__(self, docs: Iterable[Document]) -> Iterator[Document]: ...


@dataclass(frozen=True)
class Reading:
    """How inputs are read: their format (``None``: detected per input), span layer, tag scheme, strictness."""

    fmt: str | None = None
    layer: str = "gold"
    scheme: str | None = None
    strict: bool = False

    def documents(self, path: Path) -> Iterator[Document]:
        return iter_documents(path, self.fmt, layer=self.layer, scheme=self.scheme, strict=self.strict)


@dataclass(frozen=True)
class Writing:
    """How outputs are written: their format (``None``: from the name; ``jsonl`` for shards), layer, scheme."""

    fmt: str | None = None
    layer: str = "pred"
    scheme: str = "IOB2"

    def shard_format(self) -> str:
        return self.fmt or "jsonl"


def expand_inputs(paths: Sequence[str | os.PathLike], fmt: str | None = None) -> list[Path]:
    """Return the input files: globs expanded (sorted), folders of shards listed, ``-`` kept.

    A folder is one input when it is a plain-text corpus (``fmt`` is ``text``, or it holds only ``.txt``
    files); otherwise its files of a readable format (any known extension, ``.gz`` included) are its shards,
    in name order.

    Raises:
        DistantError: a pattern or folder that gives no input file, or an input that does not exist.
    """
    out: list[Path] = []
    for raw in paths:
        text = os.fspath(raw)
        if is_stdio(text):
            out.append(Path(text))
            continue
        if glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file() or Path(p).is_dir())
            if not found:
                raise DistantError(f"no input matches the pattern {text!r}")
            out.extend(found)
            continue
        path = Path(text)
        if path.is_dir() and not (fmt == "text" or _text_folder(path) or _corpus_folder(path, fmt)):
            shards = sorted(p for p in path.iterdir() if p.is_file() and p.name != MANIFEST and _readable(p))
            if not shards:
                raise DistantError("found a folder without a file of a format distant reads (expected shards "
                                   "such as .jsonl, .pubtator, .xml.gz, or a folder of .txt documents)", path)
            out.extend(shards)
            continue
        if not path.exists():
            raise DistantError("file not found: expected an input file, a folder or a pattern", path)
        out.append(path)
    return out


def _corpus_folder(path: Path, fmt: str | None) -> bool:
    """Whether a folder is one corpus of a format that reads folders (brat's .txt and .ann pairs)."""
    name = fmt or detect_format(path)
    return name in FORMATS and FORMATS[name].folder


def _text_folder(path: Path) -> bool:
    names = [p.name.lower() for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
    return bool(names) and all(n.endswith(".txt") for n in names)


def _readable(path: Path) -> bool:
    try:
        return FORMATS[detect_format(path)].read is not None and not path.name.startswith(".")
    except DistantError:
        return False


def shard_name(path: Path, fmt: str) -> str:
    """Return an output shard's file name: the input's stem (every known extension and ``.gz`` removed)."""
    name = path.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    endings = sorted((e for f in FORMATS.values() for e in f.extensions), key=len, reverse=True)
    lower = name.lower()
    stem = next((name[: -len(e)] for e in endings if lower.endswith(e) and len(name) > len(e)), Path(name).stem)
    return stem + FORMATS[fmt].extensions[0]


def is_shard_folder(output: str | os.PathLike) -> bool:
    """Whether ``output`` is a folder of shards: an existing folder, or a name ending in ``/`` (give a ``str``:
    a ``Path`` drops the ``/``)."""
    text = os.fspath(output)
    return not is_stdio(text) and (Path(text).is_dir() or text.endswith(("/", os.sep)))


# -- the manifest -------------------------------------------------------------------------------------------
@dataclass
class Manifest:
    """What a folder of shards holds: the job that wrote it and every finished shard (``manifest.json``)."""

    folder: Path
    job: dict[str, Any]
    shards: dict[str, dict[str, Any]] = field(default_factory=dict)  # input path -> entry

    @classmethod
    def open(cls, folder: Path, job: dict[str, Any], resume: bool) -> Manifest:
        """Start a job's manifest in ``folder``, or take up the one there when resuming.

        Raises:
            DistantError: a folder holding another job's shards, or one without a manifest when resuming.
        """
        path = folder / MANIFEST
        if not path.is_file():
            if resume and folder.is_dir() and any(folder.iterdir()):
                raise DistantError(f"nothing to resume: no {MANIFEST} in the output folder", folder)
            return cls(folder, job)
        if not resume:
            raise DistantError(f"the output folder holds the shards of a job already ({MANIFEST}); use --resume to "
                               "finish it, or another folder", folder)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            shards = {entry["input"]: entry for entry in data["shards"]}
            same = data["version"] == MANIFEST_VERSION and data["job"] == job
        except (OSError, ValueError, KeyError, TypeError):
            raise DistantError("found a damaged manifest, expected one written by distant", path) from None
        if not same:
            raise DistantError("the output folder holds the shards of a job with other options; resume it with the "
                               "same command and options, or use another folder", path)
        return cls(folder, job, shards)

    def done(self, source: Path) -> bool:
        """Whether ``source``'s shard was finished, its output is as written and its input unchanged."""
        entry = self.shards.get(_key(source))
        if entry is None:
            return False
        out = self.folder / entry["output"]
        return out.is_file() and entry["input_state"] == _state(source) and _digest(out) == entry["sha256"]

    def add(self, source: Path, output: str, documents: int) -> None:
        """Record a finished shard (the manifest is rewritten atomically)."""
        self.shards[_key(source)] = {"input": _key(source), "input_state": _state(source), "output": output,
                                     "documents": documents, "sha256": _digest(self.folder / output)}
        write_text(self.folder / MANIFEST, json.dumps({"version": MANIFEST_VERSION, "job": self.job,
                                                        "shards": list(self.shards.values())}, indent=1) + "\n")


def _key(path: Path) -> str:
    return os.fspath(path.resolve())


def _state(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def fingerprint(options: dict[str, Any]) -> dict[str, Any]:
    """Return a job's identity for its manifest: its options, as plain JSON data."""
    return json.loads(json.dumps(options, sort_keys=True, default=str))


# -- running ------------------------------------------------------------------------------------------------
@dataclass
class JobResult:
    """What a job did: documents written, shards written and skipped (already done)."""

    documents: int = 0
    shards: int = 0
    skipped: int = 0
    outputs: list[Path] = field(default_factory=list)


def process_shard(step: Step, source: Path, target: Path, reading: Reading, writing: Writing,
                  fmt: str | None = None) -> int:
    """Read ``source``, run ``step`` over it and write ``target`` atomically; return the documents written."""
    return write_documents(step(reading.documents(source)), target, fmt or writing.fmt, layer=writing.layer,
                           scheme=writing.scheme)


def run_local(step: Step, inputs: Sequence[Path], output: str | os.PathLike, reading: Reading, writing: Writing, *,
              job: dict[str, Any], resume: bool = False,
              on_shard: Callable[[Path, int], None] | None = None) -> JobResult:
    """Run a job in this process: shard by shard into a folder, or every input in order into one file.

    Args:
        step: What is done to the documents.
        inputs: The input files (:func:`expand_inputs`).
        output: One file (or ``-``), or a folder of shards (:func:`is_shard_folder`).
        reading: How the inputs are read.
        writing: How the outputs are written.
        job: The job's options, kept in a folder's manifest (resuming needs the same).
        resume: Skip the shards the folder's manifest lists as finished.
        on_shard: Called with each shard written and its documents.

    Raises:
        DistantError: bad input, a folder that holds another job, or ``resume`` with one output file.
    """
    result = JobResult()
    folder = is_shard_folder(output)
    output = Path(output)
    if not folder:
        if resume:
            raise DistantError("--resume needs a folder of shards as the output (-o FOLDER/): one output file is "
                               "written whole or not at all, there is nothing to resume", output)
        docs = (doc for source in inputs for doc in step(reading.documents(source)))
        result.documents = write_documents(docs, output, writing.fmt, layer=writing.layer, scheme=writing.scheme)
        result.shards, result.outputs = 1, [output]
        return result
    manifest, todo, result = open_shard_folder(output, inputs, writing, job=job, resume=resume)
    for source, name in todo:
        n = process_shard(step, source, output / name, reading, writing, writing.shard_format())
        record_shard(manifest, result, source, name, n)
        if on_shard is not None:
            on_shard(source, n)
    return result


def open_shard_folder(output: Path, inputs: Sequence[Path], writing: Writing, *, job: dict[str, Any],
                      resume: bool) -> tuple[Manifest, list[tuple[Path, str]], JobResult]:
    """Create or take up a folder of shards; return its manifest, the ``(input, shard name)`` pairs still to do
    and a result that counts the shards done before (``skipped``).

    Raises:
        DistantError: a folder that holds another job, or two inputs that would write the same shard.
    """
    output.mkdir(parents=True, exist_ok=True)
    manifest = Manifest.open(output, fingerprint(job), resume)
    result = JobResult()
    todo = []
    for source, name in zip(inputs, shard_targets(inputs, writing)):
        if manifest.done(source):
            result.skipped += 1
        else:
            todo.append((source, name))
    return manifest, todo, result


def record_shard(manifest: Manifest, result: JobResult, source: Path, name: str, documents: int) -> None:
    """Record a written shard in the manifest (a killed job resumes after it) and in the result."""
    manifest.add(source, name, documents)
    result.documents += documents
    result.shards += 1
    result.outputs.append(manifest.folder / name)


def run_local_pool(build: Callable[[], Step], workers: int, inputs: Sequence[Path], output: str | os.PathLike,
                   reading: Reading, writing: Writing, *, job: dict[str, Any], resume: bool = False,
                   on_shard: Callable[[Path, int, Any], None] | None = None) -> JobResult:
    """Run a job into a folder of shards with ``workers`` forked processes, each doing whole shards.

    Each process builds its step when it starts (``build``, in the process: what the parent built before forking, a
    dictionary's automaton say, is shared copy-on-write, not copied) and reads, processes and writes one shard at
    a time, so that nothing but the shard names and counts passes between processes. The shards are recorded in
    the manifest in input order as they finish in that order, as :func:`run_local` records them: the output
    (shards and manifest) is the same as with one process.

    Args:
        build: Returns the step, called once in each worker process.
        workers: Processes (at most one per shard to do).
        on_shard: Called in this process with each shard written, its documents and what its step reported
            (``step.report()`` after the shard, ``None`` for a step without one).

    Raises:
        DistantError: as :func:`run_local`; a worker's error is raised here, naming its file and line.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    output = Path(output)
    manifest, todo, result = open_shard_folder(output, inputs, writing, job=job, resume=resume)
    if not todo:
        return result
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else methods[0])
    # concurrent.futures rather than multiprocessing.Pool: a worker that dies (killed, out of memory) breaks the
    # pool with an error instead of leaving the job waiting for its shard forever
    pool = ProcessPoolExecutor(min(workers, len(todo)), mp_context=ctx, initializer=_init_pool, initargs=(build,))
    finished = False
    try:
        futures = [pool.submit(_pool_shard, (str(s), str(output / n), reading, writing)) for s, n in todo]
        for (source, name), future in zip(todo, futures):
            try:
                n, report, error = future.result()
            except BrokenProcessPool:
                raise DistantError(f"a worker process died (killed, or out of memory?) while writing the shard of "
                                   f"{source}; the shards finished so far are kept: rerun with --resume",
                                   output) from None
            if error is not None:
                raise DistantError(error)
            record_shard(manifest, result, source, name, n)
            if on_shard is not None:
                on_shard(source, n, report)
        finished = True
    finally:
        if finished:
            pool.shutdown()
        else:  # an error or an interrupt: stop the shards in progress (they leave only temporary files)
            _stop(pool)
    return result


def _stop(pool: Any) -> None:
    """Shut a process pool down now: pending shards cancelled, running ones terminated."""
    if hasattr(pool, "terminate_workers"):  # Python 3.14
        pool.terminate_workers()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(5)


_POOL_STEP: Any = None  # the step of this pool worker process


def _init_pool(build: Callable[[], Step]) -> None:
    global _POOL_STEP
    _POOL_STEP = build()


def _pool_shard(work: tuple[str, str, Reading, Writing]) -> tuple[int, Any, str | None]:
    """Process one shard in a pool worker; return its documents, its step's report and an error, if any."""
    source, target, reading, writing = work
    step = _POOL_STEP
    try:
        n = process_shard(step, Path(source), Path(target), reading, writing, writing.shard_format())
    except DistantError as e:  # bad input is the user's: raised again in the parent, as one line
        return 0, None, str(e)
    return n, step.report() if hasattr(step, "report") else None, None


def shard_targets(inputs: Sequence[Path], writing: Writing) -> list[str]:
    """Return each input's output shard name.

    Raises:
        DistantError: standard input as a shard, or two inputs that would write the same shard.
    """
    names: dict[str, Path] = {}
    for source in inputs:
        if is_stdio(source):
            raise DistantError("standard input cannot be a shard: write one output file (-o FILE or -o -)")
        name = shard_name(source, writing.shard_format())
        if name in names:
            raise DistantError(f"inputs {names[name]} and {source} would both write the shard {name}; expected "
                               "inputs with different names", source)
        names[name] = source
    return list(names)
