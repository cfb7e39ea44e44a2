"""The simulated Kafka cluster: ``kafka-consumer-groups.sh``, ``kafka-console-consumer.sh``.

Loaded by stand-in processes without the plugin's own ``__init__`` (see
``runbook.sim.loader``): modules here import only ``runbook.sim``, other
parts' ``sim`` packages and the standard library.
"""
