"""Independent parts of a model computed at the same time on a CPU, with results that do not depend on it.

Torch splits every operation across its intra-op threads and joins them at its end. The char LM and the
tagger are LSTMs over short sequences: thousands of small matrix products a step, each ending in a barrier.
On an idle machine two threads are about 1.5x one; when another process holds a core, every barrier waits
for a descheduled thread and two threads run several times slower than one (12x measured for char-LM
pre-training on 2 cores with one busy process; ``docs/benchmarks.md``).

So by default (``threads = 0``) torch gets one intra-op thread, and the parts of a step that do not depend on
each other run as tasks on a small pool: the forward and the backward LSTM of the char LM and of the word
BiLSTM, with their own backward passes (:func:`branches`), and Viterbi next to the marginals when decoding.
A task is a whole LSTM over a batch, so a descheduled worker delays a step once, not at every product. Each
branch runs the same operations, in the same order, whether it runs on a worker or in turn, and draws its
random numbers from a generator of its own, so the results are bit for bit the same with any number of
workers (:func:`configure` with ``threads > 0`` gives torch that many intra-op threads and runs branches in
turn, as before).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

_pool: ThreadPoolExecutor | None = None
_workers = 1


def available_cores() -> int:
    """Return the cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def configure(threads: int = 0, device: torch.device | str = "cpu") -> dict[str, int]:
    """Set torch's CPU threads and the branch workers for a run; return what was set.

    Args:
        threads: ``0``: one intra-op thread and up to two branch workers on a CPU (the default, see the module
            docstring); ``N > 0``: ``N`` intra-op threads and branches in turn.
        device: Where the model runs; on a GPU branches run in turn (the GPU queues them anyway).
    """
    global _workers
    if threads < 0:
        raise ValueError(f"threads must be 0 (automatic) or positive, found {threads}")
    if threads > 0:
        torch.set_num_threads(threads)
        _workers = 1
    elif torch.device(device).type == "cpu":
        torch.set_num_threads(1)
        _workers = min(2, available_cores())
    else:
        _workers = 1
    return {"intra_op_threads": torch.get_num_threads(), "branch_workers": _workers}


def workers() -> int:
    """Return how many branches may run at once."""
    return _workers


def run_all(tasks: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run independent callables, at the same time when workers allow; return their results in order."""
    global _pool
    if _workers < 2 or len(tasks) < 2:
        return [task() for task in tasks]
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="distant-branch")
    context = _callers_context()
    futures = [_pool.submit(_within, context, task) for task in tasks[1:]]
    first = tasks[0]()  # the calling thread takes a branch itself
    return [first, *(f.result() for f in futures)]


def _callers_context() -> tuple[bool, list[tuple[str, torch.dtype]]]:
    """Return the calling thread's grad mode and autocast settings (thread-local in torch)."""
    autocast = [(kind, torch.get_autocast_dtype(kind)) for kind in ("cpu", "cuda") if torch.is_autocast_enabled(kind)]
    return torch.is_grad_enabled(), autocast


def _within(context: tuple[bool, list[tuple[str, torch.dtype]]], task: Callable[[], Any]) -> Any:
    """Run ``task`` on a worker under the caller's grad mode and autocast, so a branch computes what it would
    compute on the calling thread."""
    grad, autocast = context
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.set_grad_enabled(grad))
        for kind, dtype in autocast:
            stack.enter_context(torch.autocast(kind, dtype=dtype))
        return task()


def branch_generators(n: int, device: torch.device | str) -> list[torch.Generator]:
    """Return ``n`` generators seeded from torch's global generator (so a seeded run stays reproducible).

    A branch that draws random numbers (dropout) uses its own generator: which worker draws first must
    not change what is drawn.
    """
    seeds = torch.randint(0, 2**62, (n,)).tolist()
    return [torch.Generator(device=device).manual_seed(s) for s in seeds]


class _Branches(torch.autograd.Function):
    """Forward: each ``fns[i](inputs[i])`` on its own graph; backward: each graph's backward, concurrently.

    Like reentrant checkpointing, the branches' parameters receive their gradients from the inner backward
    passes; the inputs' gradients are returned to the outer graph.
    """

    @staticmethod
    def forward(ctx: Any, fns: Sequence[Callable], *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        def build(fn: Callable, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            with torch.enable_grad():
                inner = x.detach().requires_grad_(x.requires_grad)
                return inner, fn(inner)

        ctx.graphs = run_all([lambda f=f, x=x: build(f, x) for f, x in zip(fns, inputs[:-1])])
        return tuple(out.detach() for _, out in ctx.graphs)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        def back(inner: torch.Tensor, out: torch.Tensor, grad: torch.Tensor) -> torch.Tensor | None:
            if out.requires_grad:
                torch.autograd.backward(out, grad)
            return inner.grad if inner.requires_grad else None

        graphs, ctx.graphs = ctx.graphs, None
        results = run_all([lambda g=g, d=d: back(*g, d) for g, d in zip(graphs, grads)])
        return (None, *results, None)


def branches(fns: Sequence[Callable[[torch.Tensor], torch.Tensor]],
             inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Return ``[fns[i](inputs[i]) ...]``, the branches computed at the same time when workers allow.

    The branches must be independent (no shared parameters) and must not draw from torch's global generator
    (use :func:`branch_generators`). Gradients flow to the inputs and to each branch's parameters.
    """
    if len(fns) != len(inputs):
        raise ValueError(f"{len(fns)} branches but {len(inputs)} inputs")
    if not torch.is_grad_enabled():
        return run_all([lambda f=f, x=x: f(x) for f, x in zip(fns, inputs)])
    # The branches' parameters may need gradients even when no input does: a dummy input that needs one
    # makes autograd call the backward (as in reentrant checkpointing).
    outputs = _Branches.apply(fns, *inputs, _dummy())
    return list(outputs)


def _dummy() -> torch.Tensor:
    return torch.zeros(0, requires_grad=True)
