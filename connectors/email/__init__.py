"""Inbound e-mail: Mailgun routes and SendGrid Inbound Parse."""
