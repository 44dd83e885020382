"""mecroute: route AI inference requests across device, MEC and cloud tiers."""

__version__ = "0.1.0"
