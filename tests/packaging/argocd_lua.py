"""Run Argo CD customizations (health checks, action discovery, actions) in two Lua engines.

* `ArgoLua`: Argo CD's own engine, gopher-lua in Argo CD's sandbox, through the Go harness in argocd_lua/
  (built and cached by scripts/argocd-lua.sh, as `make test` does when Go is installed).
* `lua51`: real Lua 5.1 (lupa) with what Argo CD's sandbox leaves a script: the base and table libraries and
  `require("os")` for os.date and os.time; no string, math, io or debug.

Argo CD runs gopher-lua, a Lua 5.1 that differs in places; a script is right only when both agree.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lupa import lua51

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "scripts" / "argocd-lua.sh"
JsonObj = dict[str, Any]


def harness_path() -> tuple[Path | None, str]:
    """The built harness, or None and why not."""
    result = subprocess.run([str(BUILD), "--print-path"], capture_output=True, text=True, check=False)
    path = Path(result.stdout.strip())
    if result.returncode == 0:
        return path, ""
    return None, f"Argo CD's Lua engine is not built in {path.parent}: run scripts/argocd-lua.sh (needs Go)"


@dataclass
class ArgoLua:
    program: Path

    def run(self, cases: list[JsonObj]) -> list[JsonObj]:
        """Every case in one process: {"mode", "script" or "scripts", "obj"} -> the harness's result."""
        result = subprocess.run(
            [str(self.program)],
            input=json.dumps({"cases": cases}),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        results: list[JsonObj] = json.loads(result.stdout)["results"]
        return results

    def one(self, mode: str, script: str, obj: JsonObj) -> JsonObj:
        (answer,) = self.run([{"mode": mode, "script": script, "obj": obj}])
        assert "error" not in answer, f"Argo CD's Lua engine: {answer['error']}"
        return answer


def lua51_run(script: str, obj: JsonObj) -> Any:
    """Run a script as Argo CD does (a global `obj`, the script's top-level return) in Lua 5.1, with what Argo
    CD's sandbox offers; the result converted back to Python (tables with keys 1..n become lists)."""
    lua = lua51.LuaRuntime(unpack_returned_tuples=True, register_eval=False, register_builtins=False)
    assert lua.eval("_VERSION") == "Lua 5.1"
    env = lua.globals()
    safe_os = lua.eval("{date = os.date, time = os.time}")
    modules = lua.table_from({"os": safe_os})
    env.require = lua.eval("function(modules) return function(name) return modules[name] end end")(modules)
    for absent in ("os", "io", "dofile", "loadfile", "package", "debug", "string", "math"):
        env[absent] = None
    env.obj = lua.table_from(obj, recursive=True)
    return _python(lua.execute(script))


def _python(value: Any) -> Any:
    if lua51.lua_type(value) != "table":
        return value
    items = dict(value.items())
    if items and all(isinstance(k, int) for k in items) and sorted(items) == list(range(1, len(items) + 1)):
        return [_python(items[i]) for i in range(1, len(items) + 1)]
    return {str(k): _python(v) for k, v in items.items()}


def restore_empty(new: Any, old: Any) -> Any:
    """Lua has one empty table for {} and []: take each empty one back as what the original held there, as
    Argo CD does for a returned object (cleanReturnedObj; gopher-json turns every empty table into [])."""
    if isinstance(new, dict) and not new and isinstance(old, list):
        return []
    if isinstance(new, list) and not new and isinstance(old, dict):
        return {}
    if isinstance(new, dict) and isinstance(old, dict):
        return {k: restore_empty(v, old.get(k)) for k, v in new.items()}
    if isinstance(new, list) and isinstance(old, list):
        return [restore_empty(v, old[i] if i < len(old) else None) for i, v in enumerate(new)]
    return new
