-- Sync with Twilio now: a new value of reconcile-requested-at makes the operator compare the object with
-- Twilio and correct it at once, instead of at its next drift check.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["twilio.operator.dev/reconcile-requested-at"] = os.date("!%Y-%m-%dT%XZ")
return obj
