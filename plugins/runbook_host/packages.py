"""Installed packages: ``host.packages``, ``host.package_drift`` and ``host.package_update``.

RPM hosts are read with ``rpm -qa --qf`` and updated with ``yum``; Debian
hosts with ``dpkg-query -W`` and ``apt-get``. Versions are compared the way
the package manager does (``runbook_host.versions``), never as strings.
``package_drift`` compares this target's packages with a reference mapping
(the ``packages`` result of ``host.packages`` on the reference host) or reads
them itself on the reference target, through the run's read-only view of
another target (``Runtime.executor_for``).
"""

from __future__ import annotations

import fnmatch
from typing import Any, Literal

from pydantic import Field, model_validator

from runbook.actions import Action, ActionContext, Args, Invocation
from runbook.errors import StepError
from runbook_host.versions import deb_compare, rpm_compare

Manager = Literal["rpm", "dpkg"]
RPM_FORMAT = "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n"
DPKG_FORMAT = "${Package}\\t${Version}\\t${Architecture}\\n"


def query_argv(manager: Manager, names: list[str] | None = None) -> list[str]:
    """List every package (or the named ones)."""
    if manager == "dpkg":
        return ["dpkg-query", "-W", "-f", DPKG_FORMAT, *(names or [])]
    if names:
        return ["rpm", "-q", "--qf", RPM_FORMAT, *names]
    return ["rpm", "-qa", "--qf", RPM_FORMAT]


def parse_query(text: str) -> dict[str, str]:
    """``NAME<TAB>VERSION<TAB>ARCH`` lines; rpm's ``0:`` epoch is dropped. Lines of
    packages that are not installed (``package x is not installed``) are skipped."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            continue
        found[parts[0]] = parts[1].removeprefix("0:").removeprefix("(none):")
    return dict(sorted(found.items()))


def select(packages: dict[str, str], names: list[str]) -> dict[str, str]:
    """The packages whose name matches one of ``names`` (glob patterns); all without."""
    if not names:
        return packages
    return {n: v for n, v in packages.items() if any(fnmatch.fnmatchcase(n, p) for p in names)}


def compare(manager: Manager, a: str, b: str) -> int:
    return deb_compare(a, b) if manager == "dpkg" else rpm_compare(a, b)


class PackagesArgs(Args):
    names: list[str] = Field(default_factory=list, description="package names or glob "
                                                               "patterns (all when empty)")
    manager: Manager = Field(default="rpm", description="rpm or dpkg")


class Packages(Action[PackagesArgs]):
    """argv: `rpm -qa --qf '%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n'` or
    `dpkg-query -W -f '${Package}\\t${Version}\\t${Architecture}\\n'`; names and
    patterns are matched here (`httpd*`)."""

    name = "host.packages"
    summary = "installed package versions (rpm or dpkg), by names or patterns"
    Args = PackagesArgs
    result_fields = {"manager": "rpm or dpkg",
                     "packages": "{name: [epoch:]version-release}"}

    def commands(self, args: PackagesArgs) -> list[list[str]]:
        return [query_argv(args.manager)]

    def run(self, args: PackagesArgs, ctx: ActionContext) -> Any:
        found = parse_query(ctx.exec(query_argv(args.manager)).stdout)
        return {"manager": args.manager, "packages": select(found, args.names)}


class DriftArgs(PackagesArgs):
    reference: dict[str, str] | None = Field(default=None, description="{name: version} of "
                                             "the reference host (host.packages' "
                                             "result.packages there)")
    reference_target: str | None = Field(default=None, description="or the reference "
                                         "host as a target of the run: its packages are "
                                         "read there (host.packages, read-only)")

    @model_validator(mode="after")
    def _one_reference(self) -> DriftArgs:
        if (self.reference is None) == (self.reference_target is None):
            raise ValueError("give exactly one of reference and reference_target")
        return self


def drift(manager: Manager, here: dict[str, str], there: dict[str, str]) -> dict[str, Any]:
    """Per package: only here, only there, older here, newer here."""
    common = sorted(set(here) & set(there))
    rows = [{"name": n, "here": here[n], "there": there[n]} for n in common
            if compare(manager, here[n], there[n]) != 0]
    older = [r for r in rows if compare(manager, r["here"], r["there"]) < 0]
    return {"only_here": sorted(set(here) - set(there)),
            "only_there": sorted(set(there) - set(here)),
            "older_here": older,
            "newer_here": [r for r in rows if r not in older],
            "drifting": len(rows) + len(set(here) ^ set(there)),
            "updates": {r["name"]: r["there"] for r in older}}


class PackageDrift(Action[DriftArgs]):
    """argv: the `host.packages` query on this target; the reference is a mapping
    (from `host.packages` on the reference host) or, with `reference_target`, the
    same query run on that target of the run through the runtime's read-only
    view of it (`runtime.executor_for`: probes only). Each older or newer
    package is a finding that names both versions."""

    name = "host.package_drift"
    summary = "this host's packages against a reference host's: only-here/-there, older/newer"
    Args = DriftArgs
    result_fields = {
        "only_here": "[names installed here only]",
        "only_there": "[names installed on the reference only]",
        "older_here": "[{name, here, there}] older here",
        "newer_here": "[{name, here, there}] newer here",
        "drifting": "how many packages differ in any way",
        "updates": "{name: the reference's version} of the packages older here (the "
                   "`versions` of host.package_update)",
    }

    def commands(self, args: DriftArgs) -> list[list[str]]:
        return [query_argv(args.manager)]

    def run(self, args: DriftArgs, ctx: ActionContext) -> Any:
        here = select(parse_query(ctx.exec(query_argv(args.manager)).stdout), args.names)
        found = drift(args.manager, here, select(_reference(args, ctx), args.names))
        for row in found["older_here"] + found["newer_here"]:
            word = "older" if row in found["older_here"] else "newer"
            ctx.finding("warning", f"{row['name']} {row['here']} is {word} than the "
                        f"reference's {row['there']}", evidence=row,
                        next_step="update to the reference's version (host.package_update)")
        return found


def _reference(args: DriftArgs, ctx: ActionContext) -> dict[str, str]:
    """The reference's packages: given, or read on the reference target (read-only)."""
    if args.reference is not None:
        return args.reference
    if ctx.runtime is None:
        raise StepError("reference_target needs a run around the action", step=ctx.step)
    there = ctx.runtime.executor_for(str(args.reference_target), ctx.step)
    packages: dict[str, str] = there.probe("host.packages",
                                           {"manager": args.manager})["packages"]
    return packages


