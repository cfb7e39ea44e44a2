"""Kafka actions driven through the kafka-*.sh command-line tools."""

from __future__ import annotations
