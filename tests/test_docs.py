"""The documentation's links: every relative link in README.md, docs/*.md, CONTRIBUTING.md and
bench/README.md points at a file that exists and, with a ``#fragment``, at a heading of it (as
GitHub names its anchors). Examples the docs show are tested beside the features they show
(``tests.support.docs_example``)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from .support import REPO, docs_example

# Pages other branches write; linked from the README before they are merged. Once a page exists
# its links and anchors are checked like any other.
PENDING_PAGES: set[str] = set()  # pages linked before they are written (none now)

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]+`")
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)


def pages() -> list[Path]:
    found = [REPO / "README.md", REPO / "CONTRIBUTING.md", REPO / "bench" / "README.md"]
    return [p for p in found if p.exists()] + sorted((REPO / "docs").glob("*.md"))


def prose(text: str) -> str:
    """The text without code: links in code blocks and spans are examples, not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, code marks and punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    names = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        name = anchor(heading)
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.add(name if count == 0 else f"{name}-{count}")
    return names


def relative_links(page: Path) -> list[str]:
    links = LINK.findall(prose(page.read_text(encoding="utf-8")))
    return [link for link in links if not re.match(r"[a-z][a-z0-9+.-]*:", link)]


def test_there_are_pages_and_links_to_check():
    assert len(pages()) > 10
    assert sum(len(relative_links(page)) for page in pages()) > 50


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_points_at_a_file_and_heading_that_exist(page: Path):
    broken = []
    for link in relative_links(page):
        path, _, fragment = link.partition("#")
        target = (page.parent / unquote(path)).resolve() if path else page
        name = target.relative_to(REPO).as_posix() if target.is_relative_to(REPO) else str(target)
        if not target.exists():
            if name not in PENDING_PAGES:
                broken.append(f"{link}: no file {name}")
            continue
        if fragment and target.suffix == ".md" and fragment not in anchors(target):
            broken.append(f"{link}: no heading #{fragment} in {name}")
    assert not broken, f"{page.relative_to(REPO)}: " + "; ".join(broken)


def test_anchors_are_named_as_github_names_them():
    assert anchor("Restarts lose nothing: `--state-file`") == "restarts-lose-nothing---state-file"
    assert anchor("Usage and the wallet (2026-08-22)") == "usage-and-the-wallet-2026-08-22"
    assert anchor("Security: what the sandbox trusts") == "security-what-the-sandbox-trusts"


def test_ci_runs_the_readmes_test_command_verbatim():
    command = docs_example("README.md", "test-command")
    assert "\n" not in command and "python -m pytest" in command
    assert command in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
