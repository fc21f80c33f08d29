"""What Twilio holds, seen through the official SDK and the emulator's control endpoints (shared with the
chaos harness)."""

from __future__ import annotations

from chaos.control import TwilioSide

__all__ = ["TwilioSide"]
