"""Where a job runs: in this process (``local``, with ``--workers`` processes for labeling) or on Ray.

Local labeling with ``--workers N`` into a folder of shards gives each of N forked processes whole shards
(reading, labeling and writing them); with one input (or one output file) the documents are shared out among
the processes in chunks instead, and this process reads and writes them.

Both engines run the same per-shard code (:func:`distant.jobs.process_shard`) with the same step, so their
outputs are identical byte for byte. A step is built from a :class:`StepFactory`, which a Ray actor receives
once and builds once: the labelers' automata are built in the driver, put in Ray's object store and shipped
to every actor (not rebuilt by each); a model is loaded once per actor, which asks for a GPU (or a fraction
of one) with ``--device cuda``.

Ray (``pip install distant[ray]``): without ``--address`` a local Ray is started for the job; with one, the
job joins an existing cluster (``ray start --head`` on one machine, ``ray start --address HEAD:6379`` on the
others; every node must see the input and output paths, e.g. on a shared file system). Ray Data maps an actor
pool over the list of shards; each actor reads a shard, runs the step and writes the shard's output itself.
With one output file, the actors write JSON Lines shards into a temporary folder beside it and the driver
writes them, in input order, in the output's format.
"""

from __future__ import annotations

import logging
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distant.docs import Document
from distant.errors import DistantError
from distant.jobs import (JobResult, Reading, Writing, is_shard_folder, open_shard_folder, process_shard,
                          record_shard, run_local, run_local_pool)

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")


class StepFactory:
    """Builds a job's step where it runs (base class); subclasses are picklable, small or holding what they ship."""

    def build(self) -> Any:
        raise NotImplementedError


@dataclass
class LabelStep(StepFactory):
    """Label documents with built labelers and an aggregator (``workers`` > 1: forked processes, locally)."""

    labelers: list
    aggregator: Any
    workers: int = 1
    progress: Any = None

    def build(self) -> Labelling:
        return Labelling(self)


class Labelling:
    """The running step of a :class:`LabelStep`, keeping the labeling statistics of every shard it sees."""

    def __init__(self, factory: LabelStep) -> None:
        from distant.labelers.pipeline import LabelStats

        self.factory = factory
        self.stats = LabelStats()

    def __call__(self, docs: Iterable[Document]) -> Iterator[Document]:
        from distant.api import Labelers

        f = self.factory
        labelers = Labelers(f.labelers, f.aggregator)
        yield from labelers.label_documents(docs, workers=f.workers, progress=f.progress)
        self.stats.merge(labelers.stats)

    def report(self) -> Any:
        """Return the statistics counted since the last report, and start counting anew (one per shard)."""
        from distant.labelers.pipeline import LabelStats

        stats, self.stats = self.stats, LabelStats()
        return stats


@dataclass
class PredictStep(StepFactory):
    """Tag documents with the model of a run folder (or checkpoint), loaded once where the step is built."""

    model: str
    device: str = "auto"
    threads: int = 0
    batch_size: int | None = None
    progress: Any = None
    combine: bool = True

    def build(self) -> Predicting:
        return Predicting(self)


class Predicting:
    """The running step of a :class:`PredictStep`: the model, and the prediction counts of every shard."""

    def __init__(self, factory: PredictStep) -> None:
        from distant.api import load

        self.factory = factory
        self.tagger = load(factory.model, factory.device, threads=factory.threads, batch_size=factory.batch_size,
                           combine=factory.combine)
        self.stats = self.tagger.stats
        self._reported: dict[str, float] = {}  # the counts at the last report

    def __call__(self, docs: Iterable[Document]) -> Iterator[Document]:
        yield from self.tagger.tag_documents(docs, progress=self.factory.progress)

    def report(self) -> dict[str, float]:
        """Return the prediction counts since the last report (one per shard)."""
        now = dict(self.stats)
        before, self._reported = self._reported, now
        return {k: v - before.get(k, 0) for k, v in now.items()}


@dataclass
class ConvertStep(StepFactory):
    """Pass documents through unchanged (``distant convert``)."""

    def build(self) -> Any:
        return lambda docs: iter(docs)


