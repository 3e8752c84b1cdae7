"""cniqs: the workshop tool. `cniqs demo` shows a pod reporting a fake IP while it really has another.

    cniqs demo [--provider auto|local|kube|kind] [--keep] [--kind-egress internet|ci]  the whole demo
    cniqs up [--provider ...] [--k8s-version X.Y]       a node (local) or cluster (kube, kind) that stays up
    cniqs install [--mode fixed|translate] [--force] [--daemonset]  chain cni-quickstart into the CNI config
    cniqs run POD                                      start a pod (kind: alpine, local: busybox)
    cniqs reveal POD [--json]                          reported IP vs real eth0, plugin log, connectivity
    cniqs uninstall                                    remove only what install added
    cniqs status                                       what is up, and how to look at it by hand
    cniqs down                                         tear the node or cluster down, leaving nothing behind

Not named cni-quickstart: that is the plugin's CNI type and executable on a node.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack

from cniqs import providers
from cniqs.cli import arguments, reveal, session, state
from cniqs.cli.console import Console, elapsed
from cniqs.cli.errorline import describe_error
from cniqs.cli.session import CliError
from cniqs.common.signals import interrupt_on_termination
from cniqs.install.conflist import INSTALLED_NAME, chain_entry, prev_result_risks
from cniqs.provider import Backend, Pod, Provider
from cniqs.providers.cluster.options import K8S_VERSION
from cniqs.providers.kind.options import EGRESS as KIND_EGRESS

DEMO_POD = "test"


def build_parser() -> arguments.Parser:
    parser = arguments.Parser(
        prog="cniqs",
        description="Workshop tool of cni-quickstart: a chained CNI plugin that makes Kubernetes report a fake pod IP.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", default=False, help="print every command cniqs runs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser("demo", help="up, install, run pod `test`, reveal it, down: the whole demo")
    arguments.provider(demo)
    demo.add_argument("--keep", action="store_true", help="leave the node or cluster up (then: cniqs reveal/down)")
    demo.add_argument("--json", action="store_true", help="print the reveal as JSON")
    demo.set_defaults(func=cmd_demo)

    up = sub.add_parser("up", help="bring a node (local) or cluster (kube, kind) up and leave it running")
    arguments.provider(up)
    up.set_defaults(func=cmd_up)

    install = sub.add_parser("install", help="chain cni-quickstart into the node's CNI config")
    install.add_argument("--mode", choices=("fixed", "translate"), default=None, help="default: the conflist's")
    install.add_argument(
        "--force",
        action="store_true",
        help="install even into a chain whose plugins act on the rewritten result at DEL or CHECK (cniVersion 0.4.0+)",
    )
    install.set_defaults(func=cmd_install)

    install.add_argument(
        "--daemonset",
        action="store_true",
        help="install with the installer DaemonSet (kube and kind: any cluster, nodes that join later too)",
    )
    uninstall = sub.add_parser("uninstall", help="remove what install added; new pods report their real IP")
    uninstall.add_argument("--daemonset", action="store_true", help="remove the installer DaemonSet (and its work)")
    uninstall.set_defaults(func=cmd_uninstall)

    run = sub.add_parser("run", help="start a pod and wait until it runs")
    run.add_argument("pod", metavar="POD", help="pod name")
    run.set_defaults(func=cmd_run)

    reveal = sub.add_parser("reveal", help="what is reported about a pod next to what it really has")
    reveal.add_argument("pod", metavar="POD", help="pod name")
    reveal.add_argument("--json", action="store_true", help="machine-readable output")
    reveal.set_defaults(func=cmd_reveal)

    status = sub.add_parser("status", help="what cniqs has up, and how to look at it by hand")
    status.set_defaults(func=cmd_status)

    down = sub.add_parser("down", help="tear down what `cniqs up` started")
    down.set_defaults(func=cmd_down)

    for p in (demo, up, install, uninstall, run, reveal, status, down):
        arguments.verbose(p)
    return parser


def _current() -> state.State:
    current = state.load()
    if current is None:
        raise CliError("nothing is up: run `cniqs up` first (or `cniqs demo` for the whole demo)")
    return current


def _with_backend(ui: Console, action: Callable[[Backend], int]) -> int:
    backend = session.attach(_current())
    try:
        return action(backend)
    finally:
        backend.close()


def _pick(ui: Console, requested: str | None) -> Provider:
    """The provider asked for (or chosen), with everything it needs here."""
    name, why = session.choose_provider(requested)
    ui.note(f"cniqs: using the {name} provider ({why})")
    provider = providers.get(name)
    session.ensure(provider, ui.note, ui.step)
    return provider


def provider_values(args: argparse.Namespace, provider: Provider) -> dict[str, str]:
    """The provider options given on the command line, by flag (RunOptions.values); CliError when an option
    is not the chosen provider's."""
    values = {}
    if getattr(args, "kind_egress", None) is not None:
        if provider.name != "kind":
            raise CliError(
                f"{KIND_EGRESS} is for the kind provider, and this run uses the {provider.name} provider "
                "(its pods reach a stand-in host of their own): drop it, or add --provider kind"
            )
        values[KIND_EGRESS] = args.kind_egress
    version = getattr(args, "k8s_version", None)
    if version is not None:
        if not any(option.flag == K8S_VERSION.flag for option in provider.options()):
            raise CliError(
                f"{K8S_VERSION.flag} is for the kind and kube providers, and this run uses the {provider.name} "
                "provider (its node runs no Kubernetes): drop it, or add --provider kind"
            )
        if version.strip() in ("", "all"):
            raise CliError(
                f"{K8S_VERSION.flag} {version!r}: cniqs brings up one cluster, so name one Kubernetes minor "
                "(e.g. 1.36); 'all' is the suite's, one run per version"
            )
        values[K8S_VERSION.flag] = version
    return values


