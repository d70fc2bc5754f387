"""The RQ worker process: its main loop, the reconciler beside it, and how it reads RQ's
state to decide what a lost job needs (recovery, pure)."""
