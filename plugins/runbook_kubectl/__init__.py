"""Kubernetes actions driven through kubectl (scale, rollout status, pods, logs)."""

from __future__ import annotations
