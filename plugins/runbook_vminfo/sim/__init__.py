"""The ``vminfod`` part of the simulated estate: the daemon, ``vminfo`` and ``vmadm``.

Builds on the ``smf`` part (``runbook_svcs.sim``), which runs vminfod as an
SMF service. Modules here import only ``runbook.sim``, ``runbook_svcs.sim``
and the standard library (see ``runbook.sim.loader``).
"""
