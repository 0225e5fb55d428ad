"""Twilio: Programmable Voice, Messaging (SMS/MMS) and TaskRouter / Flex event callbacks."""
