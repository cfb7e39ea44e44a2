"""Stand-in for ``kubectl``: get, scale, logs, rollout status/restart, exec.

Flags are parsed the pflag way and refused with kubectl's own messages
(``error: unknown flag: --foo``, exit 1). Output follows the formats in
shared/formats: Go-style JSON (four-space indent, sorted keys), tabwriter
tables, ``deployment.apps/NAME scaled``, rollout progress lines.
"""

from __future__ import annotations

import calendar
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runbook.sim.argv import Parsed, UsageError, parse
from runbook.sim.model import State, rfc3339
from runbook.sim.store import read, transaction
from runbook_kubectl.sim import k8s, kubectl_print

Obj = dict[str, Any]

GLOBAL_FLAGS = {"namespace": True, "context": True, "kubeconfig": True, "cluster": True,
                "user": True, "request-timeout": True}
GLOBAL_SHORTS = {"n": "namespace"}
COMMAND_FLAGS: dict[str, tuple[dict[str, bool], dict[str, str]]] = {
    "get": ({"output": True, "selector": True, "all-namespaces": False,
             "ignore-not-found": False, "no-headers": False},
            {"o": "output", "l": "selector", "A": "all-namespaces"}),
    "scale": ({"replicas": True, "current-replicas": True, "timeout": True}, {}),
    "logs": ({"container": True, "since": True, "since-time": True, "tail": True,
              "timestamps": False, "follow": False, "pod-running-timeout": True},
             {"c": "container", "f": "follow"}),
    "rollout": ({"timeout": True, "watch": False}, {"w": "watch"}),
    "exec": ({"container": True, "stdin": False, "tty": False, "quiet": False,
              "pod-running-timeout": True},
             {"c": "container", "i": "stdin", "t": "tty", "q": "quiet"}),
    "set": ({}, {}),  # set image: runbook_kubectl.sim.kubectl_set
    "delete": ({"wait": False, "grace-period": True}, {}),
}
KINDS = {
    **dict.fromkeys(("deployment", "deployments", "deploy", "deployment.apps",
                     "deployments.apps", "deployment.v1.apps", "deployments.v1.apps"),
                    "deployments"),
    **dict.fromkeys(("pod", "pods", "po"), "pods"),
}


class Fail(Exception):
    """Stop with a message on stderr and an exit status, as kubectl would."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def run(directory: Path, argv: list[str]) -> int:
    index = _command(argv)
    if index is None:
        print("kubectl controls the Kubernetes cluster manager.\n\n"
              "Usage:\n  kubectl [flags] [options]")
        return 0
    command = argv[index]
    if command not in COMMAND_FLAGS:
        return _error(f'error: unknown command "{command}" for "kubectl"\n'
                      "Run 'kubectl --help' for usage.")
    flags, shorts = COMMAND_FLAGS[command]
    rest = list(argv)
    del rest[index]
    try:
        opts = parse(rest, {**GLOBAL_FLAGS, **flags}, {**GLOBAL_SHORTS, **shorts})
    except UsageError as exc:
        return _error(_usage_message(exc) + f"\nSee 'kubectl {command} --help' for usage.")
    handlers: dict[str, Callable[[Path, Parsed], int]] = {
        "get": _get, "scale": _scale, "logs": _logs, "rollout": _rollout, "exec": _exec,
        "set": _set,
        "delete": _delete,
    }
    try:
        return handlers[command](directory, opts)
    except Fail as exc:
        return _error(str(exc), exc.code)


def _set(directory: Path, opts: Parsed) -> int:
    from runbook_kubectl.sim.kubectl_set import set_command

    return set_command(directory, opts)


def _error(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def _command(argv: list[str]) -> int | None:
    """Where the first word that is neither a flag nor a global flag's value is."""
    skip = False
    for index, token in enumerate(argv):
        if skip:
            skip = False
        elif token == "--":
            return None
        elif token.startswith("--"):
            skip = "=" not in token and GLOBAL_FLAGS.get(token[2:], False)
        elif token.startswith("-") and len(token) > 1:
            skip = token[1:] in GLOBAL_SHORTS
        else:
            return index
    return None


