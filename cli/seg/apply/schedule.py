"""Running a plan's steps on up to N threads, in dependency order, reporting in plan order.

A step starts once every step it depends on has *applied* and every step it runs ``after``
has finished; a step whose dependency failed, was skipped or was not attempted is skipped
without running. The scheduler keeps one more order of the serial loop, waiting for an
outcome rather than for success: a create or update starts only once every delete before it
in plan order has finished (a freed name, per-parent and workspace limits; deletes come first
but for one that waits for an update, such as the end of a forwarding to the deleted source).
A stop (the lock lost, the retry budget spent) starts nothing new: the steps in flight finish,
the rest is "not attempted".

Outcomes reach the observer in plan order, whatever order they finish in, so two runs of the
same apply print the same lines. Only the calling thread calls the observer.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Literal

from seg.engine.order import Step

__all__ = ["DEFAULT_PARALLELISM", "MAX_PARALLELISM", "Outcome", "Reporter", "Status", "run_steps"]

Status = Literal["applied", "failed", "skipped", "not_attempted"]

DEFAULT_PARALLELISM = 10  # as Terraform's
MAX_PARALLELISM = 64

SKIPPED = "a change it depends on did not apply"


@dataclass(frozen=True)
class Outcome:
    """What running one step gave: its status, the error, and whether the apply must stop."""

    status: Status
    error: str = ""
    stop: bool = False


Runner = Callable[[Step], Outcome]
Reporter = Callable[[Step, Outcome], None]


class _Board:
    """Which steps are done, which may start, and which outcomes are reported so far."""

    def __init__(self, steps: Sequence[Step], report: Reporter) -> None:
        self.steps = steps
        self.report = report
        self.outcomes: dict[int, Outcome] = {}
        self.users: dict[int, list[int]] = {s.index: [] for s in steps}
        self.waiting = {s.index: len(s.depends_on) + len(s.after) for s in steps}
        for step in steps:
            for dep in (*step.depends_on, *step.after):
                self.users[dep].append(step.index)
        # a write is held until every delete before it in plan order has finished
        self.deletes = [s.index for s in steps if s.op == "delete"]
        self.open_delete = 0  # position in ``deletes`` of the first unfinished one
        self.ready: list[int] = []
        self.held: list[int] = []
        for step in steps:
            if not step.depends_on and not step.after:
                self._due(step.index)
        self.reported = 0
        self.stopped = ""

    def settle(self, index: int, outcome: Outcome) -> None:
        """Record ``outcome``; the steps that were waiting only for it become due."""
        self.outcomes[index] = outcome
        if outcome.stop and not self.stopped:
            self.stopped = outcome.error
        if self.steps[index].op == "delete":
            self._release()
        for user in self.users[index]:
            self.waiting[user] -= 1
            if not self.waiting[user]:
                self._due(user)
        self._flush()

    def _barrier(self) -> int:
        """The plan position of the first unfinished delete (past the end when none)."""
        deletes = self.deletes
        while self.open_delete < len(deletes) and deletes[self.open_delete] in self.outcomes:
            self.open_delete += 1
        return deletes[self.open_delete] if self.open_delete < len(deletes) else len(self.steps)

    def _due(self, index: int) -> None:
        held = self.steps[index].op != "delete" and index > self._barrier()
        heapq.heappush(self.held if held else self.ready, index)

    def _release(self) -> None:
        barrier = self._barrier()
        while self.held and self.held[0] < barrier:
            heapq.heappush(self.ready, heapq.heappop(self.held))

    def take(self) -> int | None:
        """The next step to start (the earliest due in plan order), or None. A due step whose
        dependencies did not all apply is skipped here, in its turn, so after a stop it is
        "not attempted" as in the serial loop."""
        while self.ready and not self.stopped:
            index = heapq.heappop(self.ready)
            if all(self.outcomes[d].status == "applied" for d in self.steps[index].depends_on):
                return index
            self.settle(index, Outcome("skipped", SKIPPED))
        return None

    def finish(self) -> None:
        """After a stop: every step without an outcome was not attempted."""
        if not self.stopped and len(self.outcomes) != len(self.steps):
            raise AssertionError("the apply's scheduler left steps waiting without a stop")
        for step in self.steps:
            if step.index not in self.outcomes:
                self.outcomes[step.index] = Outcome("not_attempted", self.stopped)
        self._flush()

    def _flush(self) -> None:
        while self.reported in self.outcomes:
            step = self.steps[self.reported]
            self.report(step, self.outcomes[self.reported])
            self.reported += 1


def run_steps(steps: Sequence[Step], run: Runner, report: Reporter, parallelism: int) -> str:
    """Run ``steps`` (in plan order, each naming the earlier steps it depends on) with at
    most ``parallelism`` running at once; ``report`` each outcome in plan order. Returns why
    the apply stopped ("" when it did not). ``parallelism`` 1 runs them one by one on this
    thread, exactly in plan order."""
    if not 1 <= parallelism <= MAX_PARALLELISM:
        raise ValueError(f"parallelism must be from 1 to {MAX_PARALLELISM}, not {parallelism}")
    board = _Board(steps, report)
    if parallelism == 1:
        while (index := board.take()) is not None:
            board.settle(index, run(steps[index]))
    else:
        with ThreadPoolExecutor(parallelism, thread_name_prefix="seg-apply") as pool:
            running: dict[Future[Outcome], int] = {}
            while True:
                while len(running) < parallelism and (index := board.take()) is not None:
                    running[pool.submit(run, steps[index])] = index
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=running.__getitem__):
                    board.settle(running.pop(future), future.result())
    board.finish()
    return board.stopped