class UpdateArgs(Args):
    versions: dict[str, str] = Field(min_length=1, description="{name: version} to install "
                                     "(e.g. the reference's, from host.packages)")
    manager: Manager = Field(default="rpm", description="rpm (yum) or dpkg (apt-get)")
    downgrade: bool = Field(default=False, description="allow going to older versions "
                                                       "(what a rollback does)")

    def install_argv(self) -> list[str]:
        items = sorted(self.versions.items())
        if self.manager == "dpkg":
            extra = ["--allow-downgrades"] if self.downgrade else []
            return ["apt-get", "install", "-y", *extra, *(f"{n}={v}" for n, v in items)]
        verb = "downgrade" if self.downgrade else "install"
        return ["yum", "-y", verb, *(f"{n}-{v}" for n, v in items)]


class PackageUpdate(Action[UpdateArgs]):
    """argv: the versions before (`rpm -q --qf ... NAMES`), `yum -y install NAME-VERSION...`
    (`yum -y downgrade` with `downgrade: true`; `apt-get install -y NAME=VERSION` on
    dpkg), then the versions after, which must be the asked ones.

    `rollback: auto` goes back to the captured versions with `downgrade: true`;
    when a package was not installed before there is no automatic rollback.
    A downgrade the package manager refuses fails the rollback, which leaves
    its exact command to run by hand.
    """

    name = "host.package_update"
    summary = "install given package versions (yum/apt-get); rollback: auto downgrades"
    Args = UpdateArgs
    mutating = True
    idempotent = True
    result_fields = {"before": "{name: version} before", "after": "{name: version} after",
                     "changed": "[names whose version changed]"}

    def _query(self, args: UpdateArgs) -> list[str]:
        return query_argv(args.manager, sorted(args.versions))

    def commands(self, args: UpdateArgs) -> list[list[str]]:
        return [self._query(args), args.install_argv(), self._query(args)]

    def run(self, args: UpdateArgs, ctx: ActionContext) -> Any:
        before = parse_query(ctx.exec(self._query(args), check=False).stdout)
        ctx.exec(args.install_argv())
        after = parse_query(ctx.exec(self._query(args), check=False).stdout)
        wrong = [n for n, v in args.versions.items()
                 if n not in after or compare(args.manager, after[n], v) != 0]
        if wrong:
            raise StepError("after the update " + ", ".join(
                f"{n} is {after.get(n, 'not installed')}, not {args.versions[n]}"
                for n in wrong), step=ctx.step)
        return {"before": before, "after": after,
                "changed": sorted(n for n in after if before.get(n) != after[n])}

    def capture(self, args: UpdateArgs, ctx: ActionContext) -> Any:
        return parse_query(ctx.exec(self._query(args), check=False).stdout)

    def inverse(self, args: UpdateArgs, captured: Any) -> Invocation | None:
        if not isinstance(captured, dict) or set(args.versions) - set(captured):
            return None
        back = {n: captured[n] for n in args.versions if captured[n] != args.versions[n]}
        if not back:
            return None
        return Invocation(self.name, {"versions": back, "manager": args.manager,
                                      "downgrade": True})
