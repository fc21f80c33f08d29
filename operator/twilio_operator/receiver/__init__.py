"""The delivery-data receiver: Twilio status callbacks and Event Streams in, a store, metrics and a page out.

It runs as its own process (`twilio-operator receiver`) and never imports the operator's reconcile side.
"""
