"""An emulator of the Twilio REST API: accounts, API keys and Messaging Services, validated against
Twilio's official OpenAPI spec. See ``emulator.TwilioEmulator``."""

from .emulator import TwilioEmulator

__all__ = ["TwilioEmulator"]
