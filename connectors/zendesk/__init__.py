"""Zendesk Support: ticket (and messaging/chat ticket) webhooks."""