def _record(current: state.State) -> None:
    """Save the state file; a node that cannot be recorded is not left running unknown."""
    try:
        state.save(current)
    except BaseException:
        session.down(current)
        raise


def _say(ui: Console) -> Callable[[str], None]:
    """Notices from the providers (teardown problems), each on one line."""
    return lambda text: ui.note("cniqs: " + " ".join(text.split())[:500])


def install_risks(b: Backend) -> list[str]:
    """Per node, what the rewritten result breaks in the chain it is installed into (cniqs.install.conflist)."""
    return [f"{node}: {risk}" for node in b.nodes for risk in prev_result_risks(b.active_chain(node))]


def _install(ui: Console, b: Backend, mode: str | None = None, force: bool = False) -> None:
    _check_risks(ui, b, force)
    with ui.step(f"Installing cni-quickstart ({INSTALLED_NAME}: kindnet's chain + cni-quickstart)"):
        b.install(chain_entry(mode=mode))


def _check_risks(ui: Console, b: Backend, force: bool) -> None:
    risks = install_risks(b)
    if risks and not force:
        raise CliError(
            "the chain cni-quickstart would join hands its result (the fake IP) to plugins that act on it: "
            + "; ".join(risks)
            + ". A teaching cluster can live with that: run `cniqs install --force`. Never on a cluster you keep."
        )
    for risk in risks:
        ui.note(f"cniqs: installing anyway (--force): {risk}")


def _run_pod(ui: Console, b: Backend, name: str) -> Pod:
    if b.find_pod(name) is not None:
        raise CliError(f"a pod named {name!r} exists already: reveal it, or pick another name")
    with ui.step(f"Starting pod {name} and waiting until it runs"):
        return b.run_pod(name)


def _print_reveal(ui: Console, b: Backend, pod: Pod, as_json: bool) -> bool:
    with ui.step(f"Looking at pod {pod.name}: reported IP, ip a s eth0, plugin log, connectivity"):
        found = reveal.gather(b, pod)
    ui.print(json.dumps(found.as_json(), indent=2) if as_json else reveal.render(found))
    return found.shows_the_trick


def cmd_demo(args: argparse.Namespace, ui: Console) -> int:
    started = time.monotonic()
    provider = _pick(ui, args.provider)
    values = provider_values(args, provider)
    if args.keep:
        current = state.load()
        if current is not None:
            raise CliError(f"{session.describe(current)} is up already: run `cniqs down` first, or drop --keep")
        with ui.step(provider.up_message(args.name)):
            current = session.up(provider, name=args.name, workdir=state.state_dir(), say=_say(ui), values=values)
            _record(current)
        b = session.attach(current)
        try:
            shown = _demo_steps(ui, b, args.json)
        finally:
            b.close()
            ui.note(f"cniqs: {session.describe(current)} kept: look with `cniqs reveal {DEMO_POD}` or `cniqs status`; "
                    "end with `cniqs down`")  # fmt: skip
    else:
        with ExitStack() as stack:
            with ui.step(provider.up_message(args.name)):
                b = stack.enter_context(
                    session.temporary(provider, name=args.name, workdir=state.state_dir(), say=_say(ui), values=values)
                )
            try:
                shown = _demo_steps(ui, b, args.json)
            finally:
                with ui.step("Tearing down (nothing is left behind)"):
                    stack.close()
    ui.note(f"cniqs: demo finished in {elapsed(time.monotonic() - started)}")
    if not shown:
        raise CliError("the demo did not show a rewritten IP with a working network: see the verdict above")
    return 0


