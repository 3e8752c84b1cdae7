"""Every relative link in README.md and docs/*.md leads somewhere: the file exists and, for `#anchor`, a heading
of that file has that GitHub slug."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^ *```.*?^ *```", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")


def pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def prose(text: str) -> str:
    """The Markdown outside code blocks and code spans (a link shown as code is not a link)."""
    return CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, each space a hyphen."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a page's headings; a repeated slug gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", FENCE.sub("", text), re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken(page: Path, text: str) -> list[str]:
    """The relative links of page (its text) whose file or heading does not exist, each with the reason."""
    problems = []
    for target in LINK.findall(prose(text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            problems.append(f"{target}: no file {dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text() if path else text):
            problems.append(f"{target}: {dest.name} has no heading #{anchor}")
    return problems


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken(page, page.read_text()) == []


def test_readme_links_each_docs_page() -> None:
    linked = {target.partition("#")[0] for target in LINK.findall(prose((REPO / "README.md").read_text()))}
    assert [p.name for p in pages()[1:] if f"docs/{p.name}" not in linked] == []


def test_a_missing_file_or_heading_is_found() -> None:
    page = REPO / "README.md"
    text = "# Top\n\n## Gotchas: kind `nodes`\n\n[a](#top) [b](#gotchas-kind-nodes) [c](#nope) [d](docs/nope.md)\n"
    text += "`[e](#in-code)`\n```\n[f](nope.md)\n```\n[g](https://example.com/x) [h](tox.ini)\n"
    assert broken(page, text) == [
        f"#nope: {page.name} has no heading #nope",
        f"docs/nope.md: no file {REPO / 'docs' / 'nope.md'}",
    ]


def test_slugs_are_githubs() -> None:
    assert (
        slug("The kube provider: a real Kubernetes on this machine")
        == "the-kube-provider-a-real-kubernetes-on-this-machine"
    )
    assert slug("kind on Docker, `podman`") == "kind-on-docker-podman"
    assert anchors("## Builds\n### Builds\n") == {"builds", "builds-1"}
