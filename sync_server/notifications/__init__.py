"""The notification outbox, its recipients and the dispatcher that delivers it."""
