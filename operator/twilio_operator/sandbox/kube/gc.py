"""Garbage collection (G1-G5), namespace lifecycle (N2) and CRD instance cleanup (R3).

Work items are coalesced in an ordered set and processed soon after the change that caused them. Finding
an object's dependents is a lookup in the store's owner-uid index, never a scan of all objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from .api import CRDS, NAMESPACES, Api
from .crds import CRD_FINALIZER
from .errors import ApiError
from .jsonutil import clone_obj
from .resources import GroupResource, Registry, ResourceType
from .store import Store

JsonObj = dict[str, Any]
WorkItem = tuple[str, str]  # ("dependent" | "owner", uid) or ("namespace" | "crd", name)

logger = logging.getLogger(__name__)

_YIELD_EVERY = 200


class GarbageCollector:
    def __init__(self, store: Store, registry: Registry, api: Api) -> None:
        self._store = store
        self._registry = registry
        self._api = api
        self._pending: dict[WorkItem, None] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        store.listeners.append(self._on_change)

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="kube-emulator-gc")
            if self._pending:
                self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def settle(self, limit: float = 30.0) -> bool:
        """Wait until no work is pending; False when that takes longer than `limit` seconds."""
        try:
            async with asyncio.timeout(limit):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def clear(self) -> None:
        self._pending.clear()
        self._idle.set()

    def enqueue(self, item: WorkItem) -> None:
        self._pending[item] = None
        self._idle.clear()
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            processed = 0
            while self._pending:
                item = next(iter(self._pending))
                del self._pending[item]
                try:
                    self._process(item)
                except ApiError as exc:
                    logger.warning("garbage collection of %s failed: %s", item, exc.message)
                except Exception:  # one bad item must not stop every later deletion in the emulator
                    logger.exception("garbage collection of %s failed", item)
                processed += 1
                if processed % _YIELD_EVERY == 0:
                    # Let requests in between long cascades; they must not wait for a whole namespace.
                    await asyncio.sleep(0)
            self._idle.set()

    # --- triggers ----------------------------------------------------------------------------------

    def _on_change(self, gr: GroupResource, old: JsonObj | None, new: JsonObj | None) -> None:
        if new is not None:
            meta = new["metadata"]
            for ref in meta.get("ownerReferences") or []:
                if self._owner_state(new, ref) != "solid":
                    self.enqueue(("dependent", meta["uid"]))
                    break
            if meta.get("deletionTimestamp"):
                finalizers = meta.get("finalizers") or []
                if "orphan" in finalizers or "foregroundDeletion" in finalizers:
                    self.enqueue(("owner", meta["uid"]))
                if gr == NAMESPACES:
                    self.enqueue(("namespace", meta["name"]))
                elif gr == CRDS:
                    self.enqueue(("crd", meta["name"]))
            return
        if old is None:
            return
        meta = old["metadata"]
        for dependent in self._store.dependents_of(meta["uid"]):
            self.enqueue(("dependent", dependent))
        for ref in meta.get("ownerReferences") or []:
            owner = self._store.get_by_uid(str(ref.get("uid")))
            if owner is not None and "foregroundDeletion" in (owner[1]["metadata"].get("finalizers") or []):
                self.enqueue(("owner", owner[1]["metadata"]["uid"]))
        namespace = meta.get("namespace")
        if namespace and self._store.namespace_count(namespace) == 0:
            ns = self._store.get(NAMESPACES, "", namespace)
            if ns is not None and ns["metadata"].get("deletionTimestamp"):
                self.enqueue(("namespace", namespace))
        rt = self._registry.storage_type(gr)
        if rt is not None and rt.crd_name and self._store.count(gr) == 0:
            crd = self._store.get(CRDS, "", rt.crd_name)
            if crd is not None and crd["metadata"].get("deletionTimestamp"):
                self.enqueue(("crd", rt.crd_name))

    def _owner_state(self, dependent: JsonObj, ref: Any) -> str:
        """Classify an owner reference: solid, dangling (absent or out of scope) or waiting (foreground)."""
        if not isinstance(ref, dict):
            return "dangling"
        key = self._store.locate(str(ref.get("uid")))
        if key is None:
            return "dangling"
        _, owner_namespace, _ = key
        dependent_namespace = dependent["metadata"].get("namespace") or ""
        if owner_namespace and owner_namespace != dependent_namespace:
            return "dangling"
        owner = self._store.get(*key)
        if owner is None:
            return "dangling"
        meta = owner["metadata"]
        if meta.get("deletionTimestamp") and "foregroundDeletion" in (meta.get("finalizers") or []):
            return "waiting"
        return "solid"

    # --- processing --------------------------------------------------------------------------------

    def _process(self, item: WorkItem) -> None:
        kind, key = item
        if kind == "dependent":
            self._attempt_to_delete(key)
        elif kind == "owner":
            self._finish_owner(key)
        elif kind == "namespace":
            self._drain_namespace(key)
        elif kind == "crd":
            self._drain_crd(key)

    def _rt(self, gr: GroupResource) -> ResourceType | None:
        return self._registry.storage_type(gr)

    def _attempt_to_delete(self, uid: str) -> None:
        found = self._store.get_by_uid(uid)
        if found is None:
            return
        gr, obj = found
        rt = self._rt(gr)
        if rt is None:
            return
        refs = [ref for ref in obj["metadata"].get("ownerReferences") or [] if isinstance(ref, dict)]
        if not refs:
            return
        states = [(ref, self._owner_state(obj, ref)) for ref in refs]
        solid = [ref for ref, state in states if state == "solid"]
        waiting = [ref for ref, state in states if state == "waiting"]
        if solid:
            if len(solid) != len(refs):
                self._set_owner_refs(gr, obj, solid)
            return
        if obj["metadata"].get("deletionTimestamp"):
            return
        finalizers = obj["metadata"].get("finalizers") or []
        if waiting and self._store.dependents_of(uid):
            policy = "Foreground"
        elif "orphan" in finalizers:
            policy = "Orphan"
        elif "foregroundDeletion" in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        self._api.delete_object(rt, obj, policy)

    def _set_owner_refs(self, gr: GroupResource, obj: JsonObj, refs: list[JsonObj]) -> None:
        updated = clone_obj(obj)
        if refs:
            updated["metadata"]["ownerReferences"] = refs
        else:
            updated["metadata"].pop("ownerReferences", None)
        self._api.commit(gr, updated, obj)

    def _drop_finalizer(self, gr: GroupResource, obj: JsonObj, finalizer: str) -> None:
        updated = clone_obj(obj)
        remaining = [f for f in updated["metadata"].get("finalizers") or [] if f != finalizer]
        if remaining:
            updated["metadata"]["finalizers"] = remaining
        else:
            updated["metadata"].pop("finalizers", None)
        self._api.commit(gr, updated, obj)

    def _finish_owner(self, uid: str) -> None:
        found = self._store.get_by_uid(uid)
        if found is None:
            return
        gr, owner = found
        meta = owner["metadata"]
        if not meta.get("deletionTimestamp"):
            return
        finalizers = meta.get("finalizers") or []
        if "orphan" in finalizers:
            for dependent_uid in self._store.dependents_of(uid):
                dependent = self._store.get_by_uid(dependent_uid)
                if dependent is not None:
                    dep_gr, dep = dependent
                    refs = [r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
                    self._set_owner_refs(dep_gr, dep, refs)
            current = self._store.get_by_uid(uid)
            if current is not None:
                self._drop_finalizer(gr, current[1], "orphan")
        elif "foregroundDeletion" in finalizers:
            for dependent_uid in self._store.dependents_of(uid):
                self._attempt_to_delete(dependent_uid)
            for dependent_uid in self._store.dependents_of(uid):
                dependent = self._store.get_by_uid(dependent_uid)
                if dependent is None:
                    continue
                for ref in dependent[1]["metadata"].get("ownerReferences") or []:
                    if ref.get("uid") == uid and ref.get("blockOwnerDeletion") is True:
                        return
            current = self._store.get_by_uid(uid)
            if current is not None:
                self._drop_finalizer(gr, current[1], "foregroundDeletion")

    def _drain_namespace(self, name: str) -> None:
        ns = self._store.get(NAMESPACES, "", name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        for rt in self._namespaced_types():
            for obj in list(self._store.items(rt.gr, name)):
                if not obj["metadata"].get("deletionTimestamp"):
                    self._api.delete_object(rt, obj, "Background")
        if self._store.namespace_count(name) == 0:
            current = self._store.get(NAMESPACES, "", name)
            if current is None:
                return
            finalized = clone_obj(current)
            spec = finalized.get("spec") or {}
            spec = {k: v for k, v in spec.items() if k != "finalizers"}
            finalized["spec"] = spec
            self._api.commit(NAMESPACES, finalized, current)
            logger.debug("namespace %s finalized", name)

    def _namespaced_types(self) -> list[ResourceType]:
        seen: dict[GroupResource, ResourceType] = {}
        for rt in self._registry:
            if rt.namespaced and rt.gr not in seen:
                owner = self._registry.storage_type(rt.gr)
                if owner is not None:
                    seen[rt.gr] = owner
        return list(seen.values())

    def _drain_crd(self, name: str) -> None:
        crd = self._store.get(CRDS, "", name)
        if crd is None or not crd["metadata"].get("deletionTimestamp"):
            return
        spec = crd.get("spec") or {}
        gr = GroupResource(str(spec.get("group")), str((spec.get("names") or {}).get("plural")))
        rt = self._rt(gr)
        if rt is not None:
            for obj in list(self._store.items(gr)):
                if not obj["metadata"].get("deletionTimestamp"):
                    self._api.delete_object(rt, obj, "Background")
        if self._store.count(gr) == 0 and CRD_FINALIZER in (crd["metadata"].get("finalizers") or []):
            current = self._store.get(CRDS, "", name)
            if current is not None:
                self._drop_finalizer(CRDS, current, CRD_FINALIZER)
