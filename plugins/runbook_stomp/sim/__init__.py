"""The ``publisher`` part of the simulated estate: a perfSONAR datastore publishing
through stompclt under simplevisor, and its reference (ITB) host.

Modules here import only the standard library, ``runbook.sim`` and each other
(stand-ins start as fresh processes).
"""