def _usage_message(exc: UsageError) -> str:
    if exc.kind == "unknown":
        return (f"error: unknown shorthand flag: '{exc.flag}' in {exc.token}" if exc.short
                else f"error: unknown flag: --{exc.flag}")
    if exc.kind == "missing_value":
        return (f"error: flag needs an argument: '{exc.flag}' in -{exc.flag}" if exc.short
                else f"error: flag needs an argument: --{exc.flag}")
    return (f'error: invalid argument "{exc.token}" for "--{exc.flag}" flag: '
            f'strconv.ParseBool: parsing "{exc.token}": invalid syntax')


def _namespace(opts: Parsed) -> str:
    return opts.get("namespace") or "default"


def _int_flag(opts: Parsed, name: str) -> int | None:
    value = opts.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise Fail(f'error: invalid argument "{value}" for "--{name}" flag: '
                   f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


def _resources(args: list[str]) -> list[tuple[str, str | None]]:
    """``TYPE [NAME...]`` or ``TYPE/NAME...`` as (kind, name) pairs."""
    if not args:
        raise Fail("error: Required resource not specified.")
    if "/" in args[0]:
        pairs = [tuple(a.split("/", 1)) for a in args]
        if any(len(p) != 2 for p in pairs):
            raise Fail("error: there is no need to specify a resource type as a separate "
                       "argument when passing arguments in resource/name form")
        return [(_kind(kind), name) for kind, name in pairs]
    kind = _kind(args[0])
    return [(kind, name) for name in args[1:]] or [(kind, None)]


def _kind(word: str) -> str:
    if word.lower() not in KINDS:
        raise Fail(f'error: the server doesn\'t have a resource type "{word}"')
    return KINDS[word.lower()]


def _not_found(kind: str, name: str) -> str:
    group = "deployments.apps" if kind == "deployments" else kind
    return f'Error from server (NotFound): {group} "{name}" not found'


def _one_deployment(opts: Parsed, verb: str) -> tuple[str, str]:
    pairs = _resources(opts.args)
    kind, name = pairs[0]
    if name is None:
        raise Fail("error: resource(s) were provided, but no name was specified")
    if kind != "deployments" or len(pairs) > 1:
        raise Fail(f"error: {verb} is only simulated for one deployment")
    return _namespace(opts), name


# -- get ----------------------------------------------------------------------

def _get(directory: Path, opts: Parsed) -> int:
    output = opts.get("output", "") or ""
    if output not in ("", "json", "name", "wide") and not output.startswith("jsonpath="):
        raise Fail(f'error: unable to match a printer suitable for the output format "{output}", '
                   "allowed formats are: json,jsonpath,name,wide")
    pairs = _resources(opts.args)
    namespaces = None if opts.flag("all-namespaces") else [_namespace(opts)]
    with transaction(directory) as state:
        t = float(state["updated"])
        found, errors = _lookup(state, pairs, namespaces, opts, t)
    named = all(name is not None for _, name in pairs)
    if found or not named:
        single = named and len(pairs) == 1 and len(found) == 1
        kubectl_print.show(found, output, single, namespaces, opts.flag("no-headers"), t)
    for message in errors:
        print(message, file=sys.stderr)
    return 1 if errors else 0


def _lookup(state: State, pairs: list[tuple[str, str | None]], namespaces: list[str] | None,
            opts: Parsed, t: float) -> tuple[list[tuple[str, str, Obj]], list[str]]:
    """The objects ``get`` shows (kind, namespace, document) and its not-found errors."""
    selector = opts.get("selector", "") or ""
    found: list[tuple[str, str, Obj]] = []
    errors: list[str] = []
    for kind, name in pairs:
        for ns in namespaces or sorted(state["namespaces"]):
            objects = _objects(state, kind, ns, t)
            if name is None:
                found.extend((kind, ns, o) for o in objects
                             if k8s.matches(o["metadata"]["labels"], selector))
                continue
            match = [o for o in objects if o["metadata"]["name"] == name]
            if match:
                found.append((kind, ns, match[0]))
            elif not opts.flag("ignore-not-found"):
                errors.append(_not_found(kind, name))
    return found, errors


def _objects(state: State, kind: str, namespace: str, t: float) -> list[Obj]:
    if kind == "deployments":
        return [k8s.deployment_object(namespace, name, dep, t)
                for name, dep in sorted(k8s.deployments(state, namespace).items())]
    return [k8s.pod_object(namespace, pod, t) for pod in k8s.pod_records(state, namespace)]


# -- scale and rollout ----------------------------------------------------------

def _scale(directory: Path, opts: Parsed) -> int:
    replicas = _int_flag(opts, "replicas")
    if replicas is None:
        raise Fail('error: required flag(s) "replicas" not set')
    if replicas < 0:
        raise Fail("error: The --replicas=COUNT flag is required, and COUNT must be greater "
                   "than or equal to 0")
    current = _int_flag(opts, "current-replicas")
    namespace, name = _one_deployment(opts, "scale")
    with transaction(directory) as state:
        dep = k8s.get_deployment(state, namespace, name)
        if dep is None:
            raise Fail(_not_found("deployments", name))
        if current is not None and current != dep["replicas"]:
            raise Fail(f"error: Expected replicas to be {current}, was {dep['replicas']}")
        k8s.scale(state, name, dep, replicas, float(state["updated"]))
    print(f"deployment.apps/{name} scaled")
    return 0


def _rollout(directory: Path, opts: Parsed) -> int:
    if not opts.args or opts.args[0] not in ("status", "restart"):
        word = opts.args[0] if opts.args else ""
        raise Fail(f'error: unknown command "{word}" for "kubectl rollout"' if word else
                   "error: rollout requires a subcommand: status or restart")
    sub = opts.args.pop(0)
    namespace, name = _one_deployment(opts, f"rollout {sub}")
    if sub == "restart":
        with transaction(directory) as state:
            dep = k8s.get_deployment(state, namespace, name)
            if dep is None:
                raise Fail(_not_found("deployments", name))
            k8s.restart(state, name, dep, float(state["updated"]))
        print(f"deployment.apps/{name} restarted")
        return 0
    timeout = parse_duration(opts.get("timeout") or "0s", "timeout")
    watch = opts.get("watch", "true") == "true"
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        with transaction(directory) as state:
            dep = k8s.get_deployment(state, namespace, name)
            if dep is None:
                raise Fail(_not_found("deployments", name))
            ready = len(k8s.ready_pods(dep, float(state["updated"])))
            wanted = int(dep["replicas"])
        if ready >= wanted:
            print(f'deployment "{name}" successfully rolled out')
            return 0
        line = (f'Waiting for deployment "{name}" rollout to finish: '
                f"{ready} of {wanted} updated replicas are available...")
        if line != last:
            print(line, flush=True)
            last = line
        if not watch:
            return 0
        if timeout and time.monotonic() >= deadline:
            raise Fail("error: timed out waiting for the condition")
        time.sleep(0.1)


_DURATION = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, flag: str) -> float:
    """Go's ``time.ParseDuration`` (``1h``, ``90s``, ``1h30m``, ``500ms``, ``0``)."""
    if text == "0":
        return 0.0
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise Fail(f'error: invalid argument "{text}" for "--{flag}" flag: '
                   f'time: invalid duration "{text}"')
    return sum(float(n) * _UNITS[u] for n, u in parts)