@dataclass
class RayOptions:
    """Where and how wide a Ray job runs.

    Attributes:
        address: A running cluster's address (``ray start --head`` prints it); ``None``: a local Ray.
        actors: Actors working at once (the shards are shared out among them).
        cpus: Local Ray's CPUs (``None``: the machine's); ignored with ``address``.
        gpus_per_actor: GPUs each actor asks for (fractions share a GPU), with ``--device cuda``.
    """

    address: str | None = None
    actors: int = 2
    cpus: int | None = None
    gpus_per_actor: float = 0.0


def run_job(factory: StepFactory, inputs: Sequence[Path], output: str | Path, reading: Reading, writing: Writing, *,
            job: dict[str, Any], resume: bool = False, engine: str = "local",
            ray: RayOptions | None = None) -> tuple[JobResult, Any]:
    """Run a job on ``engine``; return what it did and the step it ran locally (its statistics), if any."""
    if engine == "local":
        if isinstance(factory, LabelStep) and factory.workers > 1 and len(inputs) > 1 and is_shard_folder(output):
            return _label_shards_in_parallel(factory, inputs, output, reading, writing, job=job, resume=resume)
        step = factory.build()
        return run_local(step, inputs, output, reading, writing, job=job, resume=resume), step
    if engine == "ray":
        start = time.perf_counter()
        totals = _Reports(factory)
        result = run_ray(factory, inputs, output, reading, writing, job=job, resume=resume,
                         options=ray or RayOptions(), on_report=totals.add)
        totals.finish(time.perf_counter() - start)
        return result, totals if totals.stats is not None else None
    raise DistantError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")


def _label_shards_in_parallel(factory: LabelStep, inputs: Sequence[Path], output: str | Path, reading: Reading,
                              writing: Writing, *, job: dict[str, Any], resume: bool) -> tuple[JobResult, Labelling]:
    """Label shards into a folder with ``factory.workers`` processes, one shard each at a time.

    Splitting a shard's documents among processes (what one input does) leaves this process reading, pickling
    and writing every document, which caps the speed-up of two workers at about 1.2x; whole shards per process
    keep every core busy. The outputs are the same."""
    start = time.perf_counter()
    single = LabelStep(factory.labelers, factory.aggregator, workers=1)  # built in each worker, automata shared
    totals = single.build()

    def on_shard(source: Path, documents: int, stats: Any) -> None:
        totals.stats.merge(stats)
        if factory.progress is not None:
            factory.progress(documents)

    result = run_local_pool(single.build, factory.workers, inputs, output, reading, writing, job=job,
                            resume=resume, on_shard=on_shard)
    totals.stats.seconds = time.perf_counter() - start  # wall time, not the workers' sum
    return result, totals


# -- Ray ----------------------------------------------------------------------------------------------------
class _Reports:
    """A Ray job's statistics: what each actor's step reported after each shard, summed in the driver.

    ``stats`` is what the local step would have counted (a ``LabelStats`` for labeling, the prediction counts
    for prediction, ``None`` for a step that counts nothing); ``seconds`` becomes the job's wall time."""

    def __init__(self, factory: StepFactory) -> None:
        from distant.labelers.pipeline import LabelStats

        self.stats: Any = (LabelStats() if isinstance(factory, LabelStep)
                           else {} if isinstance(factory, PredictStep) else None)

    def add(self, report: Any) -> None:
        if report is None or self.stats is None:
            return
        if isinstance(self.stats, dict):
            for key, value in report.items():
                self.stats[key] = self.stats.get(key, 0) + value
        else:
            self.stats.merge(report)

    def finish(self, seconds: float) -> None:
        if isinstance(self.stats, dict):
            if self.stats:
                self.stats["seconds"] = seconds
        elif self.stats is not None:
            self.stats.seconds = seconds


