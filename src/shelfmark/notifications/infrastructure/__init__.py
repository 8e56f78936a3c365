"""Notifications adapters: mailers (file, SMTP, SendGrid) and the e-mail templates."""
