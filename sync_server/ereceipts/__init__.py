"""E-receipts: a till receipt sent by e-mail through the notification outbox, with consent."""
