"""The edge gateway: one MEC site's data plane, deciding with the agents' own functions in-process
on a snapshot of the region's control plane, recording through an on-disk queue."""
