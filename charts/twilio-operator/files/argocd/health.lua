-- Argo CD health check for every twilio.operator.dev kind (argocd-cm-patch.yaml lists one key per kind).
--
-- The operator reports two conditions, Ready and Synced, each with the generation it was set for.
--   being deleted                                   Progressing  (the finalizer runs the deletion policy)
--   no conditions yet, or set for an older generation
--                                                   Progressing  (the operator has not acted on this spec)
--   Synced=False ReconcilePaused                    Suspended    (the twilio.operator.dev/paused annotation)
--   Synced=False SubaccountSuspended                Suspended    (a key or service of a Suspended subaccount)
--   Synced=False SinkAwaitingValidation             Suspended    (a Kinesis sink waits for the test id a
--                                                                 person reads from the stream)
--   Synced=False ReconcileError                     Progressing  (transient: Twilio 5xx/429, timeouts; retried)
--   Synced=False UnexpectedResponse                 Progressing  (an answer Twilio should not have given;
--                                                                 nothing changed, retried)
--   Synced=False WaitingForSubaccount               Progressing  (its subaccount exists but is not Ready yet)
--   Synced=False SubaccountNotFound                 Progressing  (waiting for the subaccount to be created)
--   Synced=False IngressNotFound                    Progressing  (waiting for the Ingress to be created)
--   Synced=False, any other reason                  Degraded     (terminal: the spec, Twilio or a person must
--                                                                 change something, e.g. CredentialsRejected,
--                                                                 AdoptionNotAllowed, SubaccountClosed,
--                                                                 NumberInUse, UnknownEventType)
--   Ready=True and Synced=True                      Healthy
--   anything else (Ready=False Creating, ...)       Progressing
-- Transient states must read Progressing, never Degraded: sync waves wait on Progressing, and a Degraded
-- flash while a subaccount is being created would fail the sync.
--
-- Plain Lua 5.1 only (Argo CD runs gopher-lua); tests/packaging/test_argocd_health.py runs it in Lua 5.1.

local TRANSIENT = {
  ReconcileError = true,
  UnexpectedResponse = true,
  IngressNotFound = true,
  WaitingForSubaccount = true,
  SubaccountNotFound = true,
}
local SUSPENDED = { ReconcilePaused = true, SubaccountSuspended = true, SinkAwaitingValidation = true }

local hs = {}

local function condition(ctype)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end

-- A condition speaks for the current spec when it was set for the current generation. Conditions carry
-- their own observedGeneration; status.observedGeneration is the fallback.
local function current(c)
  local generation = obj.metadata.generation
  if c == nil or generation == nil then
    return true
  end
  local observed = c.observedGeneration
  if observed == nil and obj.status ~= nil then
    observed = obj.status.observedGeneration
  end
  return observed ~= nil and observed >= generation
end

local ready = condition("Ready")
local synced = condition("Synced")

if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = describe(ready, "Deleting")
  return hs
end

if ready == nil and synced == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator"
  return hs
end

if synced ~= nil and synced.status == "False" and SUSPENDED[synced.reason] then
  hs.status = "Suspended"
  hs.message = describe(synced)
  return hs
end

if not current(ready) or not current(synced) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to act on generation " .. tostring(obj.metadata.generation)
  return hs
end

if synced ~= nil and synced.status == "False" then
  if TRANSIENT[synced.reason] then
    hs.status = "Progressing"
    -- Ready says what is awaited (WaitingForSubaccount, Creating), Synced why the last pass failed.
    hs.message = describe(synced)
    if ready ~= nil and ready.status == "False" then
      hs.message = describe(ready)
      if ready.message ~= synced.message then
        hs.message = hs.message .. "; " .. describe(synced)
      end
    end
  else
    hs.status = "Degraded"
    hs.message = describe(synced)
  end
  return hs
end

if ready ~= nil and ready.status == "True" and synced ~= nil and synced.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Available")
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "Waiting for the operator")
return hs
