"""The providers, by name: each implements cniqs.provider.Provider in full.

Each is loaded when it is asked for, so using one never imports another's client libraries. The local and kube
providers' libraries (gRPC and the CRI API, cryptography) come with an extra of the package named after the
provider (pyproject.toml): `pip install .` alone drives kind, and asking for a provider whose extra is missing
raises MissingExtra, whose message names the extra.
"""

from __future__ import annotations

from collections.abc import Callable

from cniqs.provider import Provider


def _local() -> Provider:
    from cniqs.providers.local.provider import LocalProvider

    return LocalProvider()


def _kind() -> Provider:
    from cniqs.providers.kind.provider import KindProvider

    return KindProvider()


def _kube() -> Provider:
    from cniqs.providers.kube.provider import KubeProvider

    return KubeProvider()


PROVIDERS: dict[str, Callable[[], Provider]] = {"local": _local, "kube": _kube, "kind": _kind}
NAMES = tuple(PROVIDERS)

# The extra (pyproject.toml) that brings a provider's client libraries, and the modules it brings.
LOCAL_MODULES = ("grpc", "google.protobuf", "cri_api")
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "local": ("local", LOCAL_MODULES),
    "kube": ("kube", (*LOCAL_MODULES, "cryptography")),
}


class MissingExtra(ImportError):
    """A provider's client libraries are not installed: the message is one line naming the extra to install."""


def missing_extra(name: str, exc: ImportError) -> MissingExtra | None:
    """The error for provider name when exc is one of its extra's modules not found; None for any other."""
    extra, modules = EXTRAS.get(name, ("", ()))
    missing = exc.name or ""
    if not (isinstance(exc, ModuleNotFoundError) and missing):
        return None
    if not any(missing == m or missing.startswith(m + ".") or m.startswith(missing + ".") for m in modules):
        return None
    return MissingExtra(
        f"the {name} provider needs the Python module {missing}, which the package installs only with its "
        f"{extra!r} extra: pip install 'cni-quickstart[{extra}]' (in a checkout: pip install -e '.[{extra}]')",
        name=missing,
    )


def get(name: str) -> Provider:
    """The provider called name; ValueError naming the known ones when there is none, MissingExtra when its
    extra is not installed."""
    try:
        make = PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}; choose one of {', '.join(NAMES)}") from None
    try:
        return make()
    except ImportError as exc:
        if (error := missing_extra(name, exc)) is None:
            raise
        raise error from exc