class _ShardWorker:
    """A Ray Data actor: builds the step once, then processes one shard per row."""

    def __init__(self, factory: list, reading: Reading, writing: Writing) -> None:
        self.step = _unwrap(factory).build()
        self.reading, self.writing = reading, writing

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        counts, errors, reports = [], [], []
        for source, target, fmt in zip(batch["source"], batch["target"], batch["fmt"]):
            try:
                counts.append(process_shard(self.step, Path(source), Path(target), self.reading, self.writing, fmt))
                errors.append("")
            except DistantError as e:  # bad input is the user's: reported by the driver as one line
                counts.append(0)
                errors.append(str(e))
            # the step's counts for this shard (spans, misaligned spans, timeouts...), summed by the driver
            report = self.step.report() if hasattr(self.step, "report") else None
            reports.append(pickle.dumps(report))
        return {"source": list(batch["source"]), "target": list(batch["target"]), "documents": counts,
                "error": errors, "report": reports}


def _unwrap(box: list) -> StepFactory:
    import ray

    item = box[0]
    return ray.get(item) if isinstance(item, ray.ObjectRef) else item


def run_ray(factory: StepFactory, inputs: Sequence[Path], output: str | Path, reading: Reading, writing: Writing, *,
            job: dict[str, Any], resume: bool, options: RayOptions,
            on_report: Callable[[Any], None] | None = None) -> JobResult:
    """Run a job on Ray: an actor pool over the shards (see the module).

    ``on_report`` is called in the driver with what each shard's step reported (its statistics)."""
    ray = _import_ray()
    folder_mode = is_shard_folder(output)
    output = Path(output)
    if resume and not folder_mode:
        raise DistantError("--resume needs a folder of shards as the output (-o FOLDER/)", output)
    result = JobResult()
    temp = None
    if folder_mode:
        manifest, pending, result = open_shard_folder(output, inputs, writing, job=job, resume=resume)
        todo = [(s, output / n) for s, n in pending]
        fmt = writing.shard_format()
    else:
        temp = Path(tempfile.mkdtemp(prefix=".distant-ray-", dir=output.resolve().parent))
        todo = [(s, temp / f"{k:06d}.jsonl") for k, s in enumerate(inputs)]
        fmt = "jsonl"
    try:
        rows = _map_shards(ray, factory, todo, fmt, reading, writing, options, on_report) if todo else iter(())
        if folder_mode:
            for row in rows:  # recorded as they finish: a killed job resumes after the last one
                record_shard(manifest, result, Path(row["source"]), Path(row["target"]).name, int(row["documents"]))
        else:
            for _ in rows:
                pass
            from distant.formats import iter_documents, write_documents

            docs = (doc for _, part in todo for doc in iter_documents(part, "jsonl"))
            result.documents = write_documents(docs, output, writing.fmt, layer=writing.layer, scheme=writing.scheme)
            result.shards, result.outputs = 1, [output]
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return result


