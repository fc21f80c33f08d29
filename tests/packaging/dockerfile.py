"""A small Dockerfile reader: instructions grouped by stage, enough for the packaging tests."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON (exec) form of ENTRYPOINT/CMD; shell form is refused, it breaks signal handling."""
        value = json.loads(self.args)
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValueError(f"{self.keyword} is not in exec form: {self.args}")
        return value


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        if not found:
            raise LookupError(f"stage {self.name or self.image} has no {keyword}")
        return found[-1]

    def env(self) -> dict[str, str]:
        """ENV values in the `KEY=VALUE ...` form, later ones winning (no variable expansion)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for pair in shlex.split(instruction.args):
                key, sep, value = pair.partition("=")
                if not sep:
                    raise ValueError(f"use ENV KEY=VALUE, not the legacy form: ENV {instruction.args}")
                values[key] = value
        return values

    def labels(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("LABEL"):
            for pair in shlex.split(instruction.args):
                key, _, value = pair.partition("=")
                values[key] = value
        return values


def logical_lines(text: str) -> list[str]:
    """Physical lines joined at trailing backslashes; comment lines inside a continuation are dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1].rstrip() + " "
            continue
        current += stripped
        if current:
            lines.append(current)
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def parse(path: Path) -> list[Stage]:
    stages: list[Stage] = []
    for line in logical_lines(path.read_text()):
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], name=name))
        elif keyword == "ARG" and not stages:
            continue  # global ARGs before the first FROM
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, args))
        else:
            raise ValueError(f"{keyword} before the first FROM")
    return stages
