-- Rotate the key now: a new value of rotate-requested-at replaces the key; the old one stays valid for the
-- rotation's grace period. os comes from require: Argo CD's sandbox has no global os.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["twilio.operator.dev/rotate-requested-at"] = os.date("!%Y-%m-%dT%XZ")
return obj
