"""WhatsApp Cloud API (Meta): messages and delivery statuses."""