# -- logs -----------------------------------------------------------------------

def _logs(directory: Path, opts: Parsed) -> int:
    if not opts.args:
        raise Fail("error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\n"
                   "POD or TYPE/NAME is a required argument for the logs command")
    target, *more = opts.args
    namespace = _namespace(opts)
    container = opts.get("container") or (more[0] if more else None)
    since_text = opts.get("since")
    since = parse_duration(since_text, "since") if since_text else None
    tail = _int_flag(opts, "tail")
    with transaction(directory) as state:
        source, pod = _log_source(state, namespace, target)
        _check_container(pod, container)
        t = float(state["updated"])
        lines: list[list[Any]] = list(state["logs"].get(source, []))
    floor = t - since if since is not None else _since_time(opts)
    chosen = [line for line in lines if line[0] >= floor]
    if tail is not None and tail >= 0:
        chosen = chosen[len(chosen) - tail:] if tail else []
    _emit(chosen, opts.flag("timestamps"))
    if opts.flag("follow"):
        _follow(directory, source, max([t, *[line[0] for line in chosen]]),
                opts.flag("timestamps"))
    return 0


def _check_container(pod: Obj, container: str | None) -> None:
    names = [c[0] for c in pod["containers"]]
    if container is not None and container not in names:
        raise Fail(f"error: container {container} is not valid for pod {pod['name']}")
    if container is None and len(names) > 1:
        raise Fail(f"error: a container name must be specified for pod {pod['name']}, "
                   f"choose one of: [{' '.join(names)}]")


