"""HPE Cray Configuration Framework Service (CFS) actions driven through the cray CLI."""

from __future__ import annotations
