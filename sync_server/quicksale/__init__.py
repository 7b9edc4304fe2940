"""Quick sales from networked scanner stations: look up a scan, sell one line at once."""