def _map_shards(ray: Any, factory: StepFactory, todo: list[tuple[Path, Path]], fmt: str, reading: Reading,
                writing: Writing, options: RayOptions,
                on_report: Callable[[Any], None] | None = None) -> Iterator[dict[str, Any]]:
    """Yield, in shard order, each shard's row once an actor has written it."""
    import ray.data

    started = not ray.is_initialized()
    if started:
        ray.init(address=options.address, num_cpus=None if options.address else options.cpus,
                 include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # rows come back in shard order
        context.enable_progress_bars = False
        shipped = [ray.put(factory)]  # built once here, shipped once to each actor
        items = [{"source": str(s), "target": str(t), "fmt": fmt} for s, t in todo]
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        actors = max(1, min(options.actors, len(items)))
        mapped = ds.map_batches(_ShardWorker, fn_constructor_kwargs={"factory": shipped, "reading": reading,
                                                                    "writing": writing},
                                batch_size=1, concurrency=actors, num_cpus=1, num_gpus=options.gpus_per_actor,
                                batch_format="numpy")
        for row in mapped.iter_rows():
            if row["error"]:
                raise DistantError(str(row["error"]))
            if on_report is not None:
                on_report(pickle.loads(row["report"]))
            yield row
    finally:
        if started:
            ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DistantError("--engine ray needs Ray: pip install 'distant[ray]' (or pip install 'ray[data]')") \
            from None
    return ray


# -- the jobs behind the commands ----------------------------------------------------------------------------
def file_state(path: Path) -> list:
    """Return what says a file has not changed since a job started: its size and modification time."""
    info = Path(path).stat()
    return [str(path), info.st_size, info.st_mtime_ns]


def labelers_identity(labelers: Sequence[Any], aggregator: Any) -> dict[str, Any]:
    """Return what a labeling job's output depends on: every labeler's options and the files they read."""
    from distant.config import to_dict

    described = []
    for lab in labelers:
        options = to_dict(getattr(lab, "options", None)) if getattr(lab, "options", None) is not None else {}
        files = [file_state(Path(v)) for value in options.values()
                 for v in (value if isinstance(value, list) else [value])
                 if isinstance(v, str) and Path(v).is_file()]
        described.append({"class": type(lab).__name__, "name": lab.name, "options": options, "files": files})
    return {"labelers": described, "aggregator": repr(aggregator), "types": list(getattr(aggregator, "types", []))}


def label_corpus(inputs: Sequence[Path], output: str | Path, labelers: Sequence[Any], aggregator: Any, *,
                 reading: Reading, writing: Writing, workers: int = 1, engine: str = "local",
                 ray: RayOptions | None = None, resume: bool = False,
                 progress: Any = None) -> tuple[JobResult, Any]:
    """Label ``inputs`` into ``output`` (a file or a folder of shards); return the result and the statistics."""
    factory = LabelStep(list(labelers), aggregator, workers if engine == "local" else 1,
                        progress if engine == "local" else None)
    job = {"command": "label", "labeling": labelers_identity(labelers, aggregator), "reading": vars(reading),
           "writing": vars(writing)}
    result, step = run_job(factory, inputs, output, reading, writing, job=job, resume=resume, engine=engine, ray=ray)
    return result, None if step is None else step.stats


def predict_corpus(inputs: Sequence[Path], output: str | Path, model: Path, *, reading: Reading, writing: Writing,
                   device: str = "auto", threads: int = 0, batch_size: int | None = None, engine: str = "local",
                   ray: RayOptions | None = None, resume: bool = False, progress: Any = None,
                   combine: bool = True) -> tuple[JobResult, dict[str, float] | None]:
    """Tag ``inputs`` with a trained model into ``output``; return the result and the prediction counts.

    A run folder with ``combine.json`` predicts with its labelers and label model too, unless ``combine`` is off.
    """
    from distant.combine import COMBINE_FILE
    from distant.predict import MODEL_FILE, with_rates

    model = Path(model)
    file = model / MODEL_FILE if model.is_dir() else model
    if not file.is_file():
        raise DistantError(f"no trained model found (expected {MODEL_FILE} in a run folder, or a checkpoint file)",
                           file)
    combined = combine and model.is_dir() and (model / COMBINE_FILE).is_file()
    factory = PredictStep(str((model if combined else file).resolve()), device, threads, batch_size,
                          progress if engine == "local" else None, combine=combined)
    job = {"command": "predict", "model": file_state(file), "batch_size": batch_size, "reading": vars(reading),
           "writing": vars(writing)}
    if combined:
        job["combine"] = file_state(model / COMBINE_FILE)
    result, step = run_job(factory, inputs, output, reading, writing, job=job, resume=resume, engine=engine, ray=ray)
    return result, None if step is None else with_rates(step.stats)


def convert_corpus(inputs: Sequence[Path], output: str | Path, *, reading: Reading, writing: Writing,
                   engine: str = "local", ray: RayOptions | None = None, resume: bool = False) -> JobResult:
    """Convert ``inputs`` into ``output`` (the same documents in another format, or as shards)."""
    job = {"command": "convert", "reading": vars(reading), "writing": vars(writing)}
    return run_job(ConvertStep(), inputs, output, reading, writing, job=job, resume=resume, engine=engine,
                   ray=ray)[0]

