"""A third-party relays plugin used by the kernel's tests."""
