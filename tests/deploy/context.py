"""What the deployment tests share: the repository's paths, the Docker build context as
.dockerignore leaves it, and the Dockerfile's stages."""
from __future__ import annotations

import io
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match plus `**`) as a regular expression."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            if i < len(pattern) and pattern[i] == "/":
                out[-1] = "(?:.*/)?"
                i += 1
            continue
        end = pattern.find("]", i + 1) if c == "[" else -1
        if end > i:  # a character class, `[!...]` or `[^...]` negated
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body[:1] in ("!", "^") else body) + "]")
            i = end + 1
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c)))
        i += 1
    return re.compile("".join(out))


def ignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        raw = line[1:].strip() if keep else line
        raw = raw.strip("/").removeprefix("./")
        rules.append((keep, _pattern(raw)))
    return rules


def excluded(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """As Docker decides: the last rule matching the path or one of its parent folders wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for keep, rx in rules:
        if any(rx.fullmatch(p) for p in prefixes):
            verdict = not keep
    return verdict


def repository_files() -> list[str]:
    """Files git knows (committed or not ignored), relative to the repository."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    return sorted(p for p in out.splitlines() if (REPO / p).is_file())


def build_context() -> list[str]:
    """The files `docker build -f deploy/Dockerfile .` sends from the repository root."""
    rules = ignore_rules((REPO / ".dockerignore").read_text(encoding="utf-8"))
    return [p for p in repository_files() if not excluded(p, rules)]


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, value)

    def all(self, instruction: str) -> list[str]:
        return [v for i, v in self.instructions if i == instruction]


def stages(text: str | None = None) -> list[Stage]:
    """The Dockerfile's stages in order, with global ARG defaults substituted into FROM."""
    text = DOCKERFILE.read_text(encoding="utf-8") if text is None else text
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()), env_replace=False)
    args: dict[str, str] = {}
    result: list[Stage] = []
    for item in parser.structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "COMMENT":
            continue
        if instruction == "ARG" and not result:
            name, _, default = value.partition("=")
            args[name.strip()] = default.strip()
            continue
        if instruction == "FROM":
            words = value.split()
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(result))
            result.append(Stage(name=name, base=base))
            continue
        result[-1].instructions.append((instruction, value))
    return result
