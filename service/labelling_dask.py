"""The Dask engine of `moderate label`: chunks read here are labelled on an existing Dask cluster.

The client reads the archive exactly as the local engine does (same chunks, line numbers, resume
checkpoints) and keeps a bounded number of chunks in flight on the cluster, writing results in input
order. The labeller (model and article texts) is sent to every worker once.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from service.archive import Chunk
from service.labelling import ChunkLabeller, LabellingError, Tally, in_order


class ClusterError(LabellingError):
    """The Dask cluster failed to label a chunk: it was lost, or the chunk raised on a worker."""


def _label_remote(labeller: ChunkLabeller, chunk: Chunk) -> tuple[bytes, Tally]:
    """Label a chunk on a Dask worker."""
    return labeller.label(chunk)


class _Remote:
    """A chunk being labelled on the cluster; its failure is a ClusterError naming the chunk's rows."""

    def __init__(self, future, chunk: Chunk, scheduler: str) -> None:
        self.future, self.scheduler = future, scheduler
        self.rows = f"{chunk.source}:{chunk.numbers[0]}-{chunk.numbers[-1]}" if len(chunk) else chunk.source

    def result(self) -> tuple[bytes, Tally]:
        """The labelled chunk, once the cluster has it."""
        try:
            return self.future.result()
        except Exception as error:  # noqa: BLE001 - the cluster's own (a lost scheduler) or one raised on a worker
            raise ClusterError(f"labelling {self.rows} failed on the Dask cluster at {self.scheduler} "
                               f"({type(error).__name__}: {error})") from None

    def cancel(self) -> None:
        """Stop waiting for it."""
        self.future.cancel()


def label_on_dask(chunks: Iterable[Chunk], scheduler: str, labeller: ChunkLabeller,
                  in_flight_per_worker: int = 2, timeout: float = 20) -> Iterator[tuple[bytes, Tally, int]]:
    """Labelled chunks in input order, computed on the cluster at ``scheduler``."""
    try:
        from distributed import Client
    except ImportError:
        raise LabellingError("the dask engine needs the optional extra: pip install 'comment-moderator[dask]'") from None
    try:
        client = Client(scheduler, timeout=f"{timeout}s")
    except OSError as error:
        raise LabellingError(f"cannot reach the Dask scheduler at {scheduler} ({error})") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise LabellingError(f"the Dask cluster at {scheduler} has no workers (waited {timeout:g} s): "
                                 f"start one, e.g. dask worker {scheduler}") from None
        _check_workers(client, scheduler)
        n_workers = max(len(client.scheduler_info()["workers"]), 1)
        remote_labeller = client.scatter(labeller, broadcast=True)
        yield from in_order(lambda chunk: _Remote(client.submit(_label_remote, remote_labeller, chunk, pure=False),
                                                   chunk, scheduler),
                            chunks, in_flight_per_worker * n_workers)


def _loads_here() -> bool:
    """Run on each worker: a worker that cannot import this module cannot unpickle it."""
    return True


def _check_workers(client, scheduler: str) -> None:
    """Refuse a cluster with a worker that cannot load this package's code: it would wait forever for
    the labeller it cannot unpickle, and the run with it."""
    answers = client.run(_loads_here, on_error="return")
    broken = {address: answer for address, answer in answers.items() if answer is not True}
    if broken:
        address, error = next(iter(broken.items()))
        raise LabellingError(f"{len(broken)} of the {len(answers)} workers of the Dask cluster at {scheduler} cannot "
                             f"load this package's code ({address}: {error}): install it on every worker "
                             "(pip install 'comment-moderator[dask]')")
