"""Where work waits: RQ on Redis, or threads in this process for the embedded default."""

from fragrance_ai.queue.base import JobQueue, QueueName, attempts_remaining
from fragrance_ai.queue.inprocess import InProcessJobQueue
from fragrance_ai.queue.redis_queue import RedisJobQueue

__all__ = ["InProcessJobQueue", "JobQueue", "QueueName", "RedisJobQueue", "attempts_remaining"]
