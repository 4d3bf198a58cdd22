"""Decide whether this Python environment already has what a component would ``pip install``.

A lightweight KFP component compiles to a shell command that installs its packages before
it runs, for example::

    sh -c 'python3 -m pip install --quiet --no-warn-script-location
           'kfp==2.7.0' '--no-deps' 'typing-extensions>=3.7.4,<5; python_version<"3.9"'
           && "$0" "$@"' sh -ec '...' '<component source>'

Running that install for every task would make a local run slow and need the network, so
the engine reads the requirements out of the command and skips the install when the
current interpreter satisfies them (or, when allowed, runs the task in a cached virtual
environment made by the same installs, :func:`pip_installs`, one by one).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import os
import re
import shlex
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

__all__ = [
    "PipInstall",
    "Unsatisfied",
    "pip_installs",
    "pip_requirements",
    "requirement_set_key",
    "unsatisfied",
]

_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh"})
_PIP = re.compile(r"pip(\d+(\.\d+)?)?")
# shlex returns runs of these as operator tokens (&&, ||, ;, newline, redirections...);
# each one ends the simple command that a pip install sits in.
_SHELL_PUNCTUATION = "();<>|&\n"
# pip install options that take a value in the next word; the value is not a requirement.
_OPTIONS_WITH_VALUE = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--trusted-host",
        "-c",
        "--constraint",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--src",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--upgrade-strategy",
        "--progress-bar",
        "--cache-dir",
        "--log",
        "--log-file",
        "--proxy",
        "--retries",
        "--timeout",
        "--exists-action",
        "--cert",
        "--client-cert",
        "--global-option",
        "-C",
        "--config-settings",
        "--no-binary",
        "--only-binary",
        "--report",
        "--python",
        "--keyring-provider",
        "--root-user-action",
        "--use-feature",
        "--use-deprecated",
    }
)
_REQUIREMENT_FILE_OPTIONS = frozenset({"-r", "--requirement"})
_EDITABLE_OPTIONS = frozenset({"-e", "--editable"})
_VALUE_OPTIONS = _OPTIONS_WITH_VALUE | _REQUIREMENT_FILE_OPTIONS | _EDITABLE_OPTIONS
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2")
_URL_OR_PATH_REASON = "a URL or path; install it yourself or allow installs"
_REQUIREMENTS_FILE_REASON = "a requirements file; install it yourself or allow installs"


@dataclass(frozen=True)
class Unsatisfied:
    """A requirement this environment does not meet, and why (shown to the user as is)."""

    requirement: str
    reason: str


@dataclass(frozen=True)
class PipInstall:
    """One ``pip install`` of a command: its words after ``install`` (options kept, quotes
    removed) and the requirements among them."""

    words: tuple[str, ...]
    requirements: tuple[str, ...]


def pip_installs(command: list[str]) -> list[PipInstall]:
    """Every ``pip install`` of a container command, in the order it runs them.

    KFP compiles a component's packages and kfp itself as two installs, the packages first
    and then kfp with ``--no-deps``, so pip never resolves them together: a pin such as
    ``google-cloud-storage==1.31.2``, which kfp's own dependencies exclude, still installs
    on a cluster. Installing them here takes the same steps. A repeat of the same
    requirements (KFP v1's ``|| pip install ... --user`` fallback) is left out.
    """
    return list(_pip_installs(tuple(command)))


@functools.lru_cache(maxsize=256)
def _pip_installs(command: tuple[str, ...]) -> tuple[PipInstall, ...]:
    steps: list[PipInstall] = []
    for tokens in [command, *map(_shell_tokens, _shell_scripts(command))]:
        for arguments in _pip_install_arguments(tokens):
            wanted = tuple(_requirement_words(arguments))
            if wanted and all(step.requirements != wanted for step in steps):
                steps.append(PipInstall(tuple(arguments), wanted))
    return tuple(steps)


def pip_requirements(command: list[str]) -> list[str]:
    """The requirements of every ``pip install`` in a container command.

    Looks at the scripts passed to a shell with ``-c`` (how KFP writes them) and at the
    words themselves (a command such as ``["pip", "install", "x"]``). The component's
    Python source, which KFP also passes as a word, is not read, so a ``pip install`` in a
    docstring there does not count.

    Args:
        command: The container's command words, optionally followed by its args.

    Returns:
        Requirement strings without quotes and without pip options, in order of first
        appearance and without repeats (KFP v1 commands repeat them in a ``--user``
        fallback). A requirements file appears as ``"-r FILE"``.
    """
    return list(_pip_requirements(tuple(command)))


@functools.lru_cache(maxsize=256)
def _pip_requirements(command: tuple[str, ...]) -> tuple[str, ...]:
    # Cached: a loop runs the same component (the same command) many times.
    found: dict[str, None] = {}
    for tokens in [command, *map(_shell_tokens, _shell_scripts(command))]:
        for arguments in _pip_install_arguments(tokens):
            found.update(dict.fromkeys(_requirement_words(arguments)))
    return tuple(found)


def unsatisfied(requirements: list[str]) -> list[Unsatisfied]:
    """The requirements that the running interpreter's installed distributions do not meet.

    A requirement whose environment marker is false here (``; python_version<"3.9"``) is
    met, since pip would skip it too. Any installed kfp 2.x meets a ``kfp==2.y.z`` pin,
    because the component executor KFP ships is the same across 2.x; kfp 1.x does not.
    Extras are not followed: ``pkg[extra]`` is met when ``pkg`` is.

    Args:
        requirements: Requirement strings, e.g. from :func:`pip_requirements`.

    Returns:
        One :class:`Unsatisfied` per requirement not met, in the order given.
    """
    problems = (_check(requirement) for requirement in requirements)
    return [problem for problem in problems if problem is not None]


def requirement_set_key(requirements: list[str]) -> str:
    """A short stable name for a set of requirements, to name a cached virtual environment.

    Order, repeats, spacing and name spelling (``Scikit_Learn`` vs ``scikit-learn``) do not
    change the key, so components that need the same packages share one environment.

    Returns:
        The first 16 hex digits of the SHA-256 of the sorted, normalised requirements.
    """
    normalised = sorted({_normalise(requirement) for requirement in requirements})
    return hashlib.sha256("\n".join(normalised).encode()).hexdigest()[:16]


# --- reading commands -----------------------------------------------------------------


def _shell_scripts(words: Sequence[str]) -> Iterator[str]:
    """Yield the script of each ``sh -c SCRIPT`` (or ``bash -ec SCRIPT``, ...) in ``words``."""
    for index, word in enumerate(words):
        if os.path.basename(word) not in _SHELLS:
            continue
        position = index + 1
        takes_script = False
        while position < len(words) and words[position].startswith("-"):
            option = words[position]
            takes_script |= not option.startswith("--") and "c" in option[1:]
            position += 1
        if takes_script and position < len(words):
            yield words[position]


def _shell_tokens(script: str) -> list[str]:
    """Split a script into words and operators as ``sh`` would, removing quotes."""
    lexer = shlex.shlex(
        script.replace("\\\n", ""), posix=True, punctuation_chars=_SHELL_PUNCTUATION
    )
    lexer.whitespace = " \t\r"  # newline ends a command, so it must stay a token
    lexer.commenters = ""  # shlex would cut "a#b" at "#"; comments are dropped below
    lexer.whitespace_split = True
    return list(lexer)


def _pip_install_arguments(tokens: Sequence[str]) -> Iterator[list[str]]:
    """Yield the words after each ``pip install`` up to the end of that shell command."""
    for index in range(1, len(tokens)):
        if tokens[index] == "install" and _PIP.fullmatch(os.path.basename(tokens[index - 1])):
            yield list(_command_words(tokens[index + 1 :]))


def _command_words(tokens: Sequence[str]) -> Iterator[str]:
    for token in tokens:
        if _is_operator(token) or token.startswith("#"):
            return
        yield token


def _is_operator(token: str) -> bool:
    return bool(token) and all(char in _SHELL_PUNCTUATION for char in token)


def _requirement_words(arguments: list[str]) -> Iterator[str]:
    """Drop pip's options (and their values) from the words after ``install``."""
    words = iter(arguments)
    for word in words:
        if not word.startswith("-"):
            yield word
            continue
        option, value = _split_option(word)
        if value is None and option in _VALUE_OPTIONS:
            value = next(words, None)
        if value is not None and option in _REQUIREMENT_FILE_OPTIONS:
            yield f"-r {value}"
        elif value is not None and option in _EDITABLE_OPTIONS:
            yield value


def _split_option(word: str) -> tuple[str, str | None]:
    """``--index-url=U`` -> (``--index-url``, U); ``-rFILE`` -> (``-r``, FILE); flags -> None."""
    if word.startswith("--"):
        option, equals, value = word.partition("=")
        return option, value if equals else None
    if len(word) > 2 and word[:2] in _VALUE_OPTIONS:
        return word[:2], word[2:]
    return word, None


# --- checking the environment ---------------------------------------------------------


def _canonical(name: str) -> str:
    """PEP 503's normalised name (as ``packaging.utils.canonicalize_name``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# A plain ``name`` or ``name<specifiers>`` line, as most of KFP's are (``kfp==2.17.3``): read
# without packaging.requirements, whose markers import packaging.tags (~20 ms a run).
_SPEC = r"(?:===|[<>=!~]=?)\s*[^\s,;\[\]@()]+"
_PLAIN = re.compile(
    rf"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*({_SPEC}(?:\s*,\s*{_SPEC})*)?\s*"
)


@dataclass(frozen=True)
class _Parsed:
    name: str
    specifier: SpecifierSet
    url: str | None = None
    applies: bool = True  # False: its environment marker is false here


def _parse(text: str) -> _Parsed:
    """Raises ValueError (packaging's InvalidRequirement) for what is no requirement."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    plain = _PLAIN.fullmatch(text)
    if plain is not None:
        with contextlib.suppress(InvalidSpecifier):
            return _Parsed(plain[1], SpecifierSet(plain[2] or ""))
    from packaging.requirements import Requirement

    requirement = Requirement(text)
    marker = requirement.marker
    return _Parsed(
        requirement.name,
        requirement.specifier,
        requirement.url,
        marker is None or bool(marker.evaluate()),
    )


def _installed_version(name: str) -> str | None:
    """The installed version of distribution ``name``; the first on ``sys.path`` wins, as
    in import. Looked up by name only (reading every distribution's metadata would cost a
    few hundred milliseconds), and cached per ``sys.path``: a run asks again for every task.
    """
    return _installed_on(_canonical(name), tuple(sys.path))


@functools.lru_cache(maxsize=1024)
def _installed_on(name: str, path: tuple[str, ...]) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _check(text: str) -> Unsatisfied | None:
    if text.startswith("-r "):
        return Unsatisfied(text, _REQUIREMENTS_FILE_REASON)
    if _is_url_or_path(text):
        return Unsatisfied(text, _URL_OR_PATH_REASON)
    try:
        requirement = _parse(text)
    except ValueError as exc:  # packaging's InvalidRequirement
        return Unsatisfied(text, f"not a valid requirement: {str(exc).splitlines()[0]}")
    if requirement.url:
        return Unsatisfied(text, _URL_OR_PATH_REASON)
    if not requirement.applies:
        return None
    version = _installed_version(requirement.name)
    if version is None:
        return Unsatisfied(text, "not installed")
    if _version_meets(requirement, version):
        return None
    return Unsatisfied(text, f"installed {version} does not satisfy {requirement.specifier}")


def _version_meets(requirement: _Parsed, version: str) -> bool:
    if _is_kfp_2_pin(requirement, version):
        return True
    # An installed pre-release counts, as in `pip check`; only resolving a new install
    # skips them by default.
    return requirement.specifier.contains(version, prereleases=True)


def _is_kfp_2_pin(requirement: _Parsed, version: str) -> bool:
    """True for ``kfp==2.y.z`` with some kfp 2.x installed: any 2.x runs a 2.x component."""
    from packaging.version import InvalidVersion, Version

    if _canonical(requirement.name) != "kfp" or not requirement.specifier:
        return False
    try:
        installed_major = Version(version).major
    except InvalidVersion:
        return False
    return installed_major == 2 and all(
        spec.operator in ("==", "===") and spec.version.startswith("2.")
        for spec in requirement.specifier
    )


def _is_url_or_path(text: str) -> bool:
    if "://" in text or text.startswith(("git+", "hg+", "svn+", "bzr+", "file:")):
        return True
    if text.startswith((".", "/", "~")) or text.endswith(_ARCHIVE_SUFFIXES):
        return True
    name_part = text.split(";")[0]
    return "/" in name_part or "\\" in name_part


def _normalise(text: str) -> str:
    """One spelling per requirement: canonical name, sorted extras and specifiers."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return text.strip()
    requirement.name = _canonical(requirement.name)
    return str(requirement)