def _log_source(state: State, namespace: str, target: str) -> tuple[str, Obj]:
    """The log a target reads (one per deployment, kept across its pods) and a pod."""
    kind, _, name = target.rpartition("/")
    if kind and _kind(kind) == "deployments":
        dep = k8s.get_deployment(state, namespace, name)
        if dep is None:
            raise Fail(_not_found("deployments", name))
        pods = k8s.ready_pods(dep, float(state["updated"]))
        if not pods:
            raise Fail("error: timed out waiting for the condition")
        if len(pods) > 1:
            print(f"Found {len(pods)} pods, using pod/{pods[0]['name']}", file=sys.stderr)
        return f"{namespace}/{name}", pods[0]
    pod = k8s.find_pod(state, namespace, name)
    if pod is None:
        raise Fail(_not_found("pods", name))
    for dep_name, dep in k8s.deployments(state, namespace).items():
        if pod in dep["pods"]:
            own = dep.get("pod_logs")  # each pod keeps its own log (Kask's)
            return f"{namespace}/pod/{name}" if own else f"{namespace}/{dep_name}", pod
    return f"{namespace}/pod/{name}", pod


def _since_time(opts: Parsed) -> float:
    text = opts.get("since-time")
    if text is None:
        return 0.0
    try:
        moment = time.strptime(text.split(".")[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise Fail(f'error: invalid argument "{text}" for "--since-time" flag: '
                   f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse') from None
    return float(calendar.timegm(moment))


def _emit(lines: list[list[Any]], stamps: bool) -> None:
    for ts, text in lines:
        prefix = ""
        if stamps:
            nanos = round(ts % 1 * 1e9)
            prefix = rfc3339(ts)[:-1] + f".{nanos:09d}Z "
        sys.stdout.write(f"{prefix}{text}\n")
    sys.stdout.flush()


def _follow(directory: Path, source: str, after: float, stamps: bool) -> None:
    """``-f``: keep printing new lines until the process is stopped."""
    while True:
        time.sleep(0.25)
        with transaction(directory) as state:
            fresh = [line for line in state["logs"].get(source, []) if line[0] > after]
        if fresh:
            _emit(fresh, stamps)
            after = fresh[-1][0]


# -- exec -----------------------------------------------------------------------

def _exec(directory: Path, opts: Parsed) -> int:
    if not opts.args:
        raise Fail("error: pod, type/name or --filename must be specified")
    if opts.rest is None or len(opts.args) > 1:
        raise Fail("error: exec [POD] [COMMAND] is not supported anymore. "
                   "Use exec [POD] -- [COMMAND] instead")
    if not opts.rest:
        raise Fail("error: you must specify at least one command for the container")
    namespace = _namespace(opts)
    state = read(directory)  # read-only look-up; the command does its own transactions
    pod = _exec_pod(state, namespace, opts.args[0])
    phase = k8s.pod_phase(pod, time.time())
    if phase in ("Succeeded", "Failed"):
        raise Fail(f"error: cannot exec into a container in a completed pod; "
                   f"current phase is {phase}")
    names = [c[0] for c in pod["containers"]]
    container = opts.get("container") or names[0]
    if container not in names or phase != "Running":
        raise Fail(f'error: unable to upgrade connection: container not found ("{container}")')
    if not opts.has("container") and len(names) > 1 and not opts.flag("quiet"):
        print(f'Defaulted container "{names[0]}" out of: {", ".join(names)}', file=sys.stderr)
    return _exec_in_pod(Path(directory), f"{namespace}/{pod['name']}", opts.rest)


def _exec_pod(state: State, namespace: str, target: str) -> Obj:
    """The pod ``exec`` enters: a pod by name, or a deployment's first ready pod."""
    kind, _, name = target.rpartition("/")
    pod: Obj | None
    if kind and _kind(kind) == "deployments":
        dep = k8s.get_deployment(state, namespace, name)
        if dep is None:
            raise Fail(_not_found("deployments", name))
        pod = next(iter(k8s.ready_pods(dep, time.time())), None)
    else:
        pod = k8s.find_pod(state, namespace, name)
    if pod is None:
        raise Fail(_not_found("pods", name))
    return pod


def _exec_in_pod(directory: Path, pod: str, command: list[str]) -> int:
    """Replace this process with the command, so signals reach it directly.

    The command runs in ``DIR/pods/POD`` (where ``bin/`` holds the stand-ins, as
    ``/opt/kafka/bin`` does in the Kafka pod) with the stand-ins first on PATH;
    a stand-in named by an absolute path (``/opt/kafka/bin/...``) is mapped too,
    also behind ``env K=V``.
    """
    workdir = directory / "pods" / pod.partition("/")[2]
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "bin").exists():
        (workdir / "bin").symlink_to(directory / "bin", target_is_directory=True)
    command = list(command)
    at = 0
    if os.path.basename(command[0]) == "env":
        at = next((i for i, a in enumerate(command[1:], 1)
                   if "=" not in a and not a.startswith("-")), len(command))
    if at < len(command) and (directory / "bin" / os.path.basename(command[at])).is_file():
        command[at] = str(directory / "bin" / os.path.basename(command[at]))
    program = command[0]
    os.chdir(workdir)
    env = dict(os.environ)
    env["PATH"] = f"{directory / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["RUNBOOK_SIM_DIR"] = str(directory)
    env["RUNBOOK_SIM_POD"] = pod
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(program, [program, *command[1:]], env)
    except OSError:
        print(f'OCI runtime exec failed: exec failed: unable to start container process: '
              f'exec: "{command[0]}": executable file not found in $PATH: unknown\n'
              "command terminated with exit code 126", file=sys.stderr)
    return 126


def _delete(directory: Path, opts: Parsed) -> int:
    """``delete pod NAME...``: a deployment's pod is replaced by a new one (a pod restart)."""
    if not opts.args or _kind(opts.args[0]) != "pods" or len(opts.args) < 2:
        raise Fail("error: this stand-in deletes pods only: kubectl delete pod NAME...")
    namespace = _namespace(opts)
    with transaction(directory) as state:
        for name in opts.args[1:]:
            if not k8s.replace_pod(state, namespace, name, float(state["updated"])):
                raise Fail(f'Error from server (NotFound): pods "{name}" not found')
            print(f'pod "{name}" deleted')
    return 0
