"""The ``smf`` part of the simulated estate: SMF services of a SmartOS node, ``svcs``, ``svcadm``.

Loaded by stand-in processes without the plugin's own ``__init__`` (see
``runbook.sim.loader``): modules here import only ``runbook.sim`` and the
standard library.
"""
