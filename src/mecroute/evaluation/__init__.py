"""Measuring routing quality on labelled data: the eval-router metrics and the simulator."""
