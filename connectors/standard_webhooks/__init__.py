"""Standard Webhooks: contacts and interactions from any tool that signs that way."""
