"""What every Lambda handler shares: validated settings, observability, adapters."""
