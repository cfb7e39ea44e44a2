"""``kubectl set image deployment/NAME CONTAINER=IMAGE`` for the simulated cluster.

A new image is a new revision: every pod is replaced (``k8s.restart``) and
the new pods run the image. Kept in its own module (loaded only for ``set``)
so the ``kubectl`` stand-in stays one place per command.
"""

from __future__ import annotations

from pathlib import Path

from runbook.sim.argv import Parsed
from runbook.sim.store import transaction
from runbook_kubectl.sim import k8s
from runbook_kubectl.sim.kubectl import Fail, _not_found, _one_deployment


def set_command(directory: Path, opts: Parsed) -> int:
    """``set image``: the only ``set`` subcommand simulated."""
    if not opts.args or opts.args[0] != "image":
        raise Fail("error: only `kubectl set image` is simulated")
    pairs = [a for a in opts.args[1:] if "=" in a]
    resources = [a for a in opts.args[1:] if "=" not in a]
    if not pairs:
        raise Fail("error: at least one image update is required")
    opts.args[:] = resources
    namespace, name = _one_deployment(opts, "set image")
    with transaction(directory) as state:
        dep = k8s.get_deployment(state, namespace, name)
        if dep is None:
            raise Fail(_not_found("deployments", name))
        for pair in pairs:
            container, _, image = pair.partition("=")
            if container not in (name, "*"):
                raise Fail(f'error: unable to find container named "{container}"')
            if image != dep["image"]:
                dep["image"] = image
                k8s.restart(state, name, dep, float(state["updated"]))
    print(f"deployment.apps/{name} image updated")
    return 0
