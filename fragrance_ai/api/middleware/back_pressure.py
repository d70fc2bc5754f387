"""503 with Retry-After for a POST that would queue work behind more than `queue.max_depth`
waiting jobs: a client learns now that the service is saturated, instead of waiting for
minutes on a job that sits in line."""

from __future__ import annotations

from fastapi import Depends, HTTPException, status

from fragrance_ai.api.deps import RuntimeDep
from fragrance_ai.queue import QueueName
from fragrance_ai.queue.base import QueueUnavailable

# Jobs take seconds each: half a minute lets a few finish before the client comes back.
RETRY_AFTER_S = 30


class QueueHasRoom:
    def __init__(self, queue: QueueName) -> None:
        self.queue = queue

    async def __call__(self, runtime: RuntimeDep) -> None:
        most = runtime.settings.queue.max_depth
        if most == 0:
            return
        try:
            depth = runtime.queue.depth()[self.queue]
        except QueueUnavailable:
            # The route itself answers an unavailable queue (a brief is kept, then 503).
            return
        if depth >= most:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail=f"the {self.queue.value} queue is full: {depth} jobs waiting "
                f"(queue.max_depth {most}); retry later",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )


LLM_QUEUE_HAS_ROOM = Depends(QueueHasRoom(QueueName.LLM_INFERENCE))
RL_QUEUE_HAS_ROOM = Depends(QueueHasRoom(QueueName.RL_TRAINING))
