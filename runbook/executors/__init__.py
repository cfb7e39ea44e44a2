"""Executors: where commands run (local, ssh, kubectl-exec)."""

from __future__ import annotations

from runbook.executors.base import CommandResult, Executor, Process

__all__ = ["CommandResult", "Executor", "Process"]
