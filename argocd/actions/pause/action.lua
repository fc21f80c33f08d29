-- Pause: the operator leaves the object alone (Synced=False reason ReconcilePaused; Argo CD: Suspended).
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["twilio.operator.dev/paused"] = "true"
return obj
