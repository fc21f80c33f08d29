-- Resume: without the paused annotation the operator manages the object again.
if obj.metadata.annotations ~= nil then
  obj.metadata.annotations["twilio.operator.dev/paused"] = nil
end
return obj
