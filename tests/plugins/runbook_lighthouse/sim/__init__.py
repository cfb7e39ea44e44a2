"""The lighthouse's part of the simulated estate (stdlib and runbook.sim only)."""
