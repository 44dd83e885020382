"""The learned complexity model: how likely a prompt needs more than the MEC-class model."""
