-- Argo CD resource actions for the twilio.operator.dev kinds: which ones a person may run on this object.
-- Each sets or removes an annotation the operator already honours (see argocd/README.md). Argo CD runs this
-- without Lua's string library (argocd-cm customizations get base, table and a safe os only): no string.*.
local annotations = {}
if obj.metadata ~= nil and obj.metadata.annotations ~= nil then
  annotations = obj.metadata.annotations
end
local pausedValue = annotations["twilio.operator.dev/paused"]
-- The spellings the operator reads as "paused" (it ignores case; these are the ones people write).
local paused = false
for _, spelling in ipairs({"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "1"}) do
  if pausedValue == spelling then
    paused = true
  end
end
local deleting = obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil
local busy = paused or deleting

local actions = {}
actions["request-sync"] = {
  ["disabled"] = busy,
  ["displayName"] = "Sync with Twilio now",
  ["iconClass"] = "fa fa-fw fa-sync"
}
actions["pause"] = {
  ["disabled"] = busy,
  ["displayName"] = "Pause (the operator leaves it alone)",
  ["iconClass"] = "fa fa-fw fa-pause-circle"
}
-- Removing the annotation always resumes, whatever it says.
actions["resume"] = {
  ["disabled"] = pausedValue == nil or deleting,
  ["displayName"] = "Resume",
  ["iconClass"] = "fa fa-fw fa-play-circle"
}
if obj.kind == "ApiKey" then
  actions["rotate"] = {
    ["disabled"] = busy,
    ["displayName"] = "Rotate the key now",
    ["iconClass"] = "fa fa-fw fa-key"
  }
end
return actions
