"""Barcode scanners at the till: keyboard-wedge (HID) bursts and serial-port readers."""
