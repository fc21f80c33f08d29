"""Emulators of the Kubernetes API and of the Twilio API, and the demo.

Nothing outside this package may import it: the operator never ships a fake into its own reconcile path.
"""
