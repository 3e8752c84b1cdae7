"""The providers, by name: each implements cniqs.provider.Provider in full.

Each is loaded when it is asked for, so using one never imports another's client libraries.
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


def get(name: str) -> Provider:
    """The provider called name; ValueError naming the known ones when there is none."""
    try:
        make = PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}; choose one of {', '.join(NAMES)}") from None
    return make()