def _demo_steps(ui: Console, b: Backend, as_json: bool) -> bool:
    _install(ui, b)
    pod = _run_pod(ui, b, DEMO_POD)
    return _print_reveal(ui, b, pod, as_json)


def cmd_up(args: argparse.Namespace, ui: Console) -> int:
    current = state.load()
    if current is not None:
        raise CliError(f"{session.describe(current)} is up already: use it, or run `cniqs down` first")
    provider = _pick(ui, args.provider)
    values = provider_values(args, provider)
    with ui.step(provider.up_message(args.name)):
        current = session.up(provider, name=args.name, workdir=state.state_dir(), say=_say(ui), values=values)
        _record(current)
    ui.print(f"{session.describe(current)} is up.")
    for line in provider.hints(current):
        ui.print(line)
    ui.print("Next: cniqs install; cniqs run test; cniqs reveal test; cniqs down")
    return 0


def cmd_install(args: argparse.Namespace, ui: Console) -> int:
    def act(b: Backend) -> int:
        if args.daemonset:
            _check_risks(ui, b, args.force)
            with ui.step("Building the installer image, loading it on every node, waiting for the DaemonSet"):
                image = b.install_daemonset(chain_entry(mode=args.mode))
            ui.print(f"cni-quickstart installed by DaemonSet kube-system/cniqs-installer ({image}) on "
                     f"{', '.join(b.nodes)}: new pods report {_fake(args.mode)}.")  # fmt: skip
            return 0
        _install(ui, b, args.mode, force=args.force)
        ui.print(f"cni-quickstart installed on {', '.join(b.nodes)}: new pods report {_fake(args.mode)}.")
        return 0

    return _with_backend(ui, act)


def _fake(mode: str | None) -> str:
    entry = chain_entry(mode=mode)
    if entry.get("mode") == "translate":
        return f"their real host bits inside {entry['fakeIPv4']}"
    return str(entry["fakeIPv4"]).split("/")[0]


def cmd_uninstall(args: argparse.Namespace, ui: Console) -> int:
    def act(b: Backend) -> int:
        if args.daemonset:
            with ui.step("Deleting the DaemonSet; each installer pod removes what it added as it stops"):
                b.uninstall_daemonset()
            ui.print("cni-quickstart uninstalled from every node: new pods report their real IP again.")
            return 0
        with ui.step("Removing cni-quickstart's conflist and waiting until containerd loads the old chain"):
            b.uninstall()
        ui.print("cni-quickstart uninstalled: new pods report their real IP again.")
        return 0

    return _with_backend(ui, act)


def cmd_run(args: argparse.Namespace, ui: Console) -> int:
    def act(b: Backend) -> int:
        pod = _run_pod(ui, b, args.pod)
        ui.print(f"pod {pod.namespace}/{pod.name} runs on {pod.node}. Next: cniqs reveal {pod.name}")
        return 0

    return _with_backend(ui, act)


def cmd_reveal(args: argparse.Namespace, ui: Console) -> int:
    def act(b: Backend) -> int:
        _print_reveal(ui, b, session.find_pod(b, args.pod), args.json)
        return 0

    return _with_backend(ui, act)


def cmd_status(args: argparse.Namespace, ui: Console) -> int:
    current = _current()
    ui.print(f"{session.describe(current)} is recorded in {state.path()}")

    def act(b: Backend) -> int:
        ui.print("pods: " + (", ".join(p.name for p in b.pods()) or "none"))
        ui.print(b.how_to_poke())
        return 0

    return _with_backend(ui, act)


def cmd_down(args: argparse.Namespace, ui: Console) -> int:
    current = state.load()
    if current is None:
        ui.print("nothing is up.")
        return 0
    with ui.step(f"Tearing down {session.describe(current)}"):
        problems = session.down(current)
    if problems:
        raise CliError(f"teardown left problems: {'; '.join(problems)}; the state stays in {state.path()}")
    state.clear()
    ui.print(f"{session.describe(current)} is gone.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ui = Console(verbose=bool(getattr(args, "verbose", False)))
    if ui.verbose:
        os.environ["CNIQS_VERBOSE"] = "1"  # long builds show their own output too (cniqs.ship.build)
    try:
        # SIGTERM and SIGHUP (a closed terminal) unwind like Ctrl-C: whatever was being started is torn down.
        with interrupt_on_termination():
            return int(args.func(args, ui))
    except KeyboardInterrupt:
        ui.error("interrupted; what this command was starting is torn down (`cniqs status` shows what is still up)")
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line, never a traceback
        ui.error(describe_error(exc))
        if os.environ.get("CNIQS_DEBUG"):
            import traceback

            traceback.print_exc(file=ui.err)
        return 1
    finally:
        ui.close()


if __name__ == "__main__":
    raise SystemExit(main())
